/**
 * RabbitMQ driver under a lost connection (issue 17): deliveries of the dead channel are marked
 * withdrawn (RabbitMQ requeued them), so the worker leaves them to the redelivery instead of
 * running them a second time; the consumer resumes on a new connection.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChannelModel } from 'amqplib';
import { AmqpTransport } from '../../src/broker/amqp/transport.js';
import { eventually, Inbox, sampleMessage, textOf } from '../conformance/broker-suite.js';
import { serviceSkip } from '../helpers/services.js';

describe('amqp broker faults', async () => {
  const skip = await serviceSkip('rabbitmq');

  it('marks the deliveries of a lost connection withdrawn and redelivers them on the new one', { skip, timeout: 30_000 }, async () => {
    const t = new AmqpTransport({ url: 'amqp://guest:guest@127.0.0.1:5672//', transportOptions: {} });
    await t.connect();
    const queue = `withdrawn-${process.pid}-${Date.now()}`;
    try {
      await t.declareQueue({ name: queue, durable: false, autoDelete: false });
      await t.publish(sampleMessage('held'), { exchange: '', routingKey: queue });
      const inbox = new Inbox();
      await t.consume([queue], inbox.handler, { prefetch: 1 });
      const [first] = await inbox.waitFor(1);
      assert.equal(first!.withdrawn, false);
      // Cut the socket under the driver, as a network failure does.
      const model = t.connection() as ChannelModel & { connection: { stream: { destroy(err: Error): void } } };
      model.connection.stream.destroy(new Error('cut'));
      await eventually(() => first!.withdrawn === true, 'the delivery to be withdrawn', 5000);
      const [, again] = await inbox.waitFor(2, 15_000);
      assert.equal(textOf(again!), 'held');
      assert.equal(again!.redelivered, true);
      assert.equal(again!.withdrawn, false);
      await again!.ack();
    } finally {
      await t.close();
      const amqp = await import('amqplib');
      const conn = await amqp.connect('amqp://guest:guest@127.0.0.1:5672/');
      await (await conn.createChannel()).deleteQueue(queue);
      await conn.close();
    }
  });
});
