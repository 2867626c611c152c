/**
 * Redis broker under faults (issue 17): a worker killed while idle loses nothing; a wake-up moves
 * nothing out of a list; a publish is delivered once or rejected and never delivered, across
 * outages of a private redis-server (ports 16400-16409).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { RedisTransport } from '../../src/broker/redis/transport.js';
import { fromEnvelope } from '../../src/broker/redis/envelope.js';
import { trackingPrefixes } from '../../src/broker/redis/waker.js';
import { Celeriac, OperationalError, sleep, Worker } from '../../src/index.js';
import { captureLog } from '../helpers/app.js';
import { eventually, Inbox, sampleMessage, textOf } from '../conformance/broker-suite.js';
import { PrivateRedis, redisServerSkip } from '../helpers/redis-server.js';
import { serviceSkip } from '../helpers/services.js';

const URL = 'redis://127.0.0.1:6379/12';

async function open(options: Record<string, unknown> = {}): Promise<RedisTransport> {
  const t = new RedisTransport({ url: URL, transportOptions: { visibilityTimeout: 1, ...options } });
  await t.connect();
  return t;
}

describe('redis broker faults', async () => {
  const skip = await serviceSkip('redis');

  it('trackingPrefixes keeps the shortest non-overlapping prefixes', () => {
    assert.deepEqual(trackingPrefixes(['celery', 'celery.high', 'a', 'ab', '', 'b']), ['a', 'b', 'celery']);
  });

  it('loses nothing when an idle consumer is stopped, sent a message, and SIGKILLed (issue 17 item 1)', { skip, timeout: 30_000 }, async () => {
    const queue = `stopkill-${process.pid}-${Date.now()}`;
    const admin = await open();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/broker-holder.ts', URL, queue, '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      await eventually(() => out.includes('consuming'), 'the holder to consume', 15_000);
      // Idle: its first look found the queue empty and it now waits for news of a message.
      await eventually(async () => {
        const list = String(await admin.client.call('CLIENT', 'LIST'));
        return / db=12 .*cmd=(brpop|subscribe)/.test(list);
      }, 'the holder to sit idle', 5000);
      child.kill('SIGSTOP');
      await admin.publish(sampleMessage('survivor'), { exchange: '', routingKey: queue });
      // Long enough for a blocked pop to take the message on the server side.
      await eventually(async () => (await admin.client.llen(queue)) === 0, 'a pop', 1500).catch(() => undefined);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      assert.ok(!out.includes('held '), 'the stopped holder never got it');
      const inbox = new Inbox();
      await admin.consume([queue], inbox.handler, { prefetch: 1 });
      const [d] = await inbox.waitFor(1, 8000);
      assert.equal(textOf(d!), 'survivor');
      await d!.ack();
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await admin.close();
    }
  });

  it('wakes an idle consumer within a fraction of its safety poll, taking nothing while idle', { skip, timeout: 20_000 }, async () => {
    const queue = `wake-${process.pid}-${Date.now()}`;
    const t = await open();
    const sender = await open();
    try {
      const inbox = new Inbox();
      await t.consume([queue], inbox.handler, { prefetch: 2 });
      await eventually(async () => {
        const list = String(await sender.client.call('CLIENT', 'LIST'));
        return / db=12 .*cmd=subscribe/.test(list);
      }, 'the consumer to wait for notices', 5000);
      for (let i = 0; i < 5; i++) {
        const sentAt = Date.now();
        await sender.publish(sampleMessage(`m${i}`), { exchange: '', routingKey: queue });
        const d = (await inbox.waitFor(i + 1, 3000))[i]!;
        const latency = Date.now() - sentAt;
        assert.ok(latency < 400, `delivered ${latency} ms after the send (a notice, not the 1 s poll)`);
        await d.ack();
      }
    } finally {
      await sender.close();
      await t.close();
    }
  });
});

/** The texts of the messages waiting in `queue`, oldest first. */
async function queued(t: RedisTransport, queue: string): Promise<string[]> {
  const raw = await t.client.lrange(queue, 0, -1);
  return raw.reverse().map((p) => (JSON.parse(fromEnvelope(p).unpacked.message.body.toString('utf8')) as [[string]])[0][0]);
}

