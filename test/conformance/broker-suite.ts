/**
 * The broker conformance suite: the Transport port's contract (src/broker/port.ts), run against
 * every driver. A driver's runner builds a {@link BrokerHarness} and calls
 * {@link brokerConformance}. Each test uses queues of its own, so runs on a shared server do not
 * interfere, and fails (rather than hangs) when a delivery never comes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Consumer, Delivery, Transport } from '../../src/broker/port.js';
import type { TransportMessage } from '../../src/protocol/message.js';
import type { BrokerHarness } from './harness.js';

/** A message with recognisable content. */
export function sampleMessage(text: string, extra: Partial<TransportMessage> = {}): TransportMessage {
  return {
    body: Buffer.from(JSON.stringify([[text], {}, { callbacks: null, errbacks: null, chain: null, chord: null }])),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    headers: { lang: 'py', task: 'tasks.echo', id: text, retries: 0, argsrepr: `('${text}',)` },
    properties: { correlation_id: text, reply_to: 'reply-queue', delivery_mode: 2 },
    ...extra,
  };
}

/** The text a sample message carries. */
export function textOf(d: Delivery): string {
  return (JSON.parse(d.message.body.toString('utf8')) as [[string]])[0][0];
}

/** Collects deliveries; `next(n)` waits for n more, failing after `ms`. */
export class Inbox {
  readonly deliveries: Delivery[] = [];
  private waiters: Array<() => void> = [];
  readonly handler = (d: Delivery): void => {
    this.deliveries.push(d);
    for (const w of this.waiters.splice(0)) w();
  };

  async waitFor(count: number, ms = 5000): Promise<Delivery[]> {
    const deadline = Date.now() + ms;
    while (this.deliveries.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} deliveries, got ${this.deliveries.length} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.deliveries.slice(0, count);
  }

  /** Waits a little and asserts nothing more arrived than `count`. */
  async expectNoMoreThan(count: number, ms = 300): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    assert.equal(this.deliveries.length, count, `expected no more than ${count} deliveries`);
  }
}

