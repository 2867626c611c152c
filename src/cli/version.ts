/**
 * `celeriac --version`: the version in celeriac's own package.json, found by walking up from this
 * file (the same walk works from src/, dist/esm/ and dist/cjs/).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The version of the celeriac package that `file` belongs to ('unknown' if none is found). */
export function packageVersion(file: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'celeriac' && typeof pkg.version === 'string') return pkg.version;
      } catch {
        // not ours (or unreadable): keep walking up
      }
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}
