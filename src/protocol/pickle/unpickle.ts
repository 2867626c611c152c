/**
 * A pickle reader that only builds data: Python's pickle protocols 0 to 5, for the values Celery's
 * database result backend stores (its `result` column is a SQLAlchemy `PickleType`).
 *
 * Glossary:
 * - *opcode*: one instruction of the pickle virtual machine. Only the opcodes that push or combine
 *   plain values are run; any other (BUILD, INST, OBJ, NEWOBJ, PERSID, EXT*, out-of-band buffers)
 *   is refused with a {@link DecodeError} naming it.
 * - *global*: a `module.name` a pickle refers to (GLOBAL, STACK_GLOBAL). Python would import it and
 *   call it; here a global is only a key into a fixed table of data builders
 *   (src/protocol/pickle/globals.ts). Nothing is imported, called or evaluated, and a global not in the
 *   table (`os.system`, `builtins.eval`, an exception class) is refused.
 *
 * What comes out:
 *
 * | Python                         | JS                                                   |
 * |--------------------------------|------------------------------------------------------|
 * | `None`, `bool`, `str`          | `null`, `boolean`, `string`                          |
 * | `int`                          | `number` within ±(2^53 − 1), else `bigint` (exact)    |
 * | `float`                        | `number` (`-0.0`, `nan`, `inf` kept)                 |
 * | `list`, `tuple`, `set`, `frozenset` | array                                           |
 * | `dict`, `OrderedDict`          | plain object; int, float, bool and None keys as strings, as `json` writes them |
 * | `bytes`, `bytearray`           | `Buffer`                                             |
 * | `datetime.datetime`            | `Date` (naive values read as UTC; microseconds cut to milliseconds) |
 * | `datetime.date`                | `Date` at UTC midnight                               |
 * | `datetime.timedelta`           | seconds (`number`)                                   |
 * | `celery.result.AsyncResult` / `GroupResult` | Celery's tuple form (`[[id, parent], children]`) |
 */
import { DecodeError } from '../../errors/index.js';
import { PickleGlobal, asData, isTuple, pickleGlobal, tuple } from './globals.js';

const MARK = Symbol('mark');
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** Opcodes refused by name, so the error says what the pickle tried to do. */
const REFUSED: Record<number, string> = {
  0x62: 'BUILD', 0x69: 'INST', 0x6f: 'OBJ', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX',
  0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

function int(value: bigint): number | bigint {
  return value <= SAFE_MAX && value >= -SAFE_MAX ? Number(value) : value;
}

/** A little-endian two's-complement integer (LONG1, LONG4). */
function longFromBytes(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) n -= 1n << BigInt(bytes.length * 8);
  return int(n);
}

/** A text integer (INT, LONG of protocol 0). */
function textInt(line: string, allowBool: boolean): number | bigint | boolean {
  if (allowBool && line === '01') return true;
  if (allowBool && line === '00') return false;
  const digits = line.endsWith('L') ? line.slice(0, -1) : line;
  if (!/^[+-]?\d+$/.test(digits)) throw new DecodeError(`pickle: bad integer literal ${JSON.stringify(line)}`);
  return int(BigInt(digits));
}

