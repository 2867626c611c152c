/**
 * Hostile messages mixed with good tasks, on Redis, RabbitMQ (a queue with a dead-letter queue)
 * and SQLite, against a CLI worker from dist/ in a process of its own (dist/ is built if missing or older than src/).
 * The worker must never crash, stay under 300 MB RSS (bombs included), run every good task exactly
 * once and give every hostile message exactly one clear log line, rejecting or parking it.
 *
 * CI size: 200 good + 200 hostile per broker. CELERIAC_CHAOS_FULL=1 runs the 1,000 + 1,000
 * with 1 GiB bombs; CELERIAC_CHAOS_REPORT=1 prints each run's numbers.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { AmqpTransport } from '../../src/broker/amqp/transport.js';
import { RedisTransport } from '../../src/broker/redis/transport.js';
import { SqliteTransport } from '../../src/broker/sqlite/transport.js';
import type { Transport } from '../../src/index.js';
import { serviceSkip } from '../helpers/services.js';
import { ensureDist } from '../helpers/dist.js';
import { hostileClasses, mix, type HostileClass } from './hostile-messages.js';

const FULL = process.env['CELERIAC_CHAOS_FULL'] === '1';
const GOOD = FULL ? 1000 : 200;
const BAD = FULL ? 1000 : 200;
/** Huge bodies and bombs of each kind per broker (each a 17 MiB body or a 128 MiB-1 GiB bomb). */
const HEAVY = FULL ? 10 : 3;
const RSS_LIMIT_MB = 300;
const root = new URL('../../', import.meta.url).pathname;
const REDIS_URL = 'redis://127.0.0.1:6379/0';
const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672//';
const skipRedis = await serviceSkip('redis');
const skipRabbit = await serviceSkip('rabbitmq');

async function until(cond: () => boolean | Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** What one broker run measured. */
interface Outcome {
  seconds: number;
  maxRssMb: number;
  errorLines: string[];
  strayLines: string[];
  runs: Map<string, number>;
  exitCode: number | null;
  diedEarly: boolean;
}

/** Starts a dist/ CLI worker on `queue`, waits for the run to complete, stops it (SIGTERM). */
async function runWorker(env: Record<string, string>, queue: string, done: (runs: Map<string, number>, errors: number) => boolean | Promise<boolean>): Promise<Outcome> {
  const dir = env['CHAOS_DIR']!;
  const runlog = join(dir, 'runs.log');
  const started = Date.now();
  const child = spawn(process.execPath, ['test/chaos/fixtures/cli.mjs', 'worker', '-A', 'test/chaos/chaos-app.mjs:app', '-Q', queue, '-c', '4', '-l', 'info'], {
    cwd: root,
    env: { ...process.env, ...env, CHAOS_RUNLOG: runlog, CELERIAC_LOG_LEVEL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer): void => {
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let exited = false;
  let stopping = false;
  let diedEarly = false;
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exited = true;
      if (!stopping) diedEarly = true;
      resolve(code);
    }),
  );
  let maxRss = 0;
  const sampler = setInterval(() => (maxRss = Math.max(maxRss, rssMb(child.pid!))), 25);
  const runs = (): Map<string, number> => {
    const m = new Map<string, number>();
    if (!existsSync(runlog)) return m;
    for (const tag of readFileSync(runlog, 'utf8').split('\n')) if (tag) m.set(tag, (m.get(tag) ?? 0) + 1);
    return m;
  };
  const errors = (): string[] => lines.filter((l) => / ERROR\//.test(l));
  try {
    await until(async () => exited || (await done(runs(), errors().length)), 'every good task run and every hostile message refused', FULL ? 600_000 : 90_000);
  } finally {
    stopping = true;
    clearInterval(sampler);
    if (!exited) child.kill('SIGTERM');
  }
  const exitCode = await exit;
  if (partial) lines.push(partial);
  return {
    seconds: (Date.now() - started) / 1000,
    maxRssMb: maxRss,
    errorLines: errors(),
    strayLines: lines.filter((l) => l.trim() !== '' && !/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}: [A-Z]+\//.test(l)),
    runs: runs(),
    exitCode,
    diedEarly,
  };
}

function check(broker: string, o: Outcome, good: number, bad: number, reasons: RegExp): void {
  if (process.env['CELERIAC_CHAOS_REPORT'] === '1') {
    process.stdout.write(`# chaos ${broker}: ${good} good + ${bad} hostile in ${o.seconds.toFixed(1)} s, max RSS ${o.maxRssMb.toFixed(0)} MB, ${o.errorLines.length} error lines, exit ${o.exitCode}\n`);
  }
  assert.equal(o.diedEarly, false, `${broker}: the worker died (exit ${o.exitCode})`);
  assert.equal(o.exitCode, 0, `${broker}: clean exit after SIGTERM`);
  assert.ok(o.maxRssMb > 0 && o.maxRssMb < RSS_LIMIT_MB, `${broker}: max RSS ${o.maxRssMb.toFixed(0)} MB`);
  const bads = [...o.runs.keys()].filter((t) => t.startsWith('bad:'));
  assert.deepEqual(bads, [], `${broker}: hostile messages that ran`);
  const twice = [...o.runs].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], `${broker}: tasks run more than once`);
  const missing = Array.from({ length: good }, (_, i) => `good:${i}`).filter((t) => !o.runs.has(t));
  assert.deepEqual(missing, [], `${broker}: good tasks that never ran`);
  assert.equal(o.errorLines.length, bad, `${broker}: one error line per hostile message\n${o.errorLines.slice(0, 5).join('\n')}`);
  for (const l of o.errorLines) assert.match(l, reasons, `${broker}: a clear reason`);
  assert.deepEqual(o.strayLines.slice(0, 5), [], `${broker}: only log lines on the output (no raw stacks)`);
}

