import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisBackend } from '../../src/backends/redis/backend.js';
import { buildMeta } from '../../src/task/meta.js';
import { serviceSkip } from '../helpers/services.js';

const URL = 'redis://127.0.0.1:6379/9';

function backend(): RedisBackend {
  return new RedisBackend({ url: URL, expiresSeconds: 60, backendOptions: {} });
}

/** The backend's subscriber connection, made by its first wait. */
function subscriberOf(b: RedisBackend): Redis {
  const sub = (b as unknown as { store: { subscriber?: Redis } }).store.subscriber;
  assert.ok(sub, 'the backend has a subscriber connection');
  return sub;
}

describe('redis backend waits', async () => {
  const skip = await serviceSkip('redis');

  it('reads the record on the subscribed connection: a result stored before the wait is seen at once, one stored after is notified', { skip }, async () => {
    const waiter = backend();
    const writer = backend();
    await waiter.connect();
    await writer.connect();
    try {
      const id = `wait-${process.pid}-${Date.now()}`;
      await writer.storeResult(buildMeta(`${id}-a`, 'SUCCESS', 1, null, null));
      assert.equal((await waiter.waitFor(`${id}-a`, { timeoutMs: 2000 })).result, 1);
      const pending = waiter.waitFor(`${id}-b`, { timeoutMs: 5000 });
      setTimeout(() => void writer.storeResult(buildMeta(`${id}-b`, 'SUCCESS', 2, null, null)), 50);
      assert.equal((await pending).result, 2);
    } finally {
      await waiter.close();
      await writer.close();
    }
  });

  it('falls back to the command connection where a subscribed connection takes no GET (RESP2)', { skip }, async () => {
    const waiter = backend();
    const writer = backend();
    await waiter.connect();
    await writer.connect();
    try {
      const id = `resp2-${process.pid}-${Date.now()}`;
      await assert.rejects(waiter.waitFor(`${id}-warmup`, { timeoutMs: 50 }), /timed out/);
      const sub = subscriberOf(waiter);
      let refused = 0;
      sub.get = (() => {
        refused++;
        return Promise.reject(new Error('Connection in subscriber mode, only subscriber commands may be used'));
      }) as unknown as Redis['get'];
      await writer.storeResult(buildMeta(`${id}-a`, 'SUCCESS', 'stored', null, null));
      assert.equal((await waiter.waitFor(`${id}-a`, { timeoutMs: 2000 })).result, 'stored');
      assert.equal(refused, 1, 'the subscribed connection was asked first');
    } finally {
      await waiter.close();
      await writer.close();
    }
  });
});
