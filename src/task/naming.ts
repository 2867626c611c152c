/**
 * Automatic task names: `<module>.<function>`, where the module is the defining file's path
 * relative to the app's `root`, dotted as Celery's module paths are: `moduleA/tasks.ts` defining
 * `function add` is `moduleA.tasks.add`. The extension is dropped; an `index.ts` takes its folder's
 * name (`moduleA/index.ts` is `moduleA`, as a Python package's `__init__`); `..` segments of a
 * file outside the root are dropped (`../shared/jobs.ts` is `shared.jobs`). The root defaults to
 * the folder of the module that created the app, so `src/` and a compiled `dist/` give the same
 * names. Explicit `name` options win; `genTaskName(name, module)` on the app can change the rule.
 */
import { basename, dirname, extname, relative, sep } from 'node:path';
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

/** The dotted module path of `file` relative to `root`, for task names (see the rule above). */
export function modulePath(file: string | null, root: string): string | null {
  if (!file) return null;
  const parts = relative(root, file)
    .split(sep)
    .filter((p) => p !== '' && p !== '.' && p !== '..');
  const last = parts.pop();
  if (last === undefined) return null;
  const base = basename(last, extname(last));
  if (base !== 'index') parts.push(base);
  else if (parts.length === 0) parts.push(basename(dirname(file)));
  return parts.join('.');
}

/** The app's root for task names: a folder given as a path or `file:` URL, else the creating module's folder. */
export function appRoot(root: string | URL | undefined, creator: string | null): string {
  if (root instanceof URL || (typeof root === 'string' && root.startsWith('file:'))) return fileURLToPath(root);
  if (root !== undefined) return root;
  return creator ? dirname(creator) : process.cwd();
}
