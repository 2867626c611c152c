/**
 * JSON as Celery's peers write and read it, with a documented mapping for JS values JSON has no
 * type for:
 *
 * | JS value                    | on the wire                                   | read back as      |
 * |-----------------------------|-----------------------------------------------|-------------------|
 * | `Date`                      | ISO 8601 string, UTC, `+00:00` (kombu ≤ 5.2)  | string            |
 * | `bigint`                    | a JSON integer literal (Python reads an int)   | see below         |
 * | `-0`                        | `-0.0` (Python reads the float -0.0)           | `-0`              |
 * | `Buffer` / `Uint8Array`     | base64 string                                  | string            |
 * | `undefined`                 | `null` in arrays, key left out in objects      | `null` / absent   |
 * | `NaN`, `±Infinity`          | `NaN`, `Infinity`, `-Infinity` (Python's json) | the same numbers  |
 * | an object with `toJSON()`   | what `toJSON()` returns                        | that              |
 *
 * Integers are read exactly: one outside ±(2^53 - 1) (Python's `2**63`, a 64-bit id) becomes a
 * `bigint`, written back as the same integer; smaller ones are numbers. The check is a quick
 * search for a run of 16 digits; texts without one are parsed by `JSON.parse` alone.
 *
 * Values JSON cannot carry faithfully are refused with an {@link EncodeError} naming where they
 * are (as kombu refuses what Python's json cannot write), never sent as something else: functions,
 * symbols, `Map`, `Set`, and instances of classes (their class and methods would be lost) unless
 * they define `toJSON()`. Convert them to plain data first (`Object.fromEntries(map)`, `[...set]`).
 *
 * Reading also accepts kombu ≥ 5.3's tagged values: `{"__type__": "datetime"|"date",
 * "__value__": iso}` becomes a `Date`, `{"__type__": "bytes"|"base64", ...}` a `Buffer`,
 * `{"__type__": "uuid", "__value__": {"hex": ...}}` the UUID's canonical string, and
 * `{"__type__": "decimal"|"time", ...}` a string.
 */
import { EncodeError } from '../errors/index.js';
import { toPythonIso } from '../utils/time.js';

const NAN_TOKEN = '\u0000celeriac:NaN';
const INF_TOKEN = '\u0000celeriac:Infinity';
const NINF_TOKEN = '\u0000celeriac:-Infinity';
const BIGINT_TAG = '\u0000celeriac:bigint:';

const NEG_ZERO_TOKEN = '\u0000celeriac:-0';

/** A path into a value as code writes it: `formatPath('args', [0, 'when'])` is `args[0].when`. */
export function formatPath(root: string, path: readonly (string | number)[]): string {
  let out = root;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  }
  return out;
}

function unencodable(path: readonly (string | number)[], reason: string): EncodeError {
  return new EncodeError(`cannot encode ${formatPath('value', path)} as JSON: ${reason}`, { path: [...path], reason });
}

function kindOf(value: object): string {
  if (value instanceof Map) return 'a Map has no JSON form (convert it, e.g. Object.fromEntries(map))';
  if (value instanceof Set) return 'a Set has no JSON form (convert it, e.g. [...set])';
  const name = (value.constructor as { name?: unknown } | undefined)?.name;
  const what = typeof name === 'string' && name !== '' ? `an instance of ${name}` : 'an object with a prototype';
  return `${what} would lose its class and methods (pass plain data, or give the class a toJSON())`;
}

function prepare(value: unknown, seen: Set<object>, path: (string | number)[]): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return value;
    case 'number':
      if (Number.isFinite(value)) return Object.is(value, -0) ? NEG_ZERO_TOKEN : value;
      return Number.isNaN(value) ? NAN_TOKEN : value > 0 ? INF_TOKEN : NINF_TOKEN;
    case 'bigint':
      return `${BIGINT_TAG}${value.toString()}`;
    case 'function':
      throw unencodable(path, 'a function has no JSON form');
    case 'symbol':
      throw unencodable(path, 'a symbol has no JSON form');
    default:
      break;
  }
  if (value === null) return null;
  const obj = value as object;
  if (obj instanceof Date) return toPythonIso(obj, true);
  if (Buffer.isBuffer(obj) || obj instanceof Uint8Array) return Buffer.from(obj).toString('base64');
  if (seen.has(obj)) throw new TypeError('cannot serialize a circular structure to JSON');
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      const out: unknown[] = new Array<unknown>(obj.length);
      for (let i = 0; i < obj.length; i++) {
        const v: unknown = obj[i];
        path.push(i);
        out[i] = v === undefined ? null : prepare(v, seen, path);
        path.pop();
      }
      return out;
    }
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return prepare((toJSON as () => unknown).call(obj), seen, path);
    const proto: unknown = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) throw unencodable(path, kindOf(obj));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined) continue;
      path.push(k);
      out[k] = prepare(v, seen, path);
      path.pop();
    }
    return out;
  } finally {
    seen.delete(obj);
  }
}

/**
 * True when `value` holds only what JSON.stringify already writes the way {@link toJson} must:
 * strings, booleans, null, finite numbers but -0, and plain objects and arrays of them (undefined
 * is dropped the same way). Anything else, or nesting too deep to be anything but a cycle, takes
 * the slow path, which also refuses what JSON cannot carry. Allocates nothing.
 */
