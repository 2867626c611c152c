/** Redis broker behaviour beyond the conformance suite: kombu's key layout, reconnects, errors. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RedisTransport } from '../../src/broker/redis/transport.js';
import { Celeriac, OperationalError, sleep, Worker } from '../../src/index.js';
import { captureLog } from '../helpers/app.js';
import { serviceSkip } from '../helpers/services.js';
import { Inbox, sampleMessage, textOf } from '../conformance/broker-suite.js';

const URL = 'redis://127.0.0.1:6379/14';

async function fresh(): Promise<RedisTransport> {
  const t = new RedisTransport({ url: URL, transportOptions: {} });
  await t.connect();
  await t.client.flushdb();
  return t;
}

describe('redis broker', async () => {
  const skip = await serviceSkip('redis');

  it('keeps kombu\'s layout: priority sub-queues served lowest number first, bindings, unacked index', { skip }, async () => {
    const t = await fresh();
    try {
      await t.declareQueue({ name: 'q', exchange: 'ex', exchangeType: 'direct', routingKey: 'rk' });
      assert.deepEqual(await t.client.smembers('_kombu.binding.ex'), ['rk\x06\x16\x06\x16q']);
      await t.publish(sampleMessage('p9', { properties: { priority: 9 } }), { exchange: 'ex', routingKey: 'rk' });
      await t.publish(sampleMessage('p0', { properties: { priority: 0 } }), { exchange: 'ex', routingKey: 'rk' });
      await t.publish(sampleMessage('p5', { properties: { priority: 5 } }), { exchange: 'ex', routingKey: 'rk' });
      assert.equal(await t.client.llen('q\x06\x169'), 1);
      assert.equal(await t.client.llen('q\x06\x163'), 1, 'priority 5 goes to the step at or below it, 3');
      const inbox = new Inbox();
      await t.consume(['q'], inbox.handler, { prefetch: 1 });
      const order: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const d = (await inbox.waitFor(i))[i - 1]!;
        order.push(textOf(d));
        if (i === 1) {
          assert.equal(await t.client.hexists('unacked', d.deliveryTag), 1, 'held in the unacked hash');
          assert.notEqual(await t.client.zscore('unacked_index', d.deliveryTag), null);
        }
        await d.ack();
      }
      assert.deepEqual(order, ['p0', 'p5', 'p9']);
      await sleep(50);
      assert.equal(await t.client.hlen('unacked'), 0);
    } finally {
      await t.close();
    }
  });

  it('parks a message it cannot read in celeriac.undecodable, drops its unacked record, and goes on delivering', { skip }, async () => {
    const t = await fresh();
    try {
      // Tag, exchange and routing key in plain sight (the reserve script records it), but no body.
      const bad = JSON.stringify({ body: 5, properties: { delivery_tag: 'bad-1', delivery_info: { exchange: '', routing_key: 'q' } } });
      await t.client.lpush('q', bad);
      await t.publish(sampleMessage('good'), { exchange: '', routingKey: 'q' });
      const inbox = new Inbox();
      await t.consume(['q'], inbox.handler, { prefetch: 4 });
      const [d] = await inbox.waitFor(1);
      assert.equal(textOf(d!), 'good');
      await d!.ack();
      await sleep(100);
      assert.deepEqual(await t.client.lrange('celeriac.undecodable', 0, -1), [bad]);
      assert.equal(await t.client.hexists('unacked', 'bad-1'), 0, 'no unacked record left to restore');
      assert.equal(await t.client.zscore('unacked_index', 'bad-1'), null);
    } finally {
      await t.close();
    }
  });

  it('resumes consuming after its connections are killed, losing nothing', { skip, timeout: 30_000 }, async () => {
    const t = await fresh();
    await t.close();
    const app = new Celeriac('reconnect', { broker: URL, backend: URL, logger: captureLog().logger, taskAcksLate: true });
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    const worker = new Worker(app, { logger: captureLog().logger, remoteControl: false });
    await worker.start();
    try {
      assert.equal(await (await add.delay(1, 1)).get({ timeout: 5 }), 2);
      const admin = await fresh();
      // Only this test's connections (database 14): other tests share the server.
      const list = String(await admin.client.call('CLIENT', 'LIST'));
      const self = String(await admin.client.call('CLIENT', 'ID'));
      const ids = list.split('\n').filter((l) => / db=14 /.test(l)).map((l) => /\bid=(\d+)/.exec(l)?.[1]).filter((id): id is string => !!id && id !== self);
      for (const id of ids) await admin.client.call('CLIENT', 'KILL', 'ID', id);
      assert.ok(ids.length >= 3, `killed ${ids.length} connections (commands, blocking reads, lease renewals)`);
      await admin.close();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => add.delay(i, 1)));
      const values = await Promise.all(results.map((r) => r.get({ timeout: 15 })));
      assert.deepEqual(values, Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await worker.stop();
      await app.close();
    }
  });

  it('records every envelope layout as kombu does in the unacked hash: compact, Python spacing, repeated keys, escapes', { skip }, async () => {
    const t = await fresh();
    const tagged = (tag: string, exchange: string, routingKey: string, headers: Record<string, unknown> = {}) => ({
      body: Buffer.from('[[], {}, {}]').toString('base64'),
      'content-encoding': 'utf-8',
      'content-type': 'application/json',
      headers,
      properties: { delivery_info: { exchange, routing_key: routingKey }, body_encoding: 'base64', delivery_tag: tag, priority: 0 },
    });
    const envelopes: Array<[string, string, string, string]> = [
      // [payload as pushed, tag, exchange, routing key]
      [JSON.stringify(tagged('t-compact', '', 'q')), 't-compact', '', 'q'],
      [JSON.stringify(tagged('t-python', 'celery', 'q'), null, 0).replace(/":/g, '": ').replace(/,"/g, ', "'), 't-python', 'celery', 'q'],
      [JSON.stringify(tagged('t-repeated', '', 'q', { delivery_tag: 'not-this-one', exchange: 'nor-this' })), 't-repeated', '', 'q'],
      [JSON.stringify(tagged('t-escaped', 'ex"1', 'q\\path')), 't-escaped', 'ex"1', 'q\\path'],
    ];
    try {
      for (const [payload] of envelopes) await t.client.lpush('q', payload);
      const inbox = new Inbox();
      await t.consume(['q'], inbox.handler, { prefetch: 10 });
      const got = await inbox.waitFor(envelopes.length);
      assert.deepEqual(got.map((d) => d.deliveryTag), envelopes.map(([, tag]) => tag));
      for (const [payload, tag, exchange, routingKey] of envelopes) {
        const entry = await t.client.hget('unacked', tag);
        assert.ok(entry, `${tag} is in the unacked hash`);
        // kombu's restore reads it back as [payload, exchange, routing_key].
        assert.deepEqual(JSON.parse(entry), [JSON.parse(payload), exchange, routingKey], tag);
        assert.notEqual(await t.client.zscore('unacked_index', tag), null, `${tag} is in the unacked index`);
      }
      for (const d of got) await d.ack();
      await sleep(50);
      assert.equal(await t.client.hlen('unacked'), 0);
      assert.equal(await t.client.zcard('unacked_index'), 0);
    } finally {
      await t.close();
    }
  });

  it('fails with OperationalError naming the server when Redis is unreachable', async () => {
    const t = new RedisTransport({ url: 'redis://:secret@127.0.0.1:1/0', transportOptions: { connectTimeout: 1 } });
    await assert.rejects(t.connect(), (e: Error) => e instanceof OperationalError && e.message.includes('127.0.0.1:1') && !e.message.includes('secret'));
    const app = new Celeriac('down', { broker: 'redis://127.0.0.1:1/0', backend: 'memory://', brokerTransportOptions: { connectTimeout: 1 }, logger: captureLog().logger });
    await assert.rejects(app.sendTask('tasks.add', [1, 2]), (e: Error) => e instanceof OperationalError && /unreachable/.test(e.message));
    await app.close();
  });
});
