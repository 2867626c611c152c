/**
 * Loads the app a CLI command works on: `-A path/to/module[:export]`, a TypeScript or JavaScript
 * module whose named export (default `app`) is a Celeriac app. TypeScript modules are loaded
 * through tsx.
 */
import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Celeriac } from '../app/celeriac.js';
import { ImproperlyConfigured } from '../errors/index.js';

const EXTENSIONS = ['', '.ts', '.mts', '.js', '.mjs', '.cjs', '.cts', '/index.ts', '/index.js'];

/** Splits `module:export`, keeping Windows drive letters intact. */
export function splitAppSpec(spec: string): { module: string; exportName: string } {
  const i = spec.lastIndexOf(':');
  if (i > 1) return { module: spec.slice(0, i), exportName: spec.slice(i + 1) || 'app' };
  return { module: spec, exportName: 'app' };
}

function findFile(module: string, cwd: string): string {
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

let tsxRegistered = false;

/** Imports the module of `spec` and returns its app export. */
export async function loadApp(spec: string, cwd: string = process.cwd()): Promise<Celeriac> {
  const { module, exportName } = splitAppSpec(spec);
  const file = findFile(module, cwd);
  if (/\.[cm]?ts$/.test(extname(file)) && !tsxRegistered && !process.execArgv.some((a) => a.includes('tsx'))) {
    const { register } = await import('tsx/esm/api');
    register();
    tsxRegistered = true;
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
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
