/**
 * Loads the app a CLI command works on: `-A path/to/module[:export]`, a TypeScript or JavaScript
 * module whose named export (default `app`) is a Celeriac app. TypeScript modules are loaded
 * through tsx (an optional peer dependency). The module may be ES or CommonJS (`.ts`, `.mts`,
 * `.cts`, `.js`, `.mjs`, `.cjs`): `bin/celeriac.js` runs the build of celeriac (ESM or CommonJS)
 * that the app module itself gets from `import 'celeriac'` / `require('celeriac')`
 * (see `appModuleKind`), so the worker and the app share one copy of every class.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Celeriac } from '../app/celeriac.js';
import { ImproperlyConfigured } from '../errors/index.js';
import { loadOptional } from '../utils/optional.js';

const EXTENSIONS = ['', '.ts', '.mts', '.js', '.mjs', '.cjs', '.cts', '/index.ts', '/index.js'];

/** Splits `module:export`, keeping Windows drive letters intact. */
export function splitAppSpec(spec: string): { module: string; exportName: string } {
  const i = spec.lastIndexOf(':');
  if (i > 1) return { module: spec.slice(0, i), exportName: spec.slice(i + 1) || 'app' };
  return { module: spec, exportName: 'app' };
}

/** The file of an app module, trying the extensions in order. */
export function findFile(module: string, cwd: string): string {
  for (const ext of EXTENSIONS) {
    const candidate = resolve(cwd, module + ext);
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new ImproperlyConfigured(`cannot find the app module '${module}' (looked in ${cwd})`);
}

function isApp(value: unknown): value is Celeriac {
  return (
    value !== null &&
    typeof value === 'object' &&
    'tasks' in value &&
    'conf' in value &&
    typeof (value as { getTransport?: unknown }).getTransport === 'function'
  );
}

/**
 * How Node loads `file`: `.cjs`/`.cts` as CommonJS, `.mjs`/`.mts` as ES modules, others by the
 * `type` of the nearest package.json (CommonJS without one), as Node and tsx decide.
 */
export function moduleKind(file: string): 'commonjs' | 'module' {
  const ext = extname(file);
  if (ext === '.cjs' || ext === '.cts') return 'commonjs';
  if (ext === '.mjs' || ext === '.mts') return 'module';
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: unknown }).type === 'module' ? 'module' : 'commonjs';
      } catch {
        return 'commonjs';
      }
    }
    if (dirname(dir) === dir) return 'commonjs';
  }
}

/**
 * The kind of the app module named by `-A`/`--app` in `argv` (undefined without one or when it
 * cannot be found: the command reports that itself).
 */
export function appModuleKind(argv: readonly string[], cwd: string = process.cwd()): 'commonjs' | 'module' | undefined {
  let spec: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-A' || arg === '--app') spec = argv[i + 1];
    else if (arg.startsWith('--app=')) spec = arg.slice('--app='.length);
    else if (arg.startsWith('-A') && arg.length > 2) spec = arg.slice(arg[2] === '=' ? 3 : 2);
  }
  if (spec === undefined) return undefined;
  try {
    return moduleKind(findFile(splitAppSpec(spec).module, cwd));
  } catch {
    return undefined;
  }
}

let tsxRegistered = false;

/** Registers tsx's loaders (ES and CommonJS), once, for a TypeScript app module. */
async function registerTsx(file: string): Promise<void> {
  if (tsxRegistered || process.execArgv.some((a) => /^(?:--(?:import|require|loader)=)?tsx$|[\\/]tsx[\\/]dist[\\/]/.test(a))) return;
  const user = `the TypeScript app module ${file}`;
  const esm = await loadOptional('tsx', user, () => import('tsx/esm/api'));
  const cjs = await loadOptional('tsx', user, () => import('tsx/cjs/api'));
  esm.register();
  cjs.register();
  tsxRegistered = true;
}

/** Imports the module of `spec` and returns its app export. */
export async function loadApp(spec: string, cwd: string = process.cwd()): Promise<Celeriac> {
  const { module, exportName } = splitAppSpec(spec);
  const file = findFile(module, cwd);
  if (/\.[cm]?ts$/.test(extname(file))) await registerTsx(file);
  let mod: Record<string, unknown>;
  try {
    // CommonJS through require(): its exports as they are (import() of compiled TypeScript sees
    // no names, and fails on a CommonJS .ts imported from an ES module host).
    mod =
      moduleKind(file) === 'commonjs'
        ? (createRequire(file)(file) as Record<string, unknown>)
        : ((await import(pathToFileURL(file).href)) as Record<string, unknown>);
  } catch (err) {
    throw new ImproperlyConfigured(`cannot load the app module '${file}': ${(err as Error).message}`, { cause: err });
  }
  const value = mod[exportName];
  if (value === undefined) {
    const names = Object.keys(mod).join(', ') || '(none)';
    throw new ImproperlyConfigured(`module '${file}' has no export '${exportName}' (its exports: ${names})`);
  }
  if (!isApp(value)) {
    throw new ImproperlyConfigured(`export '${exportName}' of '${file}' is not a Celeriac app`);
  }
  return value;
}
