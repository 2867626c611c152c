/**
 * The embedded default against the memory broker: drain of N no-op tasks (results stored, one
 * worker) on `sqlite://` + `db+sqlite://` (one file), and on `memory://`, in the same run.
 * Run with `npm run bench` (or `tsx bench/sqlite.ts`); BENCH_N changes the size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, lib } from './lib.js';
import { envNumber, report, since } from './util.js';

const { Celeriac, silentLogger, Worker } = lib;
const N = envNumber('BENCH_N', 5000);
const CONCURRENCY = envNumber('BENCH_CONCURRENCY', 32);

async function drain(broker: string, backend: string): Promise<number> {
  const app = new Celeriac('bench', { broker, backend, logger: silentLogger });
  app.task(function noop() {
    return null;
  }, { name: 'bench.noop' });
  for (let i = 0; i < N; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, N - i) }, (_, k) => app.sendTask('bench.noop', [i + k])));
  }
  const worker = new Worker(app, { concurrency: CONCURRENCY, logger: silentLogger, blockedLoopWarning: null });
  let done = 0;
  const finished = new Promise<void>((resolve) => worker.on('task-finished', () => ++done === N && resolve()));
  const start = performance.now();
  await worker.start();
  await finished;
  const ms = since(start);
  await worker.stop();
  await app.close();
  return (N / ms) * 1000;
}

const dir = mkdtempSync(join(tmpdir(), 'celeriac-bench-'));
const file = join(dir, 'bench.sqlite');
process.stdout.write(`\nEmbedded default (celeriac from ${build}): drain of ${N} no-op tasks, results stored, one worker, concurrency ${CONCURRENCY}\n`);
const sqlite = await drain(`sqlite:///${file}`, `db+sqlite:///${file}`);
const memory = await drain('memory://', 'memory://');
rmSync(dir, { recursive: true, force: true });
report('Drain', [
  { name: 'sqlite:// + db+sqlite://', value: sqlite, unit: 'tasks/s' },
  { name: 'memory://', value: memory, unit: 'tasks/s' },
], true);
process.exit(0);