describe('redis publishes across outages: delivered once, or rejected and never delivered', { skip: redisServerSkip }, () => {
  it('sends during a kill -9 and restart (AOF): every resolved one is queued once, no rejected one ever', { timeout: 60_000 }, async () => {
    const server = new PrivateRedis(16401, { aof: true });
    await server.start();
    const t = new RedisTransport({ url: server.url(), transportOptions: { publishTimeout: 1.5, connectTimeout: 1 } });
    await t.connect();
    const outcomes = new Map<string, Promise<boolean>>();
    let n = 0;
    const send = (): void => {
      const id = `m${n++}`;
      outcomes.set(id, t.publish(sampleMessage(id), { exchange: '', routingKey: 'q' }).then(
        () => true,
        (err: unknown) => {
          assert.ok(err instanceof OperationalError, String(err));
          return false;
        },
      ));
    };
    const sendFor = async (ms: number): Promise<void> => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        send();
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    try {
      await sendFor(500);
      await server.kill('SIGKILL');
      await sendFor(3000);
      await server.start();
      await sendFor(1000);
      const settled = new Map<string, boolean>();
      for (const [id, p] of outcomes) settled.set(id, await p);
      await new Promise((r) => setTimeout(r, 500)); // anything still on its way lands now
      const got = await queued(t, 'q');
      const counts = new Map<string, number>();
      for (const id of got) counts.set(id, (counts.get(id) ?? 0) + 1);
      const resolved = [...settled].filter(([, ok]) => ok).map(([id]) => id);
      const rejected = [...settled].filter(([, ok]) => !ok).map(([id]) => id);
      assert.ok(rejected.length > 0, 'the outage outlasted the publish timeout for some sends');
      assert.ok(resolved.length > 0);
      assert.deepEqual(resolved.filter((id) => counts.get(id) !== 1), [], 'every resolved send queued exactly once');
      assert.deepEqual(rejected.filter((id) => counts.has(id)), [], 'no rejected send queued');
    } finally {
      await t.close();
      await server.stop();
    }
  });

  it('a send rejected while Redis hangs (SIGSTOP) is refused by Redis when it wakes', { timeout: 30_000 }, async () => {
    const server = new PrivateRedis(16402);
    await server.start();
    const t = new RedisTransport({ url: server.url(), transportOptions: { publishTimeout: 1.5, connectTimeout: 1 } });
    await t.connect();
    try {
      await t.publish(sampleMessage('before'), { exchange: '', routingKey: 'q' });
      server.signal('SIGSTOP');
      await assert.rejects(t.publish(sampleMessage('during'), { exchange: '', routingKey: 'q' }), OperationalError);
      server.signal('SIGCONT');
      await t.publish(sampleMessage('after'), { exchange: '', routingKey: 'q' });
      assert.deepEqual(await queued(t, 'q'), ['before', 'after']);
    } finally {
      server.signal('SIGCONT');
      await t.close();
      await server.stop();
    }
  });
});

describe('redis outage longer than the visibility timeout', { skip: redisServerSkip }, () => {
  it('runs no task twice: live workers keep what they hold (issue 17 item 3)', { timeout: 90_000 }, async () => {
    const server = new PrivateRedis(16403, { aof: true });
    await server.start();
    const runs = new Map<string, number>();
    const done = new Set<string>();
    const apps = [0, 1].map(() => {
      const app = new Celeriac('outage', {
        broker: server.url(),
        backend: 'memory://',
        brokerTransportOptions: { visibilityTimeout: 2, publishTimeout: 20 },
        taskAcksLate: true,
        logger: captureLog('error').logger,
      });
      app.task(async function hold(id: string, seconds: number) {
        runs.set(id, (runs.get(id) ?? 0) + 1);
        await sleep(seconds * 1000);
        done.add(id);
      }, { name: 'outage.hold' });
      return app;
    });
    const workers = apps.map((app, i) => new Worker(app, { concurrency: 4, hostname: `o${i}@test`, logger: captureLog('error').logger, remoteControl: false }));
    try {
      for (const w of workers) await w.start();
      const producer = apps[0]!;
      const long = ['long-0', 'long-1', 'long-2', 'long-3'];
      for (const id of long) await producer.sendTask('outage.hold', [id, 10]);
      const later = ['eta-0', 'eta-1'];
      for (const id of later) await producer.sendTask('outage.hold', [id, 0], {}, { countdown: 4 });
      await eventually(() => long.every((id) => runs.has(id)), 'the long tasks to start', 10_000);
      await server.kill('SIGKILL');
      await sleep(5000); // the outage: more than twice the visibility timeout
      await server.start();
      const all = [...long, ...later];
      await eventually(() => all.every((id) => done.has(id)), 'every task to finish', 40_000);
      await sleep(4000); // two visibility timeouts: time for a wrongful restore to show up
      assert.deepEqual([...runs].filter(([, n]) => n !== 1), [], 'every task ran exactly once');
    } finally {
      for (const w of workers) await w.stop();
      for (const app of apps) await app.close();
      await server.stop();
    }
  });
});
