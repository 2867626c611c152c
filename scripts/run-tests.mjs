#!/usr/bin/env node
// Runs every test file under test/ (or the paths given) with Node's own test runner, TypeScript
// loaded through tsx. The TAP reporter ends the run with `# pass N` / `# fail N`, which CI reads.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path).sort()) collect(join(path, entry), out);
  } else if (/\.test\.(ts|mts|js|mjs)$/.test(path)) {
    out.push(relative(root, path));
  }
  return out;
}

const targets = process.argv.slice(2);
const files = (targets.length > 0 ? targets : ['test']).flatMap((t) => collect(join(root, t), []));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// Type errors fail the run too (tsx strips types without checking them).
const typecheck = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit'], {
  cwd: root,
  stdio: 'inherit',
});
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=tap', '--test-concurrency=2', ...files],
  { cwd: root, stdio: 'inherit' },
);
if (typecheck.status !== 0) console.error('typecheck failed (see the errors above)');
process.exit(typecheck.status !== 0 ? 1 : (result.status ?? 1));
