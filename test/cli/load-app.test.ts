import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { appModuleKind, loadApp, moduleKind } from '../../src/cli/load-app.js';
import { main, type CliIo } from '../../src/cli/main.js';
import { repoRoot, run } from '../package/project.js';

// An object that passes for an app (the loader checks its shape, not its class).
const FAKE_APP = `{ tasks: {}, conf: {}, getTransport() { return undefined; } }`;

describe('app modules of either kind', () => {
  it('tells CommonJS from ES modules as Node does: extension, then the nearest package.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-kind-'));
    mkdirSync(join(dir, 'esm'));
    writeFileSync(join(dir, 'package.json'), '{"name":"x"}');
    writeFileSync(join(dir, 'esm', 'package.json'), '{"type":"module"}');
    assert.equal(moduleKind(join(dir, 'tasks.ts')), 'commonjs');
    assert.equal(moduleKind(join(dir, 'tasks.js')), 'commonjs');
    assert.equal(moduleKind(join(dir, 'tasks.mts')), 'module');
    assert.equal(moduleKind(join(dir, 'esm', 'tasks.ts')), 'module');
    assert.equal(moduleKind(join(dir, 'esm', 'tasks.cjs')), 'commonjs');
    assert.equal(moduleKind(join(dir, 'esm', 'tasks.cts')), 'commonjs');
    writeFileSync(join(dir, 'esm', 'tasks.ts'), '');
    writeFileSync(join(dir, 'tasks.cts'), '');
    assert.equal(appModuleKind(['worker', '-A', 'esm/tasks.ts'], dir), 'module');
    assert.equal(appModuleKind(['worker', '--app=tasks.cts:app'], dir), 'commonjs');
    assert.equal(appModuleKind(['worker', '-Atasks'], dir), 'commonjs', 'found by trying extensions');
    assert.equal(appModuleKind(['--version'], dir), undefined);
  });

  it('loads TypeScript app modules of a CommonJS project (.ts, .cts)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-cts-'));
    writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}');
    writeFileSync(join(dir, 'tasks.ts'), `export const app = ${FAKE_APP};\nexport const other: number = 1;\n`);
    writeFileSync(join(dir, 'more.cts'), `export const app = ${FAKE_APP};\n`);
    // As bin/celeriac.js runs it: tsx registered from code (not --import), then the loader.
    const script = [
      `const { register } = await import('tsx/esm/api'); register();`,
      `const { loadApp } = await import(${JSON.stringify(new URL('../../src/cli/load-app.ts', import.meta.url).href)});`,
      `const app = await loadApp('tasks.ts', ${JSON.stringify(dir)});`,
      `const more = await loadApp('more.cts', ${JSON.stringify(dir)});`,
      `console.log(JSON.stringify([app.tasks, more.conf]));`,
    ].join('\n');
    const result = await run(process.execPath, ['--input-type=module', '-e', script], repoRoot);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), '[{},{}]');
  });

  it('loads .cjs and .mjs app modules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-js-'));
    writeFileSync(join(dir, 'tasks.cjs'), `exports.app = ${FAKE_APP};\n`);
    writeFileSync(join(dir, 'tasks.mjs'), `export const myApp = ${FAKE_APP};\n`);
    assert.deepEqual((await loadApp('tasks.cjs', dir)).conf, {});
    assert.deepEqual((await loadApp('tasks.mjs:myApp', dir)).conf, {});
  });

  it('celeriac --version prints the version in package.json', async () => {
    const out: string[] = [];
    const io: CliIo = { out: (t) => out.push(t), err: (t) => out.push(t), isTTY: false };
    const code = await main(['node', 'celeriac', '--version'], io);
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(code, 0);
    assert.deepEqual(out, [version]);
  });
});
