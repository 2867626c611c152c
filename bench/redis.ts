/**
 * Redis benchmarks, celeriac against BullMQ and (when installed) Python Celery, all on the
 * machine's Redis, measured in the same run:
 * - drain: a backlog of N no-op tasks, results stored, one worker process: tasks per second;
 * - round trip: 500 sequential calls (send, then wait for the result): p50 and p99 latency.
 * celeriac and BullMQ run BENCH_ROUNDS times each, interleaved, and the medians are reported
 * (this machine's speed drifts over minutes; interleaving keeps the ratios fair).
 * Run with `npm run bench` (or `tsx bench/redis.ts`); BENCH_N and BENCH_CALLS change the sizes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { Queue, QueueEvents, Worker as BullWorker } from 'bullmq';
import type { AsyncResult, Celeriac as App } from '../src/index.js';
import { build, celeriacDrain, lib, redisDriver } from './lib.js';
import { envNumber, interleaved, median, percentile, report, since, type Row } from './util.js';

const { Celeriac, silentLogger, Worker } = lib;
const { RedisTransport } = redisDriver;

const N = envNumber('BENCH_N', 10000);
const CALLS = envNumber('BENCH_CALLS', 500);
const CONCURRENCY = envNumber('BENCH_CONCURRENCY', 32);
const ROUNDS = envNumber('BENCH_ROUNDS', 5);
const DB = { celeriac: 10, bullmq: 11, celery: 12 };
const url = (db: number): string => `redis://127.0.0.1:6379/${db}`;
const PYTHON = '/usr/bin/python3';
const BENCH_DIR = new URL('.', import.meta.url).pathname;

async function flush(db: number): Promise<void> {
  const t = new RedisTransport({ url: url(db), transportOptions: {} });
  await t.connect();
  await t.client.flushdb();
  await t.close();
}

function celeriacApp(): App {
  const app = new Celeriac('bench', { broker: url(DB.celeriac), backend: url(DB.celeriac), logger: silentLogger, workerPrefetchMultiplier: 4 });
  app.task(function noop() {
    return null;
  }, { name: 'bench.noop' });
  return app;
}

async function celeriacRedisDrain(): Promise<number> {
  await flush(DB.celeriac);
  return celeriacDrain(url(DB.celeriac), url(DB.celeriac), N, CONCURRENCY);
}

async function celeriacLatency(): Promise<[number, number]> {
  await flush(DB.celeriac);
  const app = celeriacApp();
  const worker = new Worker(app, { concurrency: CONCURRENCY, logger: silentLogger, blockedLoopWarning: null, remoteControl: false });
  await worker.start();
  const samples: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const start = performance.now();
    const r: AsyncResult = await app.sendTask('bench.noop', [i]);
    await r.get({ timeout: 30 });
    samples.push(since(start));
  }
  await worker.stop();
  await app.close();
  return [percentile(samples, 50), percentile(samples, 99)];
}

const bullConnection = { host: '127.0.0.1', port: 6379, db: DB.bullmq };

async function bullDrain(): Promise<number> {
  await flush(DB.bullmq);
  const queue = new Queue('bench', { connection: bullConnection });
  for (let i = 0; i < N; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ name: 'noop', data: { i: i + k } })));
  }
  let done = 0;
  let resolveAll: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (resolveAll = resolve));
  const worker = new BullWorker('bench', async () => null, { connection: bullConnection, concurrency: CONCURRENCY, autorun: false });
  worker.on('completed', () => ++done === N && resolveAll());
  const start = performance.now();
  void worker.run();
  await finished;
  const ms = since(start);
  await worker.close();
  await queue.close();
  return (N / ms) * 1000;
}

async function bullLatency(): Promise<[number, number]> {
  await flush(DB.bullmq);
  const queue = new Queue('bench-rt', { connection: bullConnection });
  const events = new QueueEvents('bench-rt', { connection: bullConnection });
  await events.waitUntilReady();
  const worker = new BullWorker('bench-rt', async () => null, { connection: bullConnection, concurrency: CONCURRENCY });
  await worker.waitUntilReady();
  const samples: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const start = performance.now();
    const job = await queue.add('noop', { i });
    await job.waitUntilFinished(events, 30_000);
    samples.push(since(start));
  }
  await worker.close();
  await events.close();
  await queue.close();
  return [percentile(samples, 50), percentile(samples, 99)];
}

function celeryAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import celery, redis'], { stdio: 'ignore' }).status === 0;
}

function startCeleryWorker(): Promise<() => Promise<void>> {
  const child = spawn(PYTHON, ['-m', 'celery', '-A', 'celery_bench', 'worker', '-P', 'threads', '-c', String(CONCURRENCY), '-Q', 'bench-celery', '--without-gossip', '--without-mingle', '--without-heartbeat', '-l', 'warning'], {
    cwd: BENCH_DIR,
    env: { ...process.env, PYTHONPATH: BENCH_DIR, BENCH_REDIS_URL: url(DB.celery) },
    stdio: 'ignore',
  });
  return Promise.resolve(async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  });
}

function python(...args: string[]): string {
  const r = spawnSync(PYTHON, ['celery_bench.py', ...args], { cwd: BENCH_DIR, encoding: 'utf8', env: { ...process.env, BENCH_REDIS_URL: url(DB.celery) } });
  if (r.status !== 0) throw new Error(`celery_bench.py ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Celery's drain rate from its own stored completion times (excludes its startup). */
