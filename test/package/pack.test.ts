// The package as a user gets it: `npm pack` (which builds it), the tarball installed into a fresh
// `npm init -y` project (CommonJS) and into an ES module project, each with only the driver it
// uses. In each: a tasks module and a client typecheck under --strict with no tsconfig, a worker
// runs from `npx celeriac worker`, the client gets its result, and everything exits 0.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serviceSkip } from '../helpers/services.js';
import { makeProject, mustRun, packRepository, run, startWorker, typecheck, writeFiles } from './project.js';

const TASKS_CJS = `import { Celeriac } from 'celeriac';

/** The embedded default: the SQLite file celeriac.sqlite in the working directory. */
export const app = new Celeriac('proj');

export const add = app.task(function add(x: number, y: number): number {
  return x + y;
});
`;

// CommonJS has no top-level await: the client is an async function. It ends by itself.
const CLIENT_CJS = `import { chain } from 'celeriac';
import { add, app } from './tasks';

// Internal methods are not in the published declarations.
// @ts-expect-error internal
void app.sendTaskCall;
// @ts-expect-error internal
void app.applyEager;
// @ts-expect-error internal
void app.storeState;
// @ts-expect-error internal
void app.retryTask;
// @ts-expect-error internal
void app.onRevoke;
// @ts-expect-error arguments are typed from the task function
void add.s('1');

async function main(): Promise<void> {
  const sum: number = await (await add.delay(2, 3)).get({ timeout: 30 });
  const chained: number = await (await chain(add.s(1, 2), add.s(10)).applyAsync()).get({ timeout: 30 });
  console.log(\`add(2, 3) = \${sum}, chain = \${chained}\`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
`;

// Plain CommonJS: require() works, and a driver that is not installed is named.
const REQUIRE_CJS = `const { Celeriac, ImproperlyConfigured } = require('celeriac');
const app = new Celeriac('m', { broker: 'redis://127.0.0.1:1/0' });
app.getTransport().then(
  () => { console.log('connected?'); process.exitCode = 2; },
  (err) => console.log(err instanceof ImproperlyConfigured ? err.message : 'wrong error: ' + err),
);
`;

const TASKS_ESM = `import { Celeriac } from 'celeriac';

const url = process.env['PACK_REDIS_URL'] ?? 'redis://127.0.0.1:6379/0';
export const app = new Celeriac('esmproj', {
  broker: url,
  backend: url,
  taskDefaultQueue: process.env['PACK_QUEUE'] ?? 'celery',
});

export const mul = app.task(function mul(x: number, y: number): number {
  return x * y;
});
`;

const CLIENT_ESM = `import { group } from 'celeriac';
import { app, mul } from './tasks.js';

const product: number = await (await mul.delay(6, 7)).get({ timeout: 30 });
const products = await (await group(mul.s(2, 2), mul.s(3, 3)).applyAsync()).get({ timeout: 30 });
console.log(\`mul(6, 7) = \${product}, group = \${JSON.stringify(products)}\`);
await app.close();
`;

describe('the packed package in fresh projects', { timeout: 600_000 }, () => {
  let dir: string;
  let tarball: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'celeriac-pack-'));
    tarball = await packRepository(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a CommonJS project (npm init -y) on the embedded default: require(), typecheck, npx celeriac worker -A tasks.ts, a client', async () => {
    const project = join(dir, 'cjs');
    await makeProject(project, 'commonjs', tarball, ['tsx']);
    writeFiles(project, { 'tasks.ts': TASKS_CJS, 'client.ts': CLIENT_CJS, 'require.cjs': REQUIRE_CJS });
    await typecheck(project, ['tasks.ts', 'client.ts']);

    const required = await mustRun(process.execPath, ['require.cjs'], project);
    assert.equal(required.stdout.trim(), 'redis:// needs ioredis: npm install ioredis');
    const version = await mustRun('npx', ['--no-install', 'celeriac', '--version'], project);
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+/);

    const worker = await startWorker(project, ['-A', 'tasks.ts', '-c', '2']);
    try {
      assert.ok(worker.log().includes(`broker sqlite file ${join(project, 'celeriac.sqlite')}`), worker.log());
      const client = await run('npx', ['--no-install', 'tsx', 'client.ts'], project, { timeoutMs: 60_000 });
      assert.equal(client.code, 0, client.stderr);
      assert.equal(client.stdout.trim(), 'add(2, 3) = 5, chain = 13');
    } finally {
      assert.equal(await worker.stop(), 0, worker.log());
    }
  });

  it('an ES module project with only ioredis: typecheck, npx celeriac worker -A tasks.ts, a client', async (t) => {
    const skip = await serviceSkip('redis');
    if (skip) return t.skip(skip);
    const project = join(dir, 'esm');
    await makeProject(project, 'module', tarball, ['tsx', 'ioredis']);
    writeFiles(project, { 'tasks.ts': TASKS_ESM, 'client.ts': CLIENT_ESM });
    await typecheck(project, ['tasks.ts', 'client.ts']);

    const env = { ...process.env, PACK_QUEUE: `pack-${process.pid}-${Date.now()}` };
    const worker = await startWorker(project, ['-A', 'tasks.ts', '-c', '2'], env);
    try {
      const client = await run('npx', ['--no-install', 'tsx', 'client.ts'], project, { env, timeoutMs: 60_000 });
      assert.equal(client.code, 0, client.stderr);
      assert.equal(client.stdout.trim(), 'mul(6, 7) = 42, group = [4,9]');
    } finally {
      assert.equal(await worker.stop(), 0, worker.log());
    }
  });
});
