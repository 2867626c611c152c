import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import { Celeriac, encodeTaskMessage, MessageTooLarge, type TransportMessage } from '../../src/index.js';
import { CompressionRegistry } from '../../src/protocol/compression.js';
import { decodeTaskMessage, DEFAULT_MESSAGE_MAX_BYTES, inflateBody } from '../../src/protocol/message.js';
import { jsonCodecs } from '../protocol/wire-samples.js';
import { testApp, withWorker } from '../helpers/app.js';

const until = async (predicate: () => boolean, what: string, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** A zlib stream of `size` zero bytes inside a JSON string: tiny on the wire, huge once inflated. */
function bomb(size: number): Buffer {
  const zeros = Buffer.alloc(size, 0x30);
  return deflateSync(Buffer.concat([Buffer.from('[["'), zeros, Buffer.from('"], {}, {}]')]), { level: 9 });
}

function message(body: Buffer, compression?: string): TransportMessage {
  const m = encodeTaskMessage({ task: 'tasks.t', id: 'bomb-1', args: [], kwargs: {}, origin: 't', serializer: 'json' }, jsonCodecs());
  return { ...m, body, headers: compression ? { ...m.headers, compression } : m.headers };
}

describe('messageMaxBytes', () => {
  it('defaults to 16 MiB and takes Celery-style message_max_bytes too', () => {
    assert.equal(new Celeriac('a', { broker: 'memory://' }).conf.messageMaxBytes, DEFAULT_MESSAGE_MAX_BYTES);
    assert.equal(DEFAULT_MESSAGE_MAX_BYTES, 16 * 1024 * 1024);
    assert.equal(new Celeriac('b', { broker: 'memory://', message_max_bytes: 1024 }).conf.messageMaxBytes, 1024);
    assert.throws(() => new Celeriac('c', { broker: 'memory://', messageMaxBytes: 0 }), /messageMaxBytes/);
  });

  it('stops inflating a zlib bomb at the limit, sync and off the event loop, without taking its size', async () => {
    const max = 1024 * 1024;
    const codecs = { ...jsonCodecs(), messageMaxBytes: max };
    const m = message(bomb(64 * 1024 * 1024), 'application/x-gzip');
    assert.ok(m.body.length < 512 * 1024, 'a small message on the wire');
    const before = process.memoryUsage().arrayBuffers;
    await assert.rejects(inflateBody(m, codecs), (err: Error) => err instanceof MessageTooLarge && /decompresses to more than 1048576 bytes/.test(err.message));
    assert.throws(() => decodeTaskMessage(m, codecs), MessageTooLarge);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, 'never held the inflated size');
  });

  it('refuses a plain body over the limit before parsing it, and a brotli body inflating past it', async () => {
    const codecs = { ...jsonCodecs(), messageMaxBytes: 1000 };
    const big = message(Buffer.from(JSON.stringify([['x'.repeat(2000)], {}, {}])));
    assert.throws(() => decodeTaskMessage(big, codecs), /body of 2\d{3} bytes is larger than 1000 \(messageMaxBytes\)/);
    await assert.rejects(inflateBody(big, codecs), MessageTooLarge);
    const brotli = new CompressionRegistry().compress(big.body, 'brotli');
    await assert.rejects(inflateBody(message(brotli.body, brotli.header), codecs), MessageTooLarge);
    // Under the limit, the same path decodes.
    const small = message(deflateSync(Buffer.from('[[1], {}, {}]')), 'application/x-gzip');
    assert.deepEqual(decodeTaskMessage(small, codecs, await inflateBody(small, codecs)).args, [1]);
  });

  it('a worker rejects a bomb and an oversized body with one line each, and runs the good task', async () => {
    const { app, log } = testApp({ messageMaxBytes: 64 * 1024 });
    let runs = 0;
    const t = app.task(function good() {
      return ++runs;
    }, { name: 'tasks.t' });
    const transport = await app.getTransport();
    await withWorker(app, async (worker) => {
      const rejected: Error[] = [];
      worker.on('task-rejected', (err) => rejected.push(err));
      await transport.publish(message(bomb(64 * 1024 * 1024), 'application/x-gzip'), { exchange: '', routingKey: 'celery' });
      await transport.publish(message(Buffer.from(JSON.stringify([['y'.repeat(100_000)], {}, {}]))), { exchange: '', routingKey: 'celery' });
      await until(() => rejected.length === 2, 'two rejections');
      assert.ok(rejected.every((e) => e instanceof MessageTooLarge));
      const lines = log.grep('oversized message');
      assert.equal(lines.length, 2);
      for (const l of lines) {
        assert.match(l, /messageMaxBytes\); message rejected$/);
        assert.ok(!l.includes('\n'), 'one line, no stack');
      }
      assert.equal(await (await t.delay()).get({ timeout: 5 }), 1);
      assert.equal(runs, 1);
      assert.equal(await transport.size('celery'), 0);
    });
  });

  it('a worker inflates compressed bodies one at a time, so a window of bombs costs one limit of memory', async () => {
    const { app } = testApp({ messageMaxBytes: 64 * 1024 });
    let inFlight = 0;
    let most = 0;
    const real = app.codecs.compression.decompressAsync.bind(app.codecs.compression);
    app.codecs.compression.decompressAsync = async (data, header, max) => {
      most = Math.max(most, ++inFlight);
      try {
        return await real(data, header, max);
      } finally {
        inFlight--;
      }
    };
    const transport = await app.getTransport();
    await withWorker(app, async (worker) => {
      const rejected: Error[] = [];
      worker.on('task-rejected', (err) => rejected.push(err));
      for (let i = 0; i < 6; i++) await transport.publish(message(bomb(8 * 1024 * 1024), 'application/x-gzip'), { exchange: '', routingKey: 'celery' });
      await until(() => rejected.length === 6, 'six rejections', 20_000);
    }, { concurrency: 4 });
    assert.equal(most, 1, 'never two inflations at once');
  });
});