async function celeryDrain(): Promise<number> {
  await flush(DB.celery);
  python('enqueue', String(N));
  const stop = await startCeleryWorker();
  const t = new RedisTransport({ url: url(DB.celery), transportOptions: {} });
  await t.connect();
  try {
    for (;;) {
      if ((await t.size('bench-celery')) === 0 && (await t.client.hlen('unacked')) === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await t.client.scan(cursor, 'MATCH', 'celery-task-meta-*', 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const times = (await t.client.mget(...keys)).map((v) => Date.parse(`${(JSON.parse(v ?? '{}') as { date_done: string }).date_done}Z`));
    const spanMs = Math.max(...times) - Math.min(...times);
    return ((times.length - 1) / spanMs) * 1000;
  } finally {
    await t.close();
    await stop();
  }
}

async function celeryLatency(): Promise<[number, number]> {
  await flush(DB.celery);
  const stop = await startCeleryWorker();
  try {
    await new Promise((r) => setTimeout(r, 3000));
    const [p50, p99] = python('latency', String(CALLS)).split(' ').map(Number) as [number, number];
    return [p50, p99];
  } finally {
    await stop();
  }
}

const withCelery = celeryAvailable();
process.stdout.write(
  `Redis benchmarks (celeriac from ${build}): drain of ${N} no-op tasks (results stored, one worker process, ` +
    `concurrency ${CONCURRENCY}); ${CALLS} sequential round trips; celeriac and BullMQ: median of ${ROUNDS} interleaved rounds\n`,
);

const [celeriacDrains, bullDrains] = await interleaved(ROUNDS, [celeriacRedisDrain, bullDrain]);
const drain: Row[] = [
  { name: 'celeriac', value: median(celeriacDrains!), unit: 'tasks/s' },
  { name: 'BullMQ', value: median(bullDrains!), unit: 'tasks/s' },
];
if (withCelery) drain.push({ name: 'Celery (threads pool)', value: await celeryDrain(), unit: 'tasks/s' });
report('Drain', drain, true);

const [celeriacRuns, bullRuns] = await interleaved(ROUNDS, [celeriacLatency, bullLatency]);
const p50: Row[] = [
  { name: 'celeriac', value: median(celeriacRuns!.map(([v]) => v)), unit: 'ms p50' },
  { name: 'BullMQ', value: median(bullRuns!.map(([v]) => v)), unit: 'ms p50' },
];
const p99: Row[] = [
  { name: 'celeriac', value: median(celeriacRuns!.map(([, v]) => v)), unit: 'ms p99' },
  { name: 'BullMQ', value: median(bullRuns!.map(([, v]) => v)), unit: 'ms p99' },
];
if (withCelery) {
  const [y50, y99] = await celeryLatency();
  p50.push({ name: 'Celery (threads pool)', value: y50, unit: 'ms p50' });
  p99.push({ name: 'Celery (threads pool)', value: y99, unit: 'ms p99' });
}
report('Round trip p50', p50, false);
report('Round trip p99', p99, false);
process.exit(0);
