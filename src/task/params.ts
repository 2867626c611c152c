/**
 * Parameter lists of task functions, read from their source, so that keyword arguments (which
 * Python clients send, and `applyAsync(args, kwargs)` allows) bind to parameters by name, and so
 * that a call with the wrong arguments fails at `delay()` with Python's TypeError wording.
 *
 * A last parameter written as an object pattern (`({ url, retries }) => ...`) collects keyword
 * arguments that match no named parameter: the JS idiom for keyword arguments.
 */

/** One declared parameter. */
export interface Param {
  /** Its name; null for a destructured pattern. */
  name: string | null;
  /** Has a default value (or is a rest parameter). */
  optional: boolean;
  /** `...rest`. */
  rest: boolean;
  /** An object pattern `{ a, b }`. */
  objectPattern: boolean;
}

function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
}

/** Splits on commas at bracket depth 0, ignoring commas inside strings and template literals. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      current += ch;
      if (ch === '\\') current += text[++i] ?? '';
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  if (current.trim()) parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** The text between a function's parameter parentheses (or the single bare arrow parameter). */
function paramSource(src: string): string {
  const text = stripComments(src).trim();
  const bareArrow = /^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(text);
  if (bareArrow) return bareArrow[1]!;
  const open = text.indexOf('(');
  if (open < 0) return '';
  let depth = 0;
  let quote: string | null = null;
  for (let i = open; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return text.slice(open + 1, i);
  }
  return '';
}

/** Index of a parameter's default-value `=` (at bracket depth 0, not `=>`), or -1. */
function defaultAt(param: string): number {
  let depth = 0;
  for (let i = 0; i < param.length; i++) {
    const ch = param[i]!;
    if ('([{'.includes(ch)) depth++;
    else if (')]}'.includes(ch)) depth--;
    else if (ch === '=' && depth === 0 && param[i + 1] !== '>' && param[i + 1] !== '=') return i;
  }
  return -1;
}

/** Reads the parameters of a function (or method) from its source text. */
export function parseParams(fn: (...args: never[]) => unknown): Param[] {
  let src: string;
  try {
    src = Function.prototype.toString.call(fn);
  } catch {
    return [];
  }
  if (/\{\s*\[native code\]\s*\}\s*$/.test(src)) return [];
  return splitTopLevel(paramSource(src)).map((p) => {
    const rest = p.startsWith('...');
    const body = rest ? p.slice(3).trim() : p;
    const at = defaultAt(body);
    const eq = at >= 0;
    const lhs = eq ? body.slice(0, at).trim() : body;
    const objectPattern = lhs.startsWith('{');
    const name = /^[A-Za-z_$][\w$]*$/.test(lhs) ? lhs : null;
    return { name, optional: eq || rest, rest, objectPattern };
  });
}

/** Builds params from explicit names (the `params` task option, for minified code). */
export function paramsFromNames(names: readonly string[]): Param[] {
  return names.map((n) => {
    const rest = n.startsWith('...');
    const optional = rest || n.endsWith('?');
    const name = n.replace(/^\.\.\./, '').replace(/\?$/, '');
    return { name, optional, rest, objectPattern: false };
  });
}

/**
 * Binds positional and keyword arguments to a parameter list, as Python does, returning the
 * positional argument array to call the function with. Throws TypeError (Python's wording)
 * for a missing, duplicate, unexpected or surplus argument.
 */
export function bindArguments(
  taskName: string,
  params: readonly Param[],
  args: readonly unknown[],
  kwargs: Readonly<Record<string, unknown>>,
): unknown[] {
  const kwargNames = Object.keys(kwargs);
  if (params.length === 0) {
    // Unknown signature (native or unparsable): pass positionals, refuse keywords we can't place.
    if (kwargNames.length > 0) {
      throw new TypeError(`${taskName}() got an unexpected keyword argument '${kwargNames[0]}'`);
    }
    return [...args];
  }
  const restIndex = params.findIndex((p) => p.rest);
  const fixed = restIndex >= 0 ? params.slice(0, restIndex) : [...params];
  const last = fixed[fixed.length - 1];
  const collector = last?.objectPattern ? fixed.length - 1 : -1;
  if (restIndex < 0 && args.length > fixed.length) {
    throw new TypeError(
      `${taskName}() takes ${fixed.length} positional argument${fixed.length === 1 ? '' : 's'} but ${args.length} were given`,
    );
  }
  const out: unknown[] = [...args];
  const filled = new Set<number>(args.map((_a, i) => i).filter((i) => i < fixed.length));
  const extra: Record<string, unknown> = {};
  for (const key of kwargNames) {
    const index = fixed.findIndex((p) => p.name === key);
    if (index >= 0) {
      if (filled.has(index)) throw new TypeError(`${taskName}() got multiple values for argument '${key}'`);
      out[index] = kwargs[key];
      filled.add(index);
    } else if (collector >= 0 && !filled.has(collector)) {
      extra[key] = kwargs[key];
    } else {
      throw new TypeError(`${taskName}() got an unexpected keyword argument '${key}'`);
    }
  }
  if (Object.keys(extra).length > 0) {
    out[collector] = extra;
    filled.add(collector);
  }
  const missing = fixed
    .map((p, i) => ({ p, i }))
    .filter(({ p, i }) => !p.optional && !filled.has(i))
    .map(({ p, i }) => `'${p.name ?? `arg${i}`}'`);
  if (missing.length > 0) {
    throw new TypeError(
      `${taskName}() missing ${missing.length} required positional argument${missing.length === 1 ? '' : 's'}: ${missing.join(' and ')}`,
    );
  }
  // Leave holes as undefined so defaults apply; trim trailing holes.
  while (out.length > 0 && out[out.length - 1] === undefined && !filled.has(out.length - 1)) out.pop();
  return out;
}
