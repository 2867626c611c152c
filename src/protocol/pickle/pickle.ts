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

class Writer {
  private chunks: Buffer[] = [];
  private buf = Buffer.allocUnsafe(256);
  private pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.chunks.push(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(Math.max(256, n));
    this.pos = 0;
  }

  op(code: number): void {
    this.room(1);
    this.buf[this.pos++] = code;
  }

  opU8(code: number, v: number): void {
    this.room(2);
    this.buf[this.pos++] = code;
    this.buf[this.pos++] = v;
  }

  opU32(code: number, v: number): void {
    this.room(5);
    this.buf[this.pos++] = code;
    this.pos = this.buf.writeUInt32LE(v, this.pos);
  }

  opI32(code: number, v: number): void {
    this.room(5);
    this.buf[this.pos++] = code;
    this.pos = this.buf.writeInt32LE(v, this.pos);
  }

  opU16(code: number, v: number): void {
    this.room(3);
    this.buf[this.pos++] = code;
    this.pos = this.buf.writeUInt16LE(v, this.pos);
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
    if (bytes.length > 4096) {
      this.chunks.push(this.buf.subarray(0, this.pos), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      this.buf = Buffer.allocUnsafe(256);
      this.pos = 0;
      return;
    }
    this.room(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  done(): Buffer {
    return Buffer.concat([...this.chunks, this.buf.subarray(0, this.pos)]);
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
  if (typeof n === 'number' && n >= 0 && n <= 0xff) w.opU8(0x4b, n); // BININT1
  else if (typeof n === 'number' && n >= 0 && n <= 0xffff) w.opU16(0x4d, n); // BININT2
  else if (typeof n === 'number' && n >= INT32_MIN && n <= INT32_MAX) w.opI32(0x4a, n); // BININT
  else {
    const bytes = longBytes(BigInt(n));
    if (bytes.length < 256) w.opU8(0x8a, bytes.length); // LONG1
    else w.opI32(0x8b, bytes.length); // LONG4
    w.raw(bytes);
  }
}

function writeString(w: Writer, s: string): void {
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length < 256) w.opU8(0x8c, bytes.length); // SHORT_BINUNICODE
  else if (bytes.length <= 0xffffffff) w.opU32(0x58, bytes.length); // BINUNICODE
  else w.opU64(0x8d, bytes.length); // BINUNICODE8
  w.raw(bytes);
}

function writeBytes(w: Writer, bytes: Uint8Array): void {
  if (bytes.length < 256) w.opU8(0x43, bytes.length); // SHORT_BINBYTES
  else if (bytes.length <= 0xffffffff) w.opU32(0x42, bytes.length); // BINBYTES
  else w.opU64(0x8e, bytes.length); // BINBYTES8
  w.raw(bytes);
}

function writeGlobal(w: Writer, module: string, name: string): void {
  writeString(w, module);
  writeString(w, name);
  w.op(0x93); // STACK_GLOBAL
}

/** A naive UTC `datetime.datetime`: Python's 10-byte state, through REDUCE. */
function writeDate(w: Writer, d: Date, path: string): void {
  const t = d.getTime();
  if (!Number.isFinite(t)) throw new EncodeError(`cannot pickle an invalid Date at ${path}`);
  const year = d.getUTCFullYear();
  if (year < 1 || year > 9999) throw new EncodeError(`cannot pickle a Date outside Python's years 1-9999 at ${path}`);
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

function writeValue(w: Writer, value: unknown, path: string, seen: Set<object>): void {
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
      throw new EncodeError(`cannot pickle a ${typeof value} at ${path}: only data (objects, arrays, strings, numbers, booleans, null, dates, bytes) is stored`);
  }
  if (value === null) {
    w.op(0x4e);
    return;
  }
  if (value instanceof Date) return writeDate(w, value, path);
  if (value instanceof Uint8Array) return writeBytes(w, value);
  if (seen.has(value) || seen.size > MAX_DEPTH) throw new EncodeError(`cannot pickle a circular or too deeply nested value at ${path}`);
  seen.add(value);
  try {
    if (value instanceof PyCall) {
      writeGlobal(w, value.module, value.name);
      w.op(0x28); // MARK
      value.args.forEach((v, i) => writeValue(w, v, `${path}(${i})`, seen));
      w.op(0x74); // TUPLE
      w.op(0x52); // REDUCE
      return;
    }
    if (Array.isArray(value)) {
      w.op(0x5d); // EMPTY_LIST
      for (let i = 0; i < value.length; i += BATCH) {
        w.op(0x28); // MARK
        for (let j = i; j < Math.min(i + BATCH, value.length); j++) writeValue(w, value[j], `${path}[${j}]`, seen);
        w.op(0x65); // APPENDS
      }
      return;
    }
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return writeValue(w, (toJSON as () => unknown).call(value), path, seen);
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new EncodeError(`cannot pickle a ${kind(value)} at ${path}: only plain objects and arrays are stored (convert it to one first)`);
    }
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    w.op(0x7d); // EMPTY_DICT
    for (let i = 0; i < entries.length; i += BATCH) {
      w.op(0x28); // MARK
      for (const [k, v] of entries.slice(i, i + BATCH)) {
        writeString(w, k);
        writeValue(w, v, `${path}.${k}`, seen);
      }
      w.op(0x75); // SETITEMS
    }
  } finally {
    seen.delete(value);
  }
}

/** Pickles `value` (mapping above). Throws {@link EncodeError} naming the part that has no Python equivalent. */
export function pickle(value: unknown): Buffer {
  const w = new Writer();
  w.opU8(0x80, 4); // PROTO 4
  writeValue(w, value, 'value', new Set());
  w.op(0x2e); // STOP
  return w.done();
}
