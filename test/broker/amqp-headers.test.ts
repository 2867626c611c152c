/**
 * Hostile AMQP headers: a header table nested thousands deep (amqplib's recursive decoder
 * overflows the stack on it) must not close the consumer's connection; that message alone is
 * rejected, dead-lettered, with one line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { AmqpTransport } from '../../src/broker/amqp/transport.js';
import { withPlaceholderHeaders } from '../../src/broker/amqp/header-guard.js';
import type { Delivery } from '../../src/index.js';
import { captureLog } from '../helpers/app.js';
import { serviceSkip } from '../helpers/services.js';

const URL = 'amqp://guest:guest@127.0.0.1:5672//';
const skipRabbit = await serviceSkip('rabbitmq');

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Publishes good, deep, good from a process with a stack big enough for amqplib to encode it. */
function publishDeep(queue: string, depth: number): void {
  const script = `
    import amqp from 'amqplib';
    const c = await amqp.connect(${JSON.stringify(URL)});
    const ch = await c.createConfirmChannel();
    let deep = {}; for (let i = 0; i < ${depth}; i++) deep = { a: deep };
    ch.sendToQueue(${JSON.stringify(queue)}, Buffer.from('good-1'), { headers: { n: 1 } });
    ch.sendToQueue(${JSON.stringify(queue)}, Buffer.from('deep'), { contentType: 'application/json', headers: { deep } });
    ch.sendToQueue(${JSON.stringify(queue)}, Buffer.from('good-2'), { headers: { n: 2 } });
    await ch.waitForConfirms();
    await c.close();`;
  const r = spawnSync(process.execPath, ['--stack-size=50000', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
}

describe('amqp headers amqplib cannot decode', () => {
  it('rewrites only a whole content-header frame that has headers', () => {
    assert.equal(withPlaceholderHeaders(Buffer.from([1, 0, 1, 0, 0, 0, 0, 0xce]), 'x'), undefined, 'a method frame');
    assert.equal(withPlaceholderHeaders(Buffer.from([2, 0, 1]), 'x'), undefined, 'an incomplete frame');
  });

  it('a table nested 9,000 deep is rejected to the dead-letter queue; the connection and the good messages live', { skip: skipRabbit, timeout: 60_000 }, async () => {
    const log = captureLog('info');
    const t = new AmqpTransport({ url: URL, transportOptions: {}, logger: log.logger });
    const queue = `celeriac-deep-${process.pid}-${Date.now()}`;
    const dlq = `${queue}.dlq`;
    await t.connect();
    try {
      await t.declareQueue({ name: dlq, durable: false, arguments: { 'x-expires': 30_000 } });
      await t.declareQueue({
        name: queue, durable: false,
        arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq, 'x-expires': 30_000 },
      });
      const got: string[] = [];
      const consumer = await t.consume([queue], (d: Delivery) => {
        got.push(d.message.body.toString());
        void d.ack();
      }, { prefetch: 10 });
      publishDeep(queue, 9000);
      await until(() => got.length === 2, 'both good messages');
      await until(async () => (await t.size(dlq)) === 1, 'the deep one dead-lettered');
      assert.deepEqual(got, ['good-1', 'good-2']);
      const lines = log.grep('has headers that cannot be decoded');
      assert.equal(lines.length, 1, log.lines.join('\n'));
      assert.match(lines[0]!, /Maximum call stack size exceeded\); message rejected$/);
      assert.deepEqual(log.grep('reconnect'), [], 'the connection never dropped');
      await consumer.close();
    } finally {
      await t.purge(dlq);
      await t.close();
    }
  });
});
