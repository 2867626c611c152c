/**
 * Keeping secrets out of what celeriac prints or sends to monitors (`inspect conf`, `report`, log
 * lines naming a broker): one rule, used everywhere.
 *
 * - A setting (or a key nested in one, e.g. inside `brokerTransportOptions`) whose name matches
 *   Celery's pattern (API, TOKEN, KEY, SECRET, PASS, PROFANITIES_LIST, SIGNATURE, DATABASE, any
 *   case) has its value replaced by a mask.
 * - A private key given inline (PEM text) is masked wherever it appears.
 * - A URL's password is replaced by a mask, the URL parsed so that a password holding `@`, `/` or
 *   `:` is masked whole.
 */

/** Celery's pattern of setting names whose values are hidden. */
export const HIDDEN_SETTING = /API|TOKEN|KEY|SECRET|PASS|PROFANITIES_LIST|SIGNATURE|DATABASE/i;

/** The mask Celery prints for a hidden value. */
export const SETTING_MASK = '********';

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)/;

/**
 * A URL with its password replaced by `mask`. The credentials end at the last `@` before the
 * query or fragment, and the user name at the first `:`, so `amqp://guest:p@ss/w@h/v` becomes
 * `amqp://guest:**@h/v`. Strings that are not URLs, and URLs without a password, come back as given.
 */
export function redactUrl(url: string, mask = '**'): string {
  const scheme = SCHEME.exec(url)?.[1];
  if (!scheme) return url;
  const rest = url.slice(scheme.length);
  // No authority (`sqlite:///path`): nothing to hide.
  if (rest.startsWith('/')) return url;
  const end = rest.search(/[?#]/);
  const authorityAndPath = end < 0 ? rest : rest.slice(0, end);
  const at = authorityAndPath.lastIndexOf('@');
  if (at < 0) return url;
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(':');
  if (colon < 0) return url;
  return `${scheme}${userinfo.slice(0, colon)}:${mask}${rest.slice(at)}`;
}

/**
 * A value made safe to show: JSON-compatible (functions, class instances, bigints and the like
 * become strings, as Celery's `safe_repr`), values under hidden keys masked at any depth, and URL
 * passwords masked in every string that is a URL.
 */
export function censor(value: unknown, key?: string, seen: WeakSet<object> = new WeakSet()): unknown {
  if (key !== undefined && HIDDEN_SETTING.test(key) && value !== null && value !== undefined && value !== '') return SETTING_MASK;
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  // A private key given inline (PEM text) never leaves the process, whatever its setting's name.
  if (typeof value === 'string') return value.includes('PRIVATE KEY-----') ? SETTING_MASK : redactUrl(value, SETTING_MASK);
  if (value === undefined) return null;
  if (typeof value === 'bigint' || typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return `<function ${value.name || 'anonymous'}>`;
  if (value instanceof Date) return value.toISOString();
  if (seen.has(value)) return '<circular>';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => censor(v, undefined, seen));
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto !== null && proto !== Object.prototype) {
      const text = String(value);
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      return text.startsWith('[object ') ? `<${name}>` : `<${name} ${redactUrl(text, SETTING_MASK)}>`;
    }
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, censor(v, k, seen)]));
  } finally {
    seen.delete(value);
  }
}
