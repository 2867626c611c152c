/**
 * A guard around amqplib's frame decoding for message headers that would kill the connection.
 *
 * amqplib (2.3) decodes every field type RabbitMQ lets through (RabbitMQ itself closes a publisher
 * that sends an unknown type tag, with 541 INTERNAL_ERROR), so no decoder of our own is needed.
 * But it decodes nested tables recursively without a bound: a header table nested some 9,000
 * deep (it fits in 64 KiB, and RabbitMQ passes it through untouched) throws "Maximum call stack
 * size exceeded" inside amqplib's frame loop, which closes the whole connection. The message is
 * then redelivered to the next connection, which dies the same way: one message stops a worker.
 *
 * When decoding a content-header frame throws, the guard rewrites that frame's headers table as
 * `{ [UNDECODABLE_HEADERS]: reason }` and lets amqplib decode it again; the consumer then rejects
 * the message (dead-lettered where the queue has a dead-letter exchange) with one log line.
 */

/** The header the guard puts in place of a table amqplib could not decode. */
export const UNDECODABLE_HEADERS = 'x-celeriac-undecodable-headers';

/** The part of amqplib's Connection the guard wraps (not in its public types). */
interface FrameReader {
  rest: Buffer;
  recvFrame(): unknown;
}

const FRAME_HEADER = 2;
const FRAME_END = 0xce;
/** Type (1), channel (2), size (4). */
const FRAME_PREFIX = 7;
/** Class id (2), weight (2), body size (8), then the property flags (2). */
const FLAGS_AT = 12;
const HAS_CONTENT_TYPE = 0x8000;
const HAS_CONTENT_ENCODING = 0x4000;
const HAS_HEADERS = 0x2000;
const guarded = new WeakSet<object>();

/** Installs the guard on the connection inside an amqplib ChannelModel (idempotent). */
export function guardHeaderDecoding(model: unknown): void {
  const conn = (model as { connection?: FrameReader }).connection;
  if (!conn || typeof conn.recvFrame !== 'function' || guarded.has(conn)) return;
  guarded.add(conn);
  const original = conn.recvFrame;
  // amqplib reads more input by calling this.recvFrame() again, so the innermost call is the
  // one whose buffer holds the whole failing frame.
  conn.recvFrame = function recvFrame(this: FrameReader): unknown {
    const before = this.rest;
    try {
      return original.call(this);
    } catch (err) {
      const rewritten = withPlaceholderHeaders(before, (err as Error).message);
      if (!rewritten) throw err;
      this.rest = rewritten;
      return original.call(this);
    }
  };
}

/**
 * `buffer` with its first frame's headers table replaced by a one-entry table naming `reason`,
 * or undefined when that frame is not a whole content-header frame with headers.
 */
export function withPlaceholderHeaders(buffer: Buffer, reason: string): Buffer | undefined {
  if (buffer.length < FRAME_PREFIX + FLAGS_AT + 2 || buffer[0] !== FRAME_HEADER) return undefined;
  const size = buffer.readUInt32BE(3);
  const end = FRAME_PREFIX + size;
  if (buffer.length < end + 1 || buffer[end] !== FRAME_END) return undefined;
  const payload = buffer.subarray(FRAME_PREFIX, end);
  const flags = payload.readUInt16BE(FLAGS_AT);
  if (!(flags & HAS_HEADERS)) return undefined;
  let at = FLAGS_AT + 2;
  if (flags & HAS_CONTENT_TYPE) at += 1 + payload[at]!;
  if (flags & HAS_CONTENT_ENCODING) at += 1 + payload[at]!;
  if (at + 4 > payload.length) return undefined;
  const tableEnd = at + 4 + payload.readUInt32BE(at);
  if (tableEnd > payload.length) return undefined;
  const newPayload = Buffer.concat([payload.subarray(0, at), placeholderTable(reason), payload.subarray(tableEnd)]);
  const prefix = Buffer.alloc(FRAME_PREFIX);
  buffer.copy(prefix, 0, 0, 3);
  prefix.writeUInt32BE(newPayload.length, 3);
  return Buffer.concat([prefix, newPayload, Buffer.from([FRAME_END]), buffer.subarray(end + 1)]);
}

/** An AMQP field table `{ UNDECODABLE_HEADERS: reason }` with its length prefix. */
function placeholderTable(reason: string): Buffer {
  const key = Buffer.from(UNDECODABLE_HEADERS);
  const value = Buffer.from(reason.slice(0, 200));
  const entries = Buffer.concat([Buffer.from([key.length]), key, Buffer.from('S'), u32(value.length), value]);
  return Buffer.concat([u32(entries.length), entries]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