function isPlain(value: unknown, depth: number): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      break;
    default:
      return false;
  }
  if (depth > 64) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isPlain(value[i], depth + 1)) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  if ('toJSON' in (value as object)) return false;
  for (const key in value as Record<string, unknown>) {
    if (!isPlain((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

const SPECIAL = /"\\u0000celeriac:(NaN|Infinity|-Infinity|-0|bigint:(-?\d+))"/g;

/** Serializes a value to JSON text with the mapping described above. */
export function toJson(value: unknown): string {
  if (isPlain(value, 0)) return JSON.stringify(value) ?? 'null';
  const text = JSON.stringify(prepare(value, new Set(), []));
  if (text === undefined) return 'null';
  if (!text.includes('\\u0000celeriac:')) return text;
  return text.replace(SPECIAL, (_m, kind: string, digits?: string) => digits ?? (kind === '-0' ? '-0.0' : kind));
}

const NUMBER = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/**
 * Whether the text has a run of 16 digits, the only way an integer past 2^53 can appear in it.
 * A skip search: it reads the last character of each 16-character window and moves past any
 * window that cannot be all digits, so a text with few digits costs about length / 16 reads
 * (several times faster than the regular expression, a few percent of JSON.parse).
 */
function hasLongDigitRun(text: string): boolean {
  let end = 15;
  while (end < text.length) {
    if (!isDigit(text.charCodeAt(end))) {
      end += 16;
      continue;
    }
    let j = end - 1;
    while (j > end - 16 && isDigit(text.charCodeAt(j))) j--;
    if (j === end - 16) return true;
    end = j + 16;
  }
  return false;
}

/**
 * Replaces, outside strings, Python's bare NaN/Infinity tokens and integers JSON.parse would round
 * (past ±(2^53 - 1)) with placeholder strings that {@link revive} turns back into values.
 */
function escapeTokens(text: string): string {
  const parts: string[] = [];
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip a string, escapes included.
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
      continue;
    }
    let token: string | undefined;
    let length = 0;
    if (c === 0x4e && text.startsWith('NaN', i)) [token, length] = [NAN_TOKEN, 3];
    else if (c === 0x49 && text.startsWith('Infinity', i)) [token, length] = [INF_TOKEN, 8];
    else if (c === 0x2d && text.startsWith('-Infinity', i)) [token, length] = [NINF_TOKEN, 9];
    else if (c === 0x2d || isDigit(c)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      const literal = m?.[0] ?? text[i]!;
      length = literal.length;
      if (m && m[1] === undefined && m[2] === undefined && literal.length >= 16) {
        const big = BigInt(literal);
        if (big > MAX_SAFE || big < -MAX_SAFE) token = `${BIGINT_TAG}${literal}`;
      }
    }
    if (token === undefined) {
      i += Math.max(length, 1);
      continue;
    }
    parts.push(text.slice(last, i), JSON.stringify(token));
    i += length;
    last = i;
  }
  if (last === 0) return text;
  parts.push(text.slice(last));
  return parts.join('');
}

function revive(_key: string, value: unknown): unknown {
  if (typeof value === 'string') {
    if (value === NAN_TOKEN) return Number.NaN;
    if (value === INF_TOKEN) return Number.POSITIVE_INFINITY;
    if (value === NINF_TOKEN) return Number.NEGATIVE_INFINITY;
    if (value.startsWith(BIGINT_TAG)) return BigInt(value.slice(BIGINT_TAG.length));
    return value;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const tagged = value as { __type__?: unknown; __value__?: unknown };
    if (typeof tagged.__type__ === 'string' && '__value__' in tagged && Object.keys(value).length === 2) {
      const v = tagged.__value__;
      switch (tagged.__type__) {
        case 'datetime':
        case 'date':
          return typeof v === 'string' ? new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(v) || v.length <= 10 ? v : `${v}Z`) : v;
        case 'bytes':
          return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
        case 'base64':
          return typeof v === 'string' ? Buffer.from(v, 'base64') : v;
        case 'uuid': {
          // kombu writes {"hex": "<32 hex digits>"} (newer releases add "version"), not a string.
          const hex = v !== null && typeof v === 'object' ? (v as { hex?: unknown }).hex : v;
          if (typeof hex === 'string' && /^[0-9a-fA-F]{32}$/.test(hex)) {
            const h = hex.toLowerCase();
            return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
          }
          return typeof hex === 'string' ? hex : String(hex);
        }
        case 'decimal':
        case 'time':
          return typeof v === 'string' ? v : String(v);
        default:
          return value;
      }
    }
  }
  return value;
}

/**
 * Parses JSON text as Python's json module writes it: NaN and Infinity accepted, integers past
 * 2^53 read exactly as `bigint`.
 */
export function fromJson(text: string): unknown {
  // Only a text with a 16-digit run can hold an integer JSON.parse would round.
  if (hasLongDigitRun(text)) return JSON.parse(escapeTokens(text), revive);
  try {
    // The reviver costs a call per value: only texts with tagged values (kombu's `__type__`) need it.
    return text.includes('"__type__"') ? JSON.parse(text, revive) : JSON.parse(text);
  } catch (err) {
    if (/NaN|Infinity/.test(text)) return JSON.parse(escapeTokens(text), revive);
    throw err;
  }
}
