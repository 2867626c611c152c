/**
 * The only Python globals celeriac's pickle reader accepts, each mapped to a builder of plain JS
 * data. Python imports and calls a pickle's globals; here a builder is a small function over
 * already-decoded values, so reading a pickle never runs anything the pickle names.
 */
import { DecodeError } from '../../errors/index.js';

/** A Python global the reader accepts, and the builder REDUCE runs in its place. */
export class PickleGlobal {
  constructor(
    /** `module.name`. */
    readonly name: string,
    private readonly builder: (args: readonly unknown[]) => unknown,
  ) {}

  /** The data Python's call `name(*args)` stands for. */
  build(args: readonly unknown[]): unknown {
    return this.builder(args);
  }
}

/** A `datetime.timezone`: a fixed offset from UTC, in seconds. */
export class FixedOffset {
  constructor(readonly offsetSeconds: number) {}
}

function fail(what: string): never {
  throw new DecodeError(`pickle: ${what}`);
}

/** Tuples: the arrays REDUCE accepts as arguments. */
const tuples = new WeakSet<unknown[]>();
/** Tuples holding a global or a tzinfo: arguments for a builder, never data. */
const tainted = new WeakSet<unknown[]>();

/** Marks `items` as a tuple (and as not data when it holds a global or a tzinfo). */
export function tuple(items: unknown[]): unknown[] {
  tuples.add(items);
  if (items.some(notData)) tainted.add(items);
  return items;
}

/** True for an array made by {@link tuple}. */
export function isTuple(value: unknown): value is unknown[] {
  return Array.isArray(value) && tuples.has(value);
}

/** A global, a tzinfo or a tuple holding one: only a REDUCE may take it. */
function notData(v: unknown): boolean {
  return v instanceof PickleGlobal || v instanceof FixedOffset || (Array.isArray(v) && tainted.has(v));
}

/** `v`, refused when it is not data (a global, a tzinfo, a tuple holding one). */
export function asData<T>(v: T): T {
  if (notData(v)) {
    const what = v instanceof PickleGlobal ? v.name : v instanceof FixedOffset ? 'a tzinfo' : 'a tuple holding a global';
    fail(`${what} used as a value: refused, only data is built`);
  }
  return v;
}

function num(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return fail(`${what} is not a number`);
}

function asBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  // Python 2 pickles (and protocol 0/1 of Python 3 through _codecs.encode) carry bytes as latin-1 text.
  if (typeof v === 'string') return Buffer.from(v, 'latin1');
  return fail(`${what} is not bytes`);
}

function offsetOf(tz: unknown): number {
  if (tz === undefined || tz === null) return 0;
  if (tz instanceof FixedOffset) return tz.offsetSeconds;
  return fail('datetime tzinfo is not a fixed offset (datetime.timezone)');
}

/** A UTC time from calendar fields (years below 100 too, which Date.UTC would shift to 19xx). */
function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, us = 0): Date {
  const out = new Date(Date.UTC(2000, mo - 1, d, h, mi, s, Math.floor(us / 1000)));
  out.setUTCFullYear(y);
  return out;
}

/** `datetime.datetime(state[, tzinfo])` or `datetime.datetime(y, m, d[, H, M, S, us[, tzinfo]])`. */
function datetime(args: readonly unknown[]): Date {
  let local: Date;
  let tz: unknown;
  if (typeof args[0] === 'number') {
    const fields = args.filter((a) => !(a instanceof FixedOffset) && a !== null).map((v, i) => num(v, `datetime field ${i}`));
    local = utc(fields[0]!, fields[1] ?? 1, fields[2] ?? 1, fields[3], fields[4], fields[5], fields[6]);
    tz = args.find((a) => a instanceof FixedOffset);
  } else {
    const b = asBytes(args[0], 'datetime state');
    if (b.length !== 10) fail('datetime state is not 10 bytes');
    // Python's state: year (2 bytes), month (high bit: fold), day, hour, minute, second, microsecond (3 bytes).
    local = utc((b[0]! << 8) | b[1]!, b[2]! & 0x7f, b[3]!, b[4]!, b[5]!, b[6]!, (b[7]! << 16) | (b[8]! << 8) | b[9]!);
    tz = args[1];
  }
  return new Date(local.getTime() - offsetOf(tz) * 1000);
}

