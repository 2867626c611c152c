/**
 * Transports that can see a message's size before reading it (SQLite: the row's length; Redis:
 * the envelope's length) reject one over `messageMaxBytes` there, unread, with one line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { queueKeys } from '../../src/broker/redis/envelope.js';
import { OVERSIZE_MARK } from '../../src/broker/redis/scripts.js';
import { RedisTransport } from '../../src/broker/redis/transport.js';
import { SqliteTransport } from '../../src/broker/sqlite/transport.js';
import type { Delivery, Transport, TransportMessage } from '../../src/index.js';
import { captureLog } from '../helpers/app.js';
import { serviceSkip } from '../helpers/services.js';

const skipRedis = await serviceSkip('redis');

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const msg = (size: number): TransportMessage => ({ body: Buffer.alloc(size, 0x61), contentType: 'application/json', contentEncoding: 'utf-8', headers: { n: size }, properties: {} });

async function oversizeDropped(transport: Transport, queue: string, grep: (t: string) => string[], tooBig: number): Promise<void> {
  await transport.declareQueue({ name: queue });
  await transport.publish(msg(tooBig), { exchange: '', routingKey: queue });
  await transport.publish(msg(10), { exchange: '', routingKey: queue });
  const got: number[] = [];
  const consumer = await transport.consume([queue], (d: Delivery) => {
    got.push(d.message.body.length);
    void d.ack();
  }, { prefetch: 4 });
  await until(() => got.length === 1 && grep('messageMaxBytes').length === 1, 'the small one delivered, the big one refused');
  await until(async () => (await transport.size(queue)) === 0, 'an empty queue');
  await consumer.close();
  assert.deepEqual(got, [10]);
  assert.match(grep('messageMaxBytes')[0]!, /; message rejected$/);
}

describe('transports reject bodies over messageMaxBytes unread', () => {
  it('sqlite: by the row length, the body never read out of the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-oversize-'));
    const log = captureLog();
    const t = new SqliteTransport({ url: `sqlite:///${join(dir, 'b.db')}`, transportOptions: {}, logger: log.logger, messageMaxBytes: 1000 });
    await t.connect();
    try {
      await oversizeDropped(t, 'big', (s) => log.grep(s), 2000);
      assert.match(log.grep('messageMaxBytes')[0]!, /has a body of 2000 bytes, larger than 1000/);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('redis: by the envelope length, never parsed', { skip: skipRedis }, async () => {
    const log = captureLog();
    const t = new RedisTransport({ url: 'redis://127.0.0.1:6379/0', transportOptions: {}, logger: log.logger, messageMaxBytes: 1000 });
    await t.connect();
    const queue = `oversize-${process.pid}-${Date.now()}`;
    try {
      await oversizeDropped(t, queue, (s) => log.grep(s), 1024 * 1024 + 3000);
      assert.match(log.grep('messageMaxBytes')[0]!, /bytes as a kombu envelope, more than messageMaxBytes \(1000\) allows/);
      // Dropped inside Redis by the reserve script: the worker gets a short marker, never the
      // megabytes (a batch of such messages would otherwise sit in its memory at once).
      await t.publish(msg(1024 * 1024 + 3000), { exchange: '', routingKey: queue });
      const reserved = await t.reserve(queueKeys(queue), 4);
      assert.equal(reserved.length, 1);
      assert.ok(reserved[0]![1].startsWith(OVERSIZE_MARK), 'a marker instead of the message');
      assert.ok(reserved[0]![1].length < 100);
      assert.equal(await t.size(queue), 0);
    } finally {
      await t.purge(queue);
      await t.close();
    }
  });
});
