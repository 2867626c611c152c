/**
 * Python-style `repr()` of JSON-like values, for the `argsrepr` / `kwargsrepr` headers: Celery's
 * monitors (Flower, `celery events`, our own) show arguments the same way whichever language sent
 * the task, e.g. `(1, 'a', None)` and `{'x': True}`. Long output is cut like Celery's `saferepr`.
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
    return String(value);
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

function truncate(s: string, maxsize: number): string {
  return s.length > maxsize ? `${s.slice(0, maxsize - 3)}...` : s;
}

/** The repr of positional arguments as a Python tuple: `(1, 2)`, `(1,)`, `()`. */
export function argsRepr(args: readonly unknown[], maxsize: number = REPR_MAXSIZE): string {
  const inner = args.map((a) => pyRepr(a)).join(', ');
  return truncate(args.length === 1 ? `(${inner},)` : `(${inner})`, maxsize);
}

/** The repr of keyword arguments as a Python dict. */
export function kwargsRepr(kwargs: Readonly<Record<string, unknown>>, maxsize: number = REPR_MAXSIZE): string {
  return truncate(pyRepr(kwargs), maxsize);
}
