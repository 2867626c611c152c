/**
 * A pickle writer (protocol 4, read by Python 3.4 and later) for the values a task result holds,
 * so that Python Celery reads what celeriac stores in a `PickleType` column:
 *
 * | JS                                   | Python                                     |
 * |--------------------------------------|--------------------------------------------|
 * | `null`, `undefined`                  | `None`                                     |
 * | `boolean`, `string`                  | `bool`, `str`                              |
 * | integer `number` within ±(2^53 − 1)  | `int`                                      |
 * | other `number` (incl. `-0`, NaN, ±Infinity) | `float`                             |
 * | `bigint`                             | `int` (exact, any size)                    |
 * | array                                | `list`                                     |
 * | plain object                         | `dict` (keys with `undefined` values left out, as JSON does) |
 * | `Date`                               | naive `datetime.datetime` in UTC (as Celery's own dates) |
 * | `Buffer` / `Uint8Array`              | `bytes`                                    |
 * | {@link PyCall}                       | `module.name(*args)` (Celery's result classes) |
 * | object with `toJSON()`               | what `toJSON()` returns                    |
 *
 * Anything else (a `Map`, `Set`, function, symbol, class instance, cycle) is an {@link EncodeError}
 * naming where in the value it was, rather than something Python would read differently.
 */
import { EncodeError } from '../../errors/index.js';

/** A call Python runs when it reads the pickle: `module.name(*args)`. Used for Celery's result classes. */
export class PyCall {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly args: readonly unknown[],
  ) {}
}

const MAX_DEPTH = 200;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
/** Items per APPENDS / SETITEMS batch, as Python writes them. */
const BATCH = 1000;

/** One growing buffer: opcodes and their arguments appended in place. */
class Writer {
  private buf = Buffer.allocUnsafe(256);
  private pos = 0;

  /** Makes room for `n` more bytes. */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  op(code: number): void {
    this.room(1);
    this.buf[this.pos++] = code;
  }

  /** An opcode and a little-endian argument of `size` bytes (1, 2 or 4; signed when `signed`). */
  opInt(code: number, v: number, size: 1 | 2 | 4, signed = false): void {
    this.room(1 + size);
    this.buf[this.pos++] = code;
    this.pos = signed ? this.buf.writeIntLE(v, this.pos, size) : this.buf.writeUIntLE(v, this.pos, size);
  }

  opF64(code: number, v: number): void {
    this.room(9);
    this.buf[this.pos++] = code;
    this.pos = this.buf.writeDoubleBE(v, this.pos);
  }

  opU64(code: number, v: number): void {
    this.room(9);
    this.buf[this.pos++] = code;
    this.pos = this.buf.writeBigUInt64LE(BigInt(v), this.pos);
  }

