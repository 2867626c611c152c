/**
 * The revoked task ids a process knows, with the time each was revoked: the shape Celery's
 * workers exchange (its `LimitedSet`): `hello` (mingle) sends and answers the set as a mapping of
 * id to a float Unix timestamp, so a celeriac worker learns what Python workers revoked and the
 * reverse. Bounded like Celery's: at most {@link REVOKES_MAX} ids, each kept
 * {@link REVOKE_EXPIRES_S} seconds.
 *
 * Glossary: "terminate" marks an id whose revoke asked to stop the task if it runs; a worker
 * checks the mark when a task begins, so a terminate that arrived before the task was seen
 * running is never lost.
 */

/** Most ids kept (Celery's `REVOKES_MAX`). */
export const REVOKES_MAX = 50_000;
/** Seconds an id is kept (Celery's `REVOKE_EXPIRES`). */
export const REVOKE_EXPIRES_S = 10_800;

interface Entry {
  /** Unix time, seconds. */
  at: number;
  /** The signal a terminate asked for, if one did. */
  terminate: NodeJS.Signals | undefined;
}

/** Revoked task ids with their revoke times; iterates over the ids, oldest first. */
export class RevokedSet implements Iterable<string> {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxlen = REVOKES_MAX,
    private readonly expiresS = REVOKE_EXPIRES_S,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {}

  /** Adds an id (revoked at `at`, Unix seconds; now by default). Returns true when it was not known. */
  add(id: string, at: number = this.now()): boolean {
    const known = this.entries.get(id);
    if (known) {
      known.at = Math.max(known.at, at);
      return false;
    }
    this.entries.set(id, { at, terminate: undefined });
    this.trim();
    return true;
  }

  /** Marks an id for termination with `signal` (adding it). Returns true when it was not marked yet. */
  markTerminate(id: string, signal: NodeJS.Signals): boolean {
    this.add(id);
    const entry = this.entries.get(id)!;
    const fresh = entry.terminate === undefined;
    entry.terminate = signal;
    return fresh;
  }

  /** The signal a terminate asked for, when the id was revoked with terminate. */
  terminateSignal(id: string): NodeJS.Signals | undefined {
    return this.entries.get(id)?.terminate;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get size(): number {
    return this.entries.size;
  }

  [Symbol.iterator](): Iterator<string> {
    return this.entries.keys();
  }

  /**
   * Merges ids sent by another node: Celery's mapping of id to timestamp (Celery 5.2 sends each as
   * a `[timestamp, id]` pair, accepted too), or a plain list of ids
   * (older celeriac). Entries of any other shape are skipped. Returns how many ids were new.
   */
  update(source: unknown): number {
    let learned = 0;
    if (Array.isArray(source)) {
      for (const id of source) if (typeof id === 'string' && this.add(id)) learned++;
    } else if (source !== null && typeof source === 'object') {
      for (const [id, value] of Object.entries(source as Record<string, unknown>)) {
        const at = Array.isArray(value) ? value[0] : value;
        if (typeof at === 'number' && Number.isFinite(at) && this.add(id, this.localTime(at))) learned++;
      }
    }
    this.purge();
    return learned;
  }

  /**
   * A revoke time from another node, as a time of ours. Celery stamps its entries with its host's
   * monotonic clock (seconds since boot, meaningless here), so a time that is not a plausible Unix
   * time of the last expiry period counts as now.
   */
  private localTime(at: number): number {
    const now = this.now();
    return at >= now - this.expiresS && at <= now + 60 ? at : now;
  }

  /**
   * The set as Celery sends it: id to Unix time. Every time has a fractional part, so it crosses
   * JSON as a float (Celery refuses an integer timestamp).
   */
  toMapping(): Record<string, number> {
    this.purge();
    const out: Record<string, number> = {};
    for (const [id, { at }] of this.entries) out[id] = Number.isInteger(at) ? at + 0.001 : at;
    return out;
  }

  /** Cheap upkeep on every add: drops the oldest entries while expired or over the size limit. */
  private trim(): void {
    const oldest = this.now() - this.expiresS;
    for (const [id, { at }] of this.entries) {
      if (this.entries.size <= this.maxlen && at >= oldest) return;
      this.entries.delete(id);
    }
  }

  /** Drops every id past its expiry, then the oldest beyond the size limit. */
  private purge(): void {
    const oldest = this.now() - this.expiresS;
    for (const [id, { at }] of this.entries) if (at < oldest) this.entries.delete(id);
    while (this.entries.size > this.maxlen) this.entries.delete(this.entries.keys().next().value as string);
  }
}
