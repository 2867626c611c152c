/**
 * The held set shared between a consumer's thread and its lease thread, in shared memory, so that
 * holding and releasing a message costs a few memory writes instead of a message to the thread
 * (posting to a thread wakes it up: on a busy worker that cost more than the task itself).
 *
 * The table is a list of chunks, each a SharedArrayBuffer of `SLOTS` slots; a slot holds one id
 * of at most `MAX_ID_BYTES` ASCII bytes and a generation counter, odd while held. Only the
 * owning thread writes. It fills a slot while the slot is free (even) and then publishes it with
 * an atomic increment; the reader takes an id only if the generation is odd and unchanged across
 * its read, so it never sees half an id. Ids that do not fit (longer, or not ASCII) are the
 * caller's to carry some other way ({@link HeldTableWriter.hold} returns false).
 */

/** Slots per chunk. */
const SLOTS = 2048;
/** Longest id a slot takes (Redis delivery tags are 36-character UUIDs). */
export const MAX_ID_BYTES = 120;
/** Bytes of a chunk: the generations (Int32), the lengths (Int32), then the id bytes. */
const CHUNK_BYTES = SLOTS * 8 + SLOTS * MAX_ID_BYTES;

const ASCII = /^[\x00-\x7f]*$/;

/** Views of one chunk. */
interface Chunk {
  generations: Int32Array;
  lengths: Int32Array;
  bytes: Buffer;
}

function viewsOf(buffer: SharedArrayBuffer): Chunk {
  return {
    generations: new Int32Array(buffer, 0, SLOTS),
    lengths: new Int32Array(buffer, SLOTS * 4, SLOTS),
    bytes: Buffer.from(buffer, SLOTS * 8, SLOTS * MAX_ID_BYTES),
  };
}

/** The owning side: holds and releases ids. */
export class HeldTableWriter {
  private readonly chunks: Chunk[] = [];
  /** Slot numbers (chunk * SLOTS + slot) of the held ids. */
  private readonly slots = new Map<string, number>();
  private readonly free: number[] = [];

  /** @param onChunk Called with every new chunk; the reader must be given it. */
  constructor(private readonly onChunk: (buffer: SharedArrayBuffer) => void) {}

  /** How many ids are held here. */
  get size(): number {
    return this.slots.size;
  }

  /** Holds `id`; false when it does not fit a slot (the caller carries it otherwise). */
  hold(id: string): boolean {
    if (this.slots.has(id)) return true;
    const length = id.length;
    if (length > MAX_ID_BYTES || !ASCII.test(id)) return false;
    const n = this.free.pop() ?? this.grow();
    const chunk = this.chunks[(n / SLOTS) | 0]!;
    const slot = n % SLOTS;
    chunk.bytes.write(id, slot * MAX_ID_BYTES, length, 'latin1');
    chunk.lengths[slot] = length;
    Atomics.add(chunk.generations, slot, 1); // even (free) to odd (held): the id is visible
    this.slots.set(id, n);
    return true;
  }

  /** Releases `id`; false when it was not held here. */
  release(id: string): boolean {
    const n = this.slots.get(id);
    if (n === undefined) return false;
    this.slots.delete(id);
    Atomics.add(this.chunks[(n / SLOTS) | 0]!.generations, n % SLOTS, 1); // odd to even: free
    this.free.push(n);
    return true;
  }

  private grow(): number {
    const buffer = new SharedArrayBuffer(CHUNK_BYTES);
    this.chunks.push(viewsOf(buffer));
    this.onChunk(buffer);
    const base = (this.chunks.length - 1) * SLOTS;
    // Hand out low slots first: pop() takes from the end.
    for (let i = SLOTS - 1; i > 0; i--) this.free.push(base + i);
    return base;
  }
}

/** The reading side (the lease thread). */
export class HeldTableReader {
  private readonly chunks: Chunk[] = [];

  /** Adds a chunk the writer made (in the writer's order). */
  addChunk(buffer: SharedArrayBuffer): void {
    this.chunks.push(viewsOf(buffer));
  }

  /** The ids held now, each read consistently. */
  read(into: string[] = []): string[] {
    for (const chunk of this.chunks) {
      for (let slot = 0; slot < SLOTS; slot++) {
        const before = Atomics.load(chunk.generations, slot);
        if ((before & 1) === 0) continue;
        const at = slot * MAX_ID_BYTES;
        const id = chunk.bytes.toString('latin1', at, at + Math.min(chunk.lengths[slot]!, MAX_ID_BYTES));
        if (Atomics.load(chunk.generations, slot) === before) into.push(id);
      }
    }
    return into;
  }
}