  raw(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** A str: SHORT_BINUNICODE, BINUNICODE or BINUNICODE8, encoded straight into the buffer. */
  string(s: string): void {
    // At most 3 UTF-8 bytes per UTF-16 unit.
    if (s.length <= 85) {
      this.room(2 + s.length * 3);
      // ASCII (most keys and names) copied in JS: cheaper than a call into Buffer's encoder.
      let n = 0;
      const at = this.pos + 2;
      for (; n < s.length; n++) {
        const c = s.charCodeAt(n);
        if (c >= 0x80) break;
        this.buf[at + n] = c;
      }
      if (n < s.length) n = this.buf.write(s, at, 'utf8');
      this.buf[this.pos] = 0x8c;
      this.buf[this.pos + 1] = n;
      this.pos += 2 + n;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    if (n <= 0xffffffff) this.opInt(0x58, n, 4);
    else this.opU64(0x8d, n);
    this.room(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  done(): Buffer {
    // A copy, so a small result does not keep a large buffer alive.
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

/** Python's two's-complement little-endian bytes of an int (LONG1 / LONG4), shortest form. */
function longBytes(n: bigint): Buffer {
  if (n === 0n) return Buffer.alloc(0);
  const out: number[] = [];
  let v = n;
  for (;;) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
    const last = out[out.length - 1]!;
    if ((v === 0n && !(last & 0x80)) || (v === -1n && last & 0x80)) break;
  }
  return Buffer.from(out);
}

function writeInt(w: Writer, n: number | bigint): void {
  if (typeof n === 'number' && n >= 0 && n <= 0xff) w.opInt(0x4b, n, 1); // BININT1
  else if (typeof n === 'number' && n >= 0 && n <= 0xffff) w.opInt(0x4d, n, 2); // BININT2
  else if (typeof n === 'number' && n >= INT32_MIN && n <= INT32_MAX) w.opInt(0x4a, n, 4, true); // BININT
  else {
    const bytes = longBytes(BigInt(n));
    if (bytes.length < 256) w.opInt(0x8a, bytes.length, 1); // LONG1
    else w.opInt(0x8b, bytes.length, 4, true); // LONG4
    w.raw(bytes);
  }
}

function writeString(w: Writer, s: string): void {
  w.string(s);
}

function writeBytes(w: Writer, bytes: Uint8Array): void {
  if (bytes.length < 256) w.opInt(0x43, bytes.length, 1); // SHORT_BINBYTES
  else if (bytes.length <= 0xffffffff) w.opInt(0x42, bytes.length, 4); // BINBYTES
  else w.opU64(0x8e, bytes.length); // BINBYTES8
  w.raw(bytes);
}

function writeGlobal(w: Writer, module: string, name: string): void {
  writeString(w, module);
  writeString(w, name);
  w.op(0x93); // STACK_GLOBAL
}

/** A naive UTC `datetime.datetime`: Python's 10-byte state, through REDUCE. */
function writeDate(w: Writer, d: Date, ctx: Context): void {
  const t = d.getTime();
  if (!Number.isFinite(t)) throw new EncodeError(`cannot pickle an invalid Date at ${where(ctx)}`);
  const year = d.getUTCFullYear();
  if (year < 1 || year > 9999) throw new EncodeError(`cannot pickle a Date outside Python's years 1-9999 at ${where(ctx)}`);
  const us = d.getUTCMilliseconds() * 1000;
  writeGlobal(w, 'datetime', 'datetime');
  writeBytes(w, Uint8Array.of(year >> 8, year & 0xff, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), us >> 16, (us >> 8) & 0xff, us & 0xff));
  w.op(0x85); // TUPLE1
  w.op(0x52); // REDUCE
}

function kind(value: object): string {
  const ctor = (value as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === 'string' && ctor.name ? ctor.name : 'object';
}

/** The objects being written (cycle check) and the keys leading to the current value (for errors). */
interface Context {
  seen: Set<object>;
  path: Array<string | number>;
}

function where(ctx: Context): string {
  return ctx.path.reduce<string>((out, k) => (typeof k === 'number' ? `${out}[${k}]` : `${out}.${k}`), 'value');
}

function writeChild(w: Writer, value: unknown, ctx: Context, key: string | number): void {
  ctx.path.push(key);
  writeValue(w, value, ctx);
  ctx.path.pop();
}

function writeValue(w: Writer, value: unknown, ctx: Context): void {
  switch (typeof value) {
    case 'undefined':
      w.op(0x4e); // NONE
      return;
    case 'boolean':
      w.op(value ? 0x88 : 0x89); // NEWTRUE / NEWFALSE
      return;
    case 'string':
      writeString(w, value);
      return;
    case 'bigint':
      writeInt(w, value);
      return;
    case 'number':
      if (Number.isSafeInteger(value) && !Object.is(value, -0)) writeInt(w, value);
      else w.opF64(0x47, value); // BINFLOAT
      return;
    case 'object':
      break;
    default:
      throw new EncodeError(`cannot pickle a ${typeof value} at ${where(ctx)}: only data (objects, arrays, strings, numbers, booleans, null, dates, bytes) is stored`);
  }
  if (value === null) {
    w.op(0x4e);
    return;
  }
  if (value instanceof Date) return writeDate(w, value, ctx);
  if (value instanceof Uint8Array) return writeBytes(w, value);
  const seen = ctx.seen;
  if (seen.has(value) || seen.size > MAX_DEPTH) throw new EncodeError(`cannot pickle a circular or too deeply nested value at ${where(ctx)}`);
  seen.add(value);
  try {
    if (value instanceof PyCall) {
      writeGlobal(w, value.module, value.name);
      w.op(0x28); // MARK
      value.args.forEach((v, i) => writeChild(w, v, ctx, i));
      w.op(0x74); // TUPLE
      w.op(0x52); // REDUCE
      return;
    }
    if (Array.isArray(value)) {
      w.op(0x5d); // EMPTY_LIST
      for (let i = 0; i < value.length; i += BATCH) {
        w.op(0x28); // MARK
        for (let j = i; j < Math.min(i + BATCH, value.length); j++) writeChild(w, value[j], ctx, j);
        w.op(0x65); // APPENDS
      }
      return;
    }
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return writeValue(w, (toJSON as () => unknown).call(value), ctx);
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new EncodeError(`cannot pickle a ${kind(value)} at ${where(ctx)}: only plain objects and arrays are stored (convert it to one first)`);
    }
    const record = value as Record<string, unknown>;
    w.op(0x7d); // EMPTY_DICT
    let batch = 0;
    for (const k of Object.keys(record)) {
      const v = record[k];
      if (v === undefined) continue;
      if (batch === 0) w.op(0x28); // MARK
      w.string(k);
      writeChild(w, v, ctx, k);
      if (++batch === BATCH) {
        w.op(0x75); // SETITEMS
        batch = 0;
      }
    }
    if (batch > 0) w.op(0x75);
  } finally {
    seen.delete(value);
  }
}

/** Pickles `value` (mapping above). Throws {@link EncodeError} naming the part that has no Python equivalent. */
export function pickle(value: unknown): Buffer {
  const w = new Writer();
  w.opInt(0x80, 4, 1); // PROTO 4
  writeValue(w, value, { seen: new Set(), path: [] });
  w.op(0x2e); // STOP
  return w.done();
}
