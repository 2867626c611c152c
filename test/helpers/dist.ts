/**
 * The built package (`dist/`) for tests that run what users run. Built once when missing or older
 * than `src/`; concurrent test files wait for one build instead of racing (a lock directory).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;

/** The ES module build's CLI entry (what `npx celeriac` runs for an ES module app). */
export const DIST_CLI = join(ROOT, 'dist/esm/cli/main.js');

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function stale(): boolean {
  return !existsSync(DIST_CLI) || statSync(DIST_CLI).mtimeMs < newest(join(ROOT, 'src'));
}

/** Builds `dist/` (scripts/build.mjs) unless it is up to date; throws with the build's output on failure. */
export async function ensureDist(): Promise<void> {
  if (!stale()) return;
  const lock = join(ROOT, 'dist.building');
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`waited 5 minutes for another build of dist/ (remove ${lock} if none runs)`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (!stale()) return;
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building dist/ failed:\n${r.stdout}${r.stderr}`);
  } finally {
    rmdirSync(lock);
  }
}
