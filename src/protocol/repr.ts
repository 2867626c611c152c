/**
 * Python-style renderings of JSON-like values. {@link pyRepr} is Python's `repr()` of one value,
 * e.g. `(1, 'a', None)` and `{'x': True}`. {@link argsRepr} / {@link kwargsRepr} build the
 * `argsrepr` / `kwargsrepr` headers exactly as Celery 5 does with `celery.utils.saferepr`, so
 * monitors (Flower, `celery events`, our own) show arguments the same way whichever language sent
 * the task: strings always in single quotes (only `'` escaped), containers nested deeper than three
 * levels shown as `[...]`, and output past `maxsize` cut with `...` / `, ...` while open brackets
 * are still closed.
 */

/** Celery's default `argsrepr_maxsize` / `kwargsrepr_maxsize`. */
export const REPR_MAXSIZE = 1024;

function reprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch < ' ') out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${quote}${out}${quote}`;
}

/** Python's repr of one value. */
export function pyRepr(value: unknown, seen: Set<unknown> = new Set()): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'nan';
    if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
    // -0 travels as the float -0.0 (see json.ts), and Python shows it so.
    return Object.is(value, -0) ? '-0.0' : String(value);
  }
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') return reprString(value);
  if (value instanceof Date) return reprString(value.toISOString());
  if (Buffer.isBuffer(value)) return `b${reprString(value.toString('latin1'))}`;
  if (typeof value === 'function') return `<function ${value.name || 'anonymous'}>`;
  if (typeof value !== 'object') return reprString(String(value));
  if (seen.has(value)) return Array.isArray(value) ? '[...]' : '{...}';
  seen.add(value);
  try {
    if (Array.isArray(value)) return `[${value.map((v) => pyRepr(v, seen)).join(', ')}]`;
    const entries = Object.entries(value as Record<string, unknown>);
    return `{${entries.map(([k, v]) => `${reprString(k)}: ${pyRepr(v, seen)}`).join(', ')}}`;
  } finally {
    seen.delete(value);
  }
}

/** Containers deeper than this are shown as `[...]` (saferepr's `maxlevels`). */
const SAFEREPR_MAXLEVELS = 3;

/** One token of saferepr's stream: brackets, separators, keys, strings, or other reprs. */
type Token =
  | { kind: 'open' | 'close'; text: string; id: number }
  | { kind: 'sep' | 'key' | 'str' | 'plain'; text: string };

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Code points, as Python's `len` and slices count them. */
function cpLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** celery.utils.text.truncate: cut at `maxlen` (and back to the last space), then `...`. */
function pyTruncate(s: string, maxlen: number): string {
  if (maxlen === 0 || cpLength(s) < maxlen) return s;
  const head = Array.from(s).slice(0, maxlen).join('');
  const space = head.lastIndexOf(' ');
  return `${space >= 0 ? head.slice(0, space) : head}...`;
}

function tokenize(value: unknown, level: number, out: Token[], tuple: boolean, next: { id: number }): void {
  if (typeof value === 'string') {
    out.push({ kind: 'str', text: value });
    return;
  }
  const isList = Array.isArray(value);
  const isDict = !isList && value !== null && typeof value === 'object' && isPlainObject(value);
  if (!isList && !isDict) {
    out.push({ kind: 'plain', text: pyRepr(value) });
    return;
  }
  const [open, close] = tuple ? ['(', (value as unknown[]).length === 1 ? ',)' : ')'] : isList ? ['[', ']'] : ['{', '}'];
  if (level >= SAFEREPR_MAXLEVELS) {
    out.push({ kind: 'plain', text: `${open}...${close}` });
    return;
  }
  const id = next.id++;
  out.push({ kind: 'open', text: open, id });
  if (isList) {
    (value as unknown[]).forEach((v, i) => {
      if (i > 0) out.push({ kind: 'sep', text: ', ' });
      tokenize(v, level + 1, out, false, next);
    });
  } else {
    const entries = Object.entries(value as Record<string, unknown>).filter(
      ([, v]) => v !== undefined && typeof v !== 'function',
    );
    entries.forEach(([k, v], i) => {
      if (i > 0) out.push({ kind: 'sep', text: ', ' });
      out.push({ kind: 'key', text: k }, { kind: 'sep', text: ': ' });
      tokenize(v, level + 1, out, false, next);
    });
  }
  out.push({ kind: 'close', text: close, id });
}

/**
 * Celery's `saferepr(value, maxlen)`: tokens are written while the budget lasts; once it is spent,
 * `, ...` and the closing brackets of the containers still open end the text (the token that found
 * the budget spent is dropped, as Celery drops it).
 */
function safeRepr(value: unknown, maxlen: number, tuple: boolean): string {
  const tokens: Token[] = [];
  tokenize(value, 0, tokens, tuple, { id: 0 });
  let out = '';
  let budget = maxlen;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (budget <= 0) {
      out += ', ...';
      const opened = new Set<number>();
      for (let j = 0; j <= i; j++) {
        const o = tokens[j]!;
        if (o.kind === 'open') opened.add(o.id);
      }
      for (let j = i + 1; j < tokens.length; j++) {
        const c = tokens[j]!;
        if (c.kind === 'close' && opened.has(c.id)) out += c.text;
      }
      return out;
    }
    let text: string;
    if (t.kind === 'str' || t.kind === 'key') text = `'${pyTruncate(t.text, budget).replace(/'/g, "\\'")}'`;
    else if (t.kind === 'plain') text = pyTruncate(t.text, budget);
    else text = t.text;
    out += text;
    budget -= cpLength(text);
  }
  return out;
}

/** The `argsrepr` header: positional arguments as Celery's saferepr of a tuple, `(1, 2)`, `(1,)`, `()`. */
export function argsRepr(args: readonly unknown[], maxsize: number = REPR_MAXSIZE): string {
  return safeRepr(args, maxsize, true);
}

/** The `kwargsrepr` header: keyword arguments as Celery's saferepr of a dict, `{'x': 1}`. */
export function kwargsRepr(kwargs: Readonly<Record<string, unknown>>, maxsize: number = REPR_MAXSIZE): string {
  return safeRepr(kwargs, maxsize, false);
}