/** Waits until `predicate` holds, failing after `ms`. */
export async function eventually(predicate: () => Promise<boolean> | boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Runs the suite. `harness` resolves with the driver under test, or with a string: the reason to
 * skip (an unreachable service).
 */
export function brokerConformance(name: string, harness: () => Promise<BrokerHarness | string>): void {
  describe(`broker conformance: ${name}`, async () => {
    const h = await harness();
    const skip = typeof h === 'string' ? h : false;
    let transport: Transport;
    const created: string[] = [];
    const consumers: Consumer[] = [];
    const queue = (label: string): string => {
      const q = `conf-${randomUUID().slice(0, 8)}-${label}`;
      created.push(q);
      return q;
    };
    const consume = async (t: Transport, queues: string[], inbox: Inbox, prefetch = 0): Promise<Consumer> => {
      const c = await t.consume(queues, inbox.handler, { prefetch });
      consumers.push(c);
      return c;
    };

    before(async () => {
      if (typeof h === 'string') return;
      transport = await h.connect();
    });

    after(async () => {
      if (typeof h === 'string') return;
      for (const c of consumers) await c.close().catch(() => undefined);
      for (const q of created) await transport.purge(q).catch(() => 0);
      await transport.close();
      await h.teardown();
    });

    it('delivers a published message intact: body bytes, headers, properties, content type', { skip }, async () => {
      const q = queue('intact');
      await transport.declareQueue({ name: q });
      const text = 'héllo wörld ✓ 你好';
      const msg = sampleMessage(text, { headers: { lang: 'py', task: 'tasks.echo', id: 'x1', nested: { a: [1, 2, null] }, eta: null } });
      await transport.publish(msg, { exchange: '', routingKey: q });
      const inbox = new Inbox();
      await consume(transport, [q], inbox);
      const [d] = await inbox.waitFor(1);
      assert.ok(d);
      assert.deepEqual(d.message.body, msg.body);
      assert.equal(d.message.contentType, 'application/json');
      assert.equal(d.message.contentEncoding, 'utf-8');
      assert.deepEqual(d.message.headers['nested'], { a: [1, 2, null] });
      assert.equal(d.message.headers['id'], 'x1');
      assert.equal(d.message.properties.correlation_id, text);
      assert.equal(d.message.properties.reply_to, 'reply-queue');
      assert.equal(d.redelivered, false);
      assert.equal(d.queue, q);
      assert.equal(typeof d.deliveryTag, 'string');
      await d.ack();
    });

    it('declares queues idempotently and counts ready messages', { skip }, async () => {
      const q = queue('size');
      await transport.declareQueue({ name: q });
      await transport.declareQueue({ name: q });
      assert.equal(await transport.size(q), 0);
      for (let i = 0; i < 3; i++) await transport.publish(sampleMessage(`m${i}`), { exchange: '', routingKey: q });
      await eventually(async () => (await transport.size(q)) === 3, 'size 3');
      assert.equal(await transport.purge(q), 3);
      assert.equal(await transport.size(q), 0);
    });

    it('keeps FIFO order within one priority', { skip }, async () => {
      const q = queue('fifo');
      await transport.declareQueue({ name: q });
      const texts = Array.from({ length: 20 }, (_, i) => `m${i}`);
      for (const t of texts) await transport.publish(sampleMessage(t), { exchange: '', routingKey: q });
      const inbox = new Inbox();
      await consume(transport, [q], inbox);
      const got = await inbox.waitFor(20);
      assert.deepEqual(got.map(textOf), texts);
      for (const d of got) await d.ack();
    });

    it('forgets acked messages; rejected ones are requeued (redelivered) or dropped', { skip }, async () => {
      const q = queue('ack');
      await transport.declareQueue({ name: q });
      for (const t of ['ack-me', 'requeue-me', 'drop-me']) await transport.publish(sampleMessage(t), { exchange: '', routingKey: q });
      const inbox = new Inbox();
      const c = await consume(transport, [q], inbox);
      const first = await inbox.waitFor(3);
      const byText = new Map(first.map((d) => [textOf(d), d]));
      await byText.get('ack-me')!.ack();
      await byText.get('drop-me')!.reject(false);
      await byText.get('requeue-me')!.reject(true);
      const [, , , again] = await inbox.waitFor(4);
      assert.ok(again);
      assert.equal(textOf(again), 'requeue-me');
      assert.equal(again.redelivered, true);
      await again.ack();
      await again.ack(); // idempotent
      await inbox.expectNoMoreThan(4);
      await c.close();
      assert.equal(await transport.size(q), 0, 'nothing left after ack, drop and ack of the requeued one');
    });

    it('gives back unacked deliveries as redelivered when a consumer closes', { skip }, async () => {
      const q = queue('close');
      await transport.declareQueue({ name: q });
      await transport.publish(sampleMessage('held'), { exchange: '', routingKey: q });
      const inbox = new Inbox();
      const c = await consume(transport, [q], inbox);
      await inbox.waitFor(1);
      await c.close();
      await eventually(async () => (await transport.size(q)) === 1, 'message back in the queue');
      const inbox2 = new Inbox();
      await consume(transport, [q], inbox2);
      const [d] = await inbox2.waitFor(1);
      assert.equal(textOf(d!), 'held');
      assert.equal(d!.redelivered, true);
      await d!.ack();
    });

    it('never holds more unacked deliveries than the prefetch limit, and setPrefetch raises it', { skip }, async () => {
      const q = queue('prefetch');
      await transport.declareQueue({ name: q });
      for (let i = 0; i < 10; i++) await transport.publish(sampleMessage(`p${i}`), { exchange: '', routingKey: q });
      const inbox = new Inbox();
      const c = await consume(transport, [q], inbox, 2);
      await inbox.waitFor(2);
      await inbox.expectNoMoreThan(2);
      await inbox.deliveries[0]!.ack();
      await inbox.waitFor(3);
      await inbox.expectNoMoreThan(3);
      c.setPrefetch(5);
      await inbox.waitFor(6);
      await inbox.expectNoMoreThan(6);
      for (const d of inbox.deliveries) await d.ack();
      await inbox.waitFor(10);
      for (const d of inbox.deliveries) await d.ack();
    });

    it('consumes several queues at once and stops after cancel', { skip }, async () => {
      const a = queue('multi-a');
      const b = queue('multi-b');
      await transport.declareQueue({ name: a });
      await transport.declareQueue({ name: b });
      const inbox = new Inbox();
      const c = await consume(transport, [a, b], inbox);
      await transport.publish(sampleMessage('to-a'), { exchange: '', routingKey: a });
      await transport.publish(sampleMessage('to-b'), { exchange: '', routingKey: b });
      const got = await inbox.waitFor(2);
      assert.deepEqual(got.map((d) => `${d.queue}:${textOf(d)}`).sort(), [`${a}:to-a`, `${b}:to-b`].sort());
      for (const d of got) await d.ack();
      await c.cancel();
      await transport.publish(sampleMessage('after-cancel'), { exchange: '', routingKey: a });
      await inbox.expectNoMoreThan(2);
      await eventually(async () => (await transport.size(a)) === 1, 'message kept for a later consumer');
    });

    it('routes through a direct exchange by routing key', { skip }, async () => {
      const exchange = `conf-ex-${randomUUID().slice(0, 8)}`;
      const q1 = queue('direct-1');
      const q2 = queue('direct-2');
      await transport.declareExchange(exchange, 'direct');
      await transport.declareQueue({ name: q1, exchange, exchangeType: 'direct', routingKey: 'key.one' });
      await transport.declareQueue({ name: q2, exchange, exchangeType: 'direct', routingKey: 'key.two' });
      await transport.publish(sampleMessage('one'), { exchange, routingKey: 'key.one' });
      await transport.publish(sampleMessage('two'), { exchange, routingKey: 'key.two' });
      await eventually(async () => (await transport.size(q1)) === 1 && (await transport.size(q2)) === 1, 'one message in each queue');
      const inbox = new Inbox();
      await consume(transport, [q1], inbox);
      const [d] = await inbox.waitFor(1);
      assert.equal(textOf(d!), 'one');
      assert.equal(d!.exchange, exchange);
      assert.equal(d!.routingKey, 'key.one');
      await d!.ack();
    });

    it('copies a fanout message to every bound queue', { skip: skip || (typeof h !== 'string' && !h.features.fanout && 'no fanout') }, async () => {
      const exchange = `conf-fan-${randomUUID().slice(0, 8)}`;
      const q1 = queue('fan-1');
      const q2 = queue('fan-2');
      await transport.declareExchange(exchange, 'fanout');
      await transport.declareQueue({ name: q1, exchange, exchangeType: 'fanout', routingKey: '' });
      await transport.declareQueue({ name: q2, exchange, exchangeType: 'fanout', routingKey: '' });
      const i1 = new Inbox();
      const i2 = new Inbox();
      await consume(transport, [q1], i1);
      await consume(transport, [q2], i2);
      await transport.publish(sampleMessage('broadcast'), { exchange, routingKey: 'ignored' });
      const [d1] = await i1.waitFor(1);
      const [d2] = await i2.waitFor(1);
      assert.equal(textOf(d1!), 'broadcast');
      assert.equal(textOf(d2!), 'broadcast');
      await d1!.ack();
      await d2!.ack();
    });

    it('routes a topic exchange by pattern', { skip: skip || (typeof h !== 'string' && !h.features.topic && 'no topic') }, async () => {
      const exchange = `conf-topic-${randomUUID().slice(0, 8)}`;
      const all = queue('topic-all');
      const tasks = queue('topic-task');
      await transport.declareExchange(exchange, 'topic');
      await transport.declareQueue({ name: all, exchange, exchangeType: 'topic', routingKey: '#' });
      await transport.declareQueue({ name: tasks, exchange, exchangeType: 'topic', routingKey: 'task.*' });
      await transport.publish(sampleMessage('t1'), { exchange, routingKey: 'task.succeeded' });
      await transport.publish(sampleMessage('w1'), { exchange, routingKey: 'worker.heartbeat' });
      const ia = new Inbox();
      const it2 = new Inbox();
      await consume(transport, [all], ia);
      await consume(transport, [tasks], it2);
      const gotAll = await ia.waitFor(2);
      const gotTasks = await it2.waitFor(1);
      assert.deepEqual(gotAll.map(textOf).sort(), ['t1', 'w1']);
      assert.deepEqual(gotTasks.map(textOf), ['t1']);
      await it2.expectNoMoreThan(1);
      for (const d of [...gotAll, ...gotTasks]) await d.ack();
    });

    it('delivers higher-priority messages first', { skip: skip || (typeof h !== 'string' && !h.features.priorities && 'no priorities') }, async () => {
      const q = queue('prio');
      await transport.declareQueue({ name: q, maxPriority: 10 });
      await transport.publish(sampleMessage('low', { properties: { priority: 0 } }), { exchange: '', routingKey: q });
      await transport.publish(sampleMessage('high', { properties: { priority: 9 } }), { exchange: '', routingKey: q });
      await transport.publish(sampleMessage('mid', { properties: { priority: 5 } }), { exchange: '', routingKey: q });
      await eventually(async () => (await transport.size(q)) === 3, 'three messages queued');
      const inbox = new Inbox();
      await consume(transport, [q], inbox, 1);
      const order: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const d = (await inbox.waitFor(i))[i - 1]!;
        order.push(textOf(d));
        await d.ack();
      }
      assert.deepEqual(order, ['high', 'mid', 'low']);
    });

    it('gives each message to exactly one of two competing connections', {
      skip: skip || (typeof h !== 'string' && !h.features.sharedAcrossConnections && 'one connection per broker'),
    }, async () => {
      const harness = h as BrokerHarness;
      const other = await harness.connect();
      try {
        const q = queue('compete');
        await transport.declareQueue({ name: q });
        const a = new Inbox();
        const b = new Inbox();
        const autoAck = (inbox: Inbox) => (d: Delivery) => {
          inbox.handler(d);
          void d.ack();
        };
        consumers.push(await transport.consume([q], autoAck(a), { prefetch: 10 }));
        const cb = await other.consume([q], autoAck(b), { prefetch: 10 });
        const n = 200;
        for (let i = 0; i < n; i++) await other.publish(sampleMessage(`c${i}`), { exchange: '', routingKey: q });
        await eventually(() => a.deliveries.length + b.deliveries.length >= n, `${n} deliveries`, 15000);
        await new Promise((r) => setTimeout(r, 200));
        const seen = [...a.deliveries, ...b.deliveries].map(textOf);
        assert.equal(seen.length, n, 'no message delivered twice');
        assert.equal(new Set(seen).size, n, 'every message delivered');
        await cb.close();
      } finally {
        await other.close();
      }
    });
  });
}
