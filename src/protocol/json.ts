/**
 * JSON as Celery's peers write and read it, with a documented mapping for JS values JSON has no
 * type for:
 *
 * | JS value                    | on the wire                                   | read back as      |
 * |-----------------------------|-----------------------------------------------|-------------------|
 * | `Date`                      | ISO 8601 string, UTC, `+00:00` (kombu ≤ 5.2)  | string            |
 * | `bigint`                    | a JSON integer literal (Python reads an int)   | number*           |
 * | `Buffer` / `Uint8Array`     | base64 string                                  | string            |
 * | `undefined`                 | `null` in arrays, key left out in objects      | `null` / absent   |
 * | `Map` / `Set`               | object / array                                 | object / array    |
 * | `NaN`, `±Infinity`          | `NaN`, `Infinity`, `-Infinity` (Python's json) | the same numbers  |
 *
 * Reading also accepts kombu ≥ 5.3's tagged values: `{"__type__": "datetime"|"date",
 * "__value__": iso}` becomes a `Date`, `{"__type__": "bytes"|"base64", ...}` a `Buffer`,
 * `{"__type__": "uuid", "__value__": {"hex": ...}}` the UUID's canonical string, and
 * `{"__type__": "decimal"|"time", ...}` a string.
 *
 * \* Integers outside ±2^53 lose precision when read: JSON.parse has no big-integer mode in Node 20.
 */
import { toPythonIso } from '../utils/time.js';

const NAN_TOKEN = '\u0000celeriac:NaN';
const INF_TOKEN = '\u0000celeriac:Infinity';
const NINF_TOKEN = '\u0000celeriac:-Infinity';
const BIGINT_TAG = '\u0000celeriac:bigint:';

function prepare(value: unknown, seen: Set<object>): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') return `${BIGINT_TAG}${value.toString()}`;
    if (typeof value === 'number' && !Number.isFinite(value)) {
      return Number.isNaN(value) ? NAN_TOKEN : value > 0 ? INF_TOKEN : NINF_TOKEN;
    }
    return value;
  }
  if (value instanceof Date) return toPythonIso(value, true);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (seen.has(value)) throw new TypeError('cannot serialize a circular structure to JSON');
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : prepare(v, seen)));
    if (value instanceof Set) return [...value].map((v) => prepare(v, seen));
    if (value instanceof Map) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of value) if (v !== undefined) out[String(k)] = prepare(v, seen);
      return out;
    }
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return prepare((toJSON as () => unknown).call(value), seen);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined && typeof v !== 'function') out[k] = prepare(v, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/**
 * True when `value` holds only what JSON.stringify already writes the way {@link toJson} must:
 * strings, booleans, null, finite numbers, and plain objects and arrays of them (undefined and
 * functions are dropped the same way). Anything else, or nesting too deep to be anything but a
 * cycle, takes the slow path. Allocates nothing.
 */
function isPlain(value: unknown, depth: number): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
    case 'function':
      return true;
    case 'number':
      return Number.isFinite(value);
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

const SPECIAL = /"\\u0000celeriac:(NaN|Infinity|-Infinity|bigint:(-?\d+))"/g;

/** Serializes a value to JSON text with the mapping described above. */
export function toJson(value: unknown): string {
  if (isPlain(value, 0)) return JSON.stringify(value) ?? 'null';
  const text = JSON.stringify(prepare(value, new Set()));
  if (text === undefined) return 'null';
  if (!text.includes('\\u0000celeriac:')) return text;
  return text.replace(SPECIAL, (_m, kind: string, digits?: string) => (digits !== undefined ? digits : kind));
}

/** Replaces Python's bare NaN/Infinity tokens (outside strings) with JSON-safe placeholders. */
function escapeNonFinite(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      out += ch;
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      inString = true;
      out += ch;
    } else if (text.startsWith('NaN', i)) {
      out += JSON.stringify(NAN_TOKEN);
      i += 2;
    } else if (text.startsWith('-Infinity', i)) {
      out += JSON.stringify(NINF_TOKEN);
      i += 8;
    } else if (text.startsWith('Infinity', i)) {
      out += JSON.stringify(INF_TOKEN);
      i += 7;
    } else {
      out += ch;
    }
  }
  return out;
}

function revive(_key: string, value: unknown): unknown {
  if (typeof value === 'string') {
    if (value === NAN_TOKEN) return Number.NaN;
    if (value === INF_TOKEN) return Number.POSITIVE_INFINITY;
    if (value === NINF_TOKEN) return Number.NEGATIVE_INFINITY;
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

/** Parses JSON text as Python's json module writes it (accepting NaN and Infinity). */
export function fromJson(text: string): unknown {
  try {
    // The reviver costs a call per value: only texts with tagged values (kombu's `__type__`) need it.
    return text.includes('"__type__"') ? JSON.parse(text, revive) : JSON.parse(text);
  } catch (err) {
    if (/NaN|Infinity/.test(text)) return JSON.parse(escapeNonFinite(text), revive);
    throw err;
  }
}