/** A hostile line ends saying what was done with the message. */
const REFUSED = /; message rejected(, not run)?$|parked in celeriac\.undecodable$/;

async function publishAll(transport: Transport, queue: string, items: ReturnType<typeof mix>, raw?: (text: string) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += 50) {
    await Promise.all(
      items.slice(i, i + 50).map((item) =>
        typeof item.payload === 'string' ? raw!(item.payload) : transport.publish(item.payload, { exchange: '', routingKey: queue }),
      ),
    );
  }
}

describe('hostile messages mixed with good tasks, CLI worker from dist/', { concurrency: false }, () => {
  let classes: HostileClass[] = [];
  let dir = '';

  before(async () => {
    await ensureDist();
    classes = await hostileClasses(FULL ? { bomb: 1024 * 1024 * 1024 } : {});
    assert.ok(classes.filter((c) => !c.redisOnly).length >= 25, 'the 25 classes of the issue');
    dir = mkdtempSync(join(tmpdir(), 'celeriac-chaos-'));
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('on Redis: hostile ones rejected or parked, good ones run once', { skip: skipRedis, timeout: FULL ? 900_000 : 120_000 }, async () => {
    const runId = `chaos-redis-${process.pid}-${Date.now()}`;
    const queue = runId;
    const items = mix(classes, GOOD, BAD, { redis: true, runId, maxHeavy: HEAVY });
    const transport = new RedisTransport({ url: REDIS_URL, transportOptions: {} });
    const redis = new Redis(REDIS_URL);
    redis.on('error', () => undefined);
    try {
      await transport.connect();
      const parkedBefore = await redis.llen('celeriac.undecodable');
      await publishAll(transport, queue, items, async (text) => void (await redis.lpush(queue, text)));
      const runDir = mkdtempSync(join(dir, 'redis-'));
      const o = await runWorker({ CHAOS_BROKER: REDIS_URL, CHAOS_QUEUE: queue, CHAOS_DIR: runDir }, queue, async (runs, errors) => {
        return errors >= BAD && [...runs.keys()].filter((t) => t.startsWith('good:')).length >= GOOD && (await redis.llen(queue)) === 0;
      });
      check('redis', o, GOOD, BAD, REFUSED);
      const envelopeClasses = items.filter((i) => typeof i.payload === 'string').length;
      assert.equal((await redis.llen('celeriac.undecodable')) - parkedBefore, envelopeClasses, 'non-envelopes parked');
      assert.equal(await redis.llen(queue), 0);
    } finally {
      await redis.del(queue);
      redis.disconnect();
      await transport.close();
    }
  });

  it('on RabbitMQ: hostile ones dead-lettered, good ones run once', { skip: skipRabbit, timeout: FULL ? 900_000 : 120_000 }, async () => {
    const runId = `chaos-amqp-${process.pid}-${Date.now()}`;
    const queue = runId;
    const dlq = `${runId}.dlq`;
    const items = mix(classes, GOOD, BAD, { redis: false, runId, maxHeavy: HEAVY });
    const transport = new AmqpTransport({ url: AMQP_URL, transportOptions: {} });
    await transport.connect();
    try {
      await transport.declareQueue({ name: dlq, durable: true, arguments: { 'x-expires': 600_000 } });
      await transport.declareQueue({ name: queue, durable: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq } });
      await publishAll(transport, queue, items);
      const runDir = mkdtempSync(join(dir, 'amqp-'));
      const o = await runWorker({ CHAOS_BROKER: AMQP_URL, CHAOS_QUEUE: queue, CHAOS_DLQ: dlq, CHAOS_DIR: runDir }, queue, async (runs, errors) => {
        return errors >= BAD && [...runs.keys()].filter((t) => t.startsWith('good:')).length >= GOOD && (await transport.size(dlq)) >= BAD;
      });
      check('amqp', o, GOOD, BAD, REFUSED);
      assert.equal(await transport.size(dlq), BAD, 'every hostile message dead-lettered');
      assert.equal(await transport.size(queue), 0);
    } finally {
      await transport.purge(dlq);
      await transport.close();
      spawnSync('rabbitmqctl', ['delete_queue', queue], { stdio: 'ignore' });
      spawnSync('rabbitmqctl', ['delete_queue', dlq], { stdio: 'ignore' });
    }
  });

  it('on SQLite: hostile ones rejected, good ones run once', { timeout: FULL ? 900_000 : 120_000 }, async () => {
    const runId = `chaos-sqlite-${process.pid}`;
    const queue = runId;
    const runDir = mkdtempSync(join(dir, 'sqlite-'));
    const url = `sqlite:///${join(runDir, 'broker.db')}`;
    const items = mix(classes, GOOD, BAD, { redis: false, runId, maxHeavy: HEAVY });
    const transport = new SqliteTransport({ url, transportOptions: {} });
    await transport.connect();
    try {
      await publishAll(transport, queue, items);
      const o = await runWorker({ CHAOS_BROKER: url, CHAOS_QUEUE: queue, CHAOS_DIR: runDir }, queue, async (runs, errors) => {
        return errors >= BAD && [...runs.keys()].filter((t) => t.startsWith('good:')).length >= GOOD && (await transport.size(queue)) === 0;
      });
      check('sqlite', o, GOOD, BAD, REFUSED);
      assert.equal(await transport.size(queue), 0);
    } finally {
      await transport.close();
    }
  });
});
