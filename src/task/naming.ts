/**
 * Automatic task names: `<module>.<function>`, where the module is the defining file's base name
 * without extension (`tasks.add` for `function add` in `tasks.ts`; an `index.ts` takes its folder's
 * name). Explicit `name` options win; `genTaskName(name, module)` on the app can change the rule.
 */
import { basename, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ownRoot = dirname(dirname(fileURLToPath(import.meta.url)));

function frameFile(line: string): string | null {
  const m = /\(?((?:file:\/\/)?\/[^():]+|[A-Za-z]:\\[^():]+):\d+:\d+\)?\s*$/.exec(line.trim());
  if (!m) return null;
  const raw = m[1]!;
  return raw.startsWith('file://') ? fileURLToPath(raw) : raw;
}

/** The file that called into celeriac: the first stack frame outside this package's sources. */
export function callerFile(): string | null {
  const stack = new Error().stack ?? '';
  for (const line of stack.split('\n').slice(1)) {
    const file = frameFile(line);
    if (!file || file.startsWith('node:') || file.includes('/node_modules/')) continue;
    if (file.startsWith(ownRoot)) continue;
    return file;
  }
  return null;
}

/** The module name of a file, for task names: base name without extension. */
export function moduleName(file: string | null): string | null {
  if (!file) return null;
  const base = basename(file, extname(file));
  return base === 'index' ? basename(dirname(file)) : base;
}