/** A Python 2 `str` literal of STRING: quoted, with backslash escapes. */
function quotedString(line: string): string {
  const q = line[0];
  if ((q !== "'" && q !== '"') || line.length < 2 || line[line.length - 1] !== q) {
    throw new DecodeError('pickle: STRING opcode argument is not quoted');
  }
  return line.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|[\\'"nrt])/g, (_m, e: string) =>
    e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) : ({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[e] ?? e,
  );
}

/** Sets `key` on a dict being built, never touching the prototype (a `__proto__` key is data). */
function setItem(dict: unknown, key: unknown, value: unknown): void {
  if (typeof dict !== 'object' || dict === null || Array.isArray(dict) || dict instanceof PickleGlobal || dict instanceof Uint8Array || dict instanceof Date) {
    throw new DecodeError('pickle: SETITEM on something that is not a dict');
  }
  let name: string;
  if (typeof key === 'string') name = key;
  else if (typeof key === 'number' || typeof key === 'bigint') name = String(key);
  else if (typeof key === 'boolean') name = key ? 'true' : 'false';
  else if (key === null) name = 'null';
  else throw new DecodeError(`pickle: dict key of type ${Array.isArray(key) ? 'tuple' : typeof key} has no JS equivalent`);
  // Plain assignment is the fast path; only `__proto__` would reach the prototype through it.
  if (name === '__proto__') Object.defineProperty(dict, name, { value: asData(value), enumerable: true, writable: true, configurable: true });
  else (dict as Record<string, unknown>)[name] = asData(value);
}

function appendTo(list: unknown, items: unknown[]): void {
  if (!Array.isArray(list) || isTuple(list)) throw new DecodeError('pickle: APPEND on something that is not a list');
  for (const item of items) list.push(asData(item));
}

/**
 * Reads one pickle. Rejects with {@link DecodeError} on a truncated or malformed pickle and on any
 * opcode or global outside the data-only subset described above; never runs code from the input.
 */
export function unpickle(data: Uint8Array): unknown {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  /** The next `n` bytes as text (Buffer's decoders are faster than TextDecoder on short strings). */
  const text = (n: number | bigint, encoding: 'utf8' | 'latin1'): string => {
    const at = need(n);
    return buf.toString(encoding, at, pos);
  };
  let pos = 0;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const need = (n: number | bigint): number => {
    if (typeof n === 'bigint' ? n > BigInt(data.length - pos) : n > data.length - pos) {
      throw new DecodeError('pickle: data truncated');
    }
    const at = pos;
    pos += Number(n);
    return at;
  };
  const bytes = (n: number | bigint): Uint8Array => {
    const at = need(n);
    return data.subarray(at, pos);
  };
  const u8 = (): number => view.getUint8(need(1));
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): bigint => view.getBigUint64(need(8), true);
  /** A signed 4-byte length (LONG4, BINSTRING): negative is malformed. */
  const s32len = (): number => {
    const n = view.getInt32(need(4), true);
    if (n < 0) throw new DecodeError('pickle: negative length');
    return n;
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw new DecodeError('pickle: data truncated');
    const out = buf.toString('latin1', pos, end);
    pos = end + 1;
    return out;
  };
  const pop = (): unknown => {
    if (stack.length === 0) throw new DecodeError('pickle: stack underflow');
    const v = stack.pop();
    if (v === MARK) throw new DecodeError('pickle: unexpected MARK');
    return v;
  };
  const top = (): unknown => {
    if (stack.length === 0) throw new DecodeError('pickle: stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const outer = metastack.pop();
    if (!outer) throw new DecodeError('pickle: no MARK on the stack');
    stack = outer;
    return items;
  };
  const global = (module: string, name: string): PickleGlobal => {
    const found = pickleGlobal(module, name);
    if (!found) {
      throw new DecodeError(
        `pickle refers to ${module}.${name}: refused, celeriac's pickle reader builds plain data only ` +
          '(dict, list, tuple, str, int, float, bool, None, bytes, datetime and Celery result ids), and never imports or calls anything',
      );
    }
    return found;
  };
  const memoGet = (key: number): unknown => {
    if (!memo.has(key)) throw new DecodeError(`pickle: memo key ${key} was never stored`);
    return memo.get(key);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw new DecodeError('pickle: protocol newer than 5');
        break;
      case 0x95: // FRAME: a length hint only
        u64();
        break;
      case 0x2e: // STOP
        if (metastack.length) throw new DecodeError('pickle: MARK left open at STOP');
        return asData(pop());
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x49: // INT
        stack.push(textInt(line(), true));
        break;
      case 0x4c: // LONG
        stack.push(textInt(line(), false));
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(longFromBytes(bytes(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(longFromBytes(bytes(s32len())));
        break;
      case 0x46: { // FLOAT
        const literal = line();
        const special = /^([+-]?)(inf|nan)$/i.exec(literal);
        const v = special ? (special[2]!.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity) : Number(literal);
        if (Number.isNaN(v) && !special) throw new DecodeError(`pickle: bad float literal ${JSON.stringify(literal)}`);
        stack.push(v);
        break;
      }
      case 0x47: // BINFLOAT
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x53: // STRING
        stack.push(quotedString(line()));
        break;
      case 0x54: // BINSTRING
        stack.push(text(s32len(), 'latin1'));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(text(u8(), 'latin1'));
        break;
      case 0x56: // UNICODE (raw-unicode-escape)
        stack.push(line().replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a?: string, b?: string) => String.fromCodePoint(parseInt(a ?? b!, 16))));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32(), 'utf8'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8(), 'utf8'));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64(), 'utf8'));
        break;
      case 0x42: // BINBYTES
        stack.push(Buffer.from(bytes(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(Buffer.from(bytes(u8())));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(Buffer.from(bytes(u64())));
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        stack.push(tuple([pop(), b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(tuple([pop(), b, c]));
        break;
      }
      case 0x74: { // TUPLE (popMark first: it swaps `stack`)
        const items = popMark();
        stack.push(tuple(items));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: { // LIST
        const items = popMark();
        items.forEach(asData);
        stack.push(items);
        break;
      }
      case 0x61: { // APPEND
        const item = pop();
        appendTo(top(), [item]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendTo(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push({});
        break;
      case 0x64: { // DICT
        const items = popMark();
        const dict = {};
        for (let i = 0; i + 1 < items.length; i += 2) setItem(dict, items[i], items[i + 1]);
        stack.push(dict);
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItem(top(), key, value);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        const dict = top();
        for (let i = 0; i + 1 < items.length; i += 2) setItem(dict, items[i], items[i + 1]);
        break;
      }
      case 0x8f: // EMPTY_SET: sets become arrays
        stack.push([]);
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        appendTo(top(), items);
        break;
      }
      case 0x91: { // FROZENSET
        const items = popMark();
        items.forEach(asData);
        stack.push(items);
        break;
      }
      case 0x63: { // GLOBAL
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new DecodeError('pickle: STACK_GLOBAL needs two strings');
        stack.push(global(module, name));
        break;
      }
      case 0x52: { // REDUCE: only a builder from the table, on a tuple of plain values
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PickleGlobal)) throw new DecodeError('pickle: REDUCE on something that is not an allowed global');
        if (!isTuple(args)) throw new DecodeError('pickle: REDUCE arguments are not a tuple');
        stack.push(fn.build(args));
        break;
      }
      case 0x70: // PUT
        memo.set(Number(textInt(line(), false)), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
        stack.push(memoGet(Number(textInt(line(), false))));
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      default: {
        const name = REFUSED[op];
        throw new DecodeError(
          name
            ? `pickle opcode ${name} refused: it builds or calls arbitrary objects, and celeriac's pickle reader builds plain data only`
            : `pickle: unknown opcode 0x${op.toString(16).padStart(2, '0')} at byte ${pos - 1}`,
        );
      }
    }
  }
}