/** `datetime.date(state)` or `datetime.date(y, m, d)`: UTC midnight. */
function date(args: readonly unknown[]): Date {
  if (typeof args[0] === 'number') return utc(num(args[0], 'year'), num(args[1], 'month'), num(args[2], 'day'));
  const b = asBytes(args[0], 'date state');
  if (b.length !== 4) fail('date state is not 4 bytes');
  return utc((b[0]! << 8) | b[1]!, b[2]!, b[3]!);
}

/** `datetime.timedelta(days, seconds, microseconds)` as seconds. */
function timedelta(args: readonly unknown[]): number {
  const [days = 0, seconds = 0, us = 0] = args.map((v, i) => num(v, `timedelta field ${i}`));
  return days * 86400 + seconds + us / 1e6;
}

/** A list argument whose items go into the built data: each must be data itself. */
function items(v: unknown): unknown[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v.map(asData);
  return fail('expected a list');
}

/** A result's parent: null or Celery's tuple form built by another result builder. */
function parentOf(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (Array.isArray(v) && !isTuple(v)) return v;
  return fail('a result parent is not a result');
}

/** `celery.result.AsyncResult(id, backend, task_name, app, parent)` as Celery's tuple form. */
function asyncResult(args: readonly unknown[]): unknown {
  if (typeof args[0] !== 'string') fail('AsyncResult id is not a string');
  return [[args[0], parentOf(args[4])], null];
}

/** `celery.result.GroupResult(id, results[, parent])` as Celery's tuple form. */
function groupResult(args: readonly unknown[]): unknown {
  if (typeof args[0] !== 'string' && args[0] !== null) fail('GroupResult id is not a string');
  return [[args[0], parentOf(args[2])], items(args[1])];
}

const entries: Array<[string, (args: readonly unknown[]) => unknown]> = [
  ['datetime.datetime', datetime],
  ['datetime.date', date],
  ['datetime.timedelta', timedelta],
  ['datetime.timezone', (args) => new FixedOffset(num(args[0], 'timezone offset'))],
  // Protocol 2 writes bytes as _codecs.encode(text, 'latin1').
  ['_codecs.encode', (args) => {
    if (typeof args[0] !== 'string' || !/^latin-?1$/i.test(String(args[1]))) fail('_codecs.encode other than latin1 text');
    return Buffer.from(args[0], 'latin1');
  }],
  ['collections.OrderedDict', (args) => {
    const out = {};
    for (const pair of items(args[0])) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string') fail('OrderedDict item is not a (str, value) pair');
      Object.defineProperty(out, pair[0] as string, { value: asData(pair[1]), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }],
  ['celery.result.AsyncResult', asyncResult],
  ['celery.result.GroupResult', groupResult],
  // An AsyncResult pickles its backend as unpickle_backend(cls, args, kwargs): dropped, never built.
  ['celery.backends.base.unpickle_backend', () => null],
];
for (const builtins of ['builtins', '__builtin__']) {
  entries.push([`${builtins}.bytearray`, (args) => (args.length === 0 ? Buffer.alloc(0) : asBytes(args[0], 'bytearray'))]);
  entries.push([`${builtins}.set`, (args) => [...items(args[0])]]);
  entries.push([`${builtins}.frozenset`, (args) => [...items(args[0])]]);
}

const TABLE = new Map(entries.map(([name, fn]) => [name, new PickleGlobal(name, fn)]));

/**
 * The builder for `module.name`, or undefined when the reader refuses that global. Celery's
 * backend classes (`celery.backends.database.DatabaseBackend`, ...) are accepted as names only,
 * as the argument of `unpickle_backend`; calling one is refused.
 */
export function pickleGlobal(module: string, name: string): PickleGlobal | undefined {
  const found = TABLE.get(`${module}.${name}`);
  if (found) return found;
  if (/^celery\.backends\.[a-z_.]+$/.test(module) && /^[A-Za-z]+Backend$/.test(name)) {
    return new PickleGlobal(`${module}.${name}`, () => fail(`calling ${module}.${name} refused`));
  }
  return undefined;
}
