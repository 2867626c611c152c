import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Celeriac, decodeTaskMessage, EncodeError, ImproperlyConfigured, OperationalError, silentLogger, type Transport } from '../../src/index.js';
import { queueDefinition } from '../../src/app/queues.js';
import type { QueueSpec, Route } from '../../src/broker/port.js';
import { testApp } from '../helpers/app.js';

async function firstMessage(app: ReturnType<typeof testApp>['app'], queue = 'celery') {
  const transport = await app.getTransport();
  let decoded: ReturnType<typeof decodeTaskMessage> | undefined;
  const consumer = await transport.consume([queue], (d) => (decoded = decodeTaskMessage(d.message, app.codecs)), { prefetch: 1 });
  while (!decoded) await new Promise((r) => setTimeout(r, 2));
  await consumer.close();
  return decoded;
}

describe('sending tasks', () => {
  it('puts argsrepr / kwargsrepr on the wire, replacing the real arguments in monitors', async () => {
    const { app } = testApp();
    const charge = app.task(function charge(card: string, amount: number) {
      return amount;
    }, { name: 'tasks.charge' });
    await charge.applyAsync(['4111-1111-1111-1111', 10], {}, { argsrepr: "('<card>', 10)", kwargsrepr: '{}' });
    const m = await firstMessage(app);
    assert.equal(m.headers['argsrepr'], "('<card>', 10)");
    assert.equal(m.headers['kwargsrepr'], '{}');
    assert.deepEqual(m.args, ['4111-1111-1111-1111', 10], 'the task still gets the real arguments');
  });

  it('routes by task_routes (exact and glob), task queue option, and call options', async () => {
    const { app } = testApp({ taskRoutes: { 'feeds.*': { queue: 'feeds' }, 'tasks.exact': 'exact' } });
    const feed = app.task(function fetchFeed() {
      return 1;
    }, { name: 'feeds.fetch' });
    const exact = app.task(function exactly() {
      return 1;
    }, { name: 'tasks.exact' });
    const own = app.task(function ownQueue() {
      return 1;
    }, { name: 'tasks.own', queue: 'mine' });
    await feed.delay();
    await exact.delay();
    await own.delay();
    await own.applyAsync([], {}, { queue: 'override' });
    const transport = await app.getTransport();
    assert.deepEqual(
      await Promise.all(['feeds', 'exact', 'mine', 'override', 'celery'].map((q) => transport.size(q))),
      [1, 1, 1, 1, 0],
    );
  });

  it('sets eta from countdown, expires from seconds, priority and custom headers', async () => {
    const { app } = testApp();
    const t = app.task(function t1() {
      return 1;
    }, { name: 'tasks.t1' });
    const before = Date.now();
    await t.applyAsync([], {}, { countdown: 30, expires: 60, priority: 7, headers: { trace: 'abc' } });
    const m = await firstMessage(app);
    assert.ok(m.eta && Math.abs(m.eta.getTime() - (before + 30_000)) < 2000);
    assert.ok(m.expires && Math.abs(m.expires.getTime() - (before + 60_000)) < 2000);
    assert.match(String(m.headers['eta']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    assert.equal(m.properties.priority, 7);
    assert.equal(m.headers['trace'], 'abc');
  });

  it('rejects with ImproperlyConfigured naming an unknown broker scheme', async () => {
    const { app } = testApp({ broker: 'nosuch://host' });
    const t = app.task(function t2() {
      return 1;
    }, { name: 'tasks.t2' });
    await assert.rejects(t.delay(), (err: unknown) => {
      assert.ok(err instanceof ImproperlyConfigured);
      assert.match(err.message, /unknown broker scheme 'nosuch'/);
      return true;
    });
  });

  it('rejects with OperationalError when the broker cannot take the message, naming the task', async () => {
    const { app } = testApp({ broker: 'flaky://user:secret@host' });
    app.transports.register('flaky', () => {
      const refuse = async (): Promise<never> => {
        throw new Error('connection refused');
      };
      return { driver: 'flaky', connect: async () => undefined, close: async () => undefined, declareExchange: refuse, declareQueue: async () => undefined, publish: refuse, consume: refuse, purge: refuse, size: refuse } satisfies Transport;
    });
    const t = app.task(function t3() {
      return 1;
    }, { name: 'tasks.t3' });
    await assert.rejects(t.delay(), (err: unknown) => {
      assert.ok(err instanceof OperationalError);
      assert.match(err.message, /cannot send task 'tasks\.t3' to the broker at flaky:\/\/user:\*\*@host: connection refused/);
      return true;
    });
  });

  it('sends without touching the result backend: an unreachable one fails get(), not the send', async () => {
    const app = new Celeriac('no-backend-on-send', {
      broker: 'memory://',
      backend: 'redis://127.0.0.1:1/0',
      resultBackendTransportOptions: { connectTimeout: 0.5 },
      logger: silentLogger,
    });
    const result = await app.sendTask('tasks.anything', [1]);
    assert.equal((await (await app.getTransport()).size('celery')), 1);
    await assert.rejects(result.get({ timeout: 1 }), OperationalError);
    await app.close();
  });

  it("derives the exchange and routing key from taskDefaultQueue, as Celery (unset task_default_exchange / routing key)", async () => {
    const { app } = testApp({ taskDefaultQueue: 'default' });
    const transport = await app.getTransport();
    const declared: QueueSpec[] = [];
    const published: Route[] = [];
    const declareQueue = transport.declareQueue.bind(transport);
    const publish = transport.publish.bind(transport);
    transport.declareQueue = async (spec) => {
      declared.push(spec);
      return declareQueue(spec);
    };
    transport.publish = async (message, route) => {
      published.push(route);
      return publish(message, route);
    };
    const t = app.task(function toDefault() {
      return 1;
    }, { name: 'tasks.to_default' });
    await t.delay();
    assert.deepEqual(declared, [{ name: 'default', exchange: 'default', exchangeType: 'direct', routingKey: 'default' }]);
    assert.deepEqual(published, [{ exchange: '', routingKey: 'default' }], 'the default exchange, routing key = the queue');
    assert.deepEqual([await transport.size('default'), await transport.size('celery')], [1, 0]);
    assert.deepEqual(queueDefinition(app.conf, 'default', true), declared[0], 'the worker declares the same queue');
    await app.close();
  });

  it('keeps an explicit task_default_exchange and task_default_routing_key', () => {
    const { app } = testApp({ task_default_queue: 'jobs', task_default_exchange: 'work', task_default_routing_key: 'work.jobs' });
    assert.deepEqual(queueDefinition(app.conf, 'jobs'), { name: 'jobs', exchange: 'work', exchangeType: 'direct', routingKey: 'work.jobs' });
    const withTable = testApp({ taskQueues: [{ name: 'plain' }] }).app;
    assert.deepEqual(queueDefinition(withTable.conf, 'plain'), { name: 'plain', exchange: 'celery', exchangeType: 'direct', routingKey: 'plain' });
  });

  it('refuses arguments JSON cannot carry with EncodeError naming the argument, and sends nothing', async () => {
    const { app } = testApp();
    const t = app.task(function takes(_a: unknown, _b?: unknown, _opts?: unknown) {
      return 1;
    }, { name: 'tasks.takes', typing: false });
    await assert.rejects(t.delay(1, new Map([['k', 1]])), (err: unknown) => {
      assert.ok(err instanceof EncodeError);
      assert.equal(err.message, "cannot send task 'tasks.takes': args[1] cannot be encoded as json: a Map has no JSON form (convert it, e.g. Object.fromEntries(map))");
      return true;
    });
    await assert.rejects(t.applyAsync([1], { _opts: { onDone: () => 1 } }), /cannot send task 'tasks\.takes': kwargs\._opts\.onDone cannot be encoded as json: a function has no JSON form/);
    class Point {
      x = 1;
    }
    await assert.rejects(t.delay([new Point()]), /args\[0\]\[0\] cannot be encoded as json: an instance of Point would lose its class/);
    assert.equal(await (await app.getTransport()).size('celery'), 0);
    await t.delay(2n ** 64n, -0, { big: 2n ** 70n });
    const m = await firstMessage(app);
    assert.deepEqual(m.args, [2n ** 64n, -0, { big: 2n ** 70n }], 'bigints and -0 cross exactly');
    assert.ok(Object.is(m.args[1], -0));
    await app.close();
  });
});
