import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { RedisBackend } from '../../src/backends/redis/backend.js';
import { buildMeta } from '../../src/task/meta.js';
import { serviceSkip } from '../helpers/services.js';

const URL = 'redis://127.0.0.1:6379/9';

/** Runs `fn` with two connected backends on the same Redis: one waits, one writes. */
async function withPair(fn: (waiter: RedisBackend, writer: RedisBackend) => Promise<void>): Promise<void> {
  const [waiter, writer] = [0, 1].map(() => new RedisBackend({ url: URL, expiresSeconds: 60, backendOptions: {} })) as [RedisBackend, RedisBackend];
  await waiter.connect();
  await writer.connect();
  try {
    await fn(waiter, writer);
  } finally {
    await waiter.close();
    await writer.close();
  }
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
    await withPair(async (waiter, writer) => {
      const id = `wait-${process.pid}-${Date.now()}`;
      await writer.storeResult(buildMeta(`${id}-a`, 'SUCCESS', 1, null, null));
      assert.equal((await waiter.waitFor(`${id}-a`, { timeoutMs: 2000 })).result, 1);
      const pending = waiter.waitFor(`${id}-b`, { timeoutMs: 5000 });
      setTimeout(() => void writer.storeResult(buildMeta(`${id}-b`, 'SUCCESS', 2, null, null)), 50);
      assert.equal((await pending).result, 2);
      // Waiting again on a channel left moments ago (still subscribed until the batched
      // UNSUBSCRIBE) reads it without subscribing again, and is still notified.
      const again = waiter.waitFor(`${id}-b`, { timeoutMs: 2000 });
      assert.equal((await again).result, 2);
      const later = waiter.waitFor(`${id}-c`, { timeoutMs: 5000 });
      await new Promise((r) => setTimeout(r, 150));
      await writer.storeResult(buildMeta(`${id}-c`, 'SUCCESS', 3, null, null));
      assert.equal((await later).result, 3);
      const client = (writer as unknown as { store: { client: Redis } }).store.client;
      const channels = (): Promise<unknown> => client.call('PUBSUB', 'CHANNELS', `celery-task-meta-${id}-*`);
      const stillWaiting = waiter.waitFor(`${id}-d`, { timeoutMs: 5000 });
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(await channels(), [`celery-task-meta-${id}-d`], 'only the channel still waited on stays subscribed');
      await writer.storeResult(buildMeta(`${id}-d`, 'SUCCESS', 4, null, null));
      assert.equal((await stillWaiting).result, 4);
    });
  });

  it('falls back to the command connection where a subscribed connection takes no GET (RESP2)', { skip }, async () => {
    await withPair(async (waiter, writer) => {
      const id = `resp2-${process.pid}-${Date.now()}`;
      await assert.rejects(waiter.waitFor(`${id}-warmup`, { timeoutMs: 50 }), /timed out/);
      const sub = subscriberOf(waiter);
      // What a RESP2 server answers to the GET written after a SUBSCRIBE.
      const refusal = new Error("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context");
      let refused = 0;
      const pipeline = sub.pipeline.bind(sub);
      sub.pipeline = ((...args: Parameters<Redis['pipeline']>) => {
        const p = pipeline(...args);
        const exec = p.exec.bind(p);
        p.exec = (async () => {
          const replies = (await exec()) ?? [];
          refused++;
          return replies.map(([err, value], i) => (i === 1 ? [refusal, null] : [err, value]));
        }) as typeof p.exec;
        return p;
      }) as Redis['pipeline'];
      await writer.storeResult(buildMeta(`${id}-a`, 'SUCCESS', 'stored', null, null));
      assert.equal((await waiter.waitFor(`${id}-a`, { timeoutMs: 2000 })).result, 'stored');
      assert.equal(refused, 1, 'the subscribed connection was asked first');
    });
  });
});

describe('redis backend writes', async () => {
  const skip = await serviceSkip('redis');

  it("writes a turn's ready records in one call per TTL: each key gets its own TTL and its PUBLISH", { skip }, async () => {
    const backend = new RedisBackend({ url: URL, expiresSeconds: 60, backendOptions: {} });
    await backend.connect();
    const store = (backend as unknown as { store: { client: Redis; setAndPublish(k: string, v: string, ttl: number | null): Promise<void> } }).store;
    const id = `ttl-${process.pid}-${Date.now()}`;
    const keys = [`${id}-a`, `${id}-b`, `${id}-c`, `${id}-d`];
    const sub = store.client.duplicate();
    const heard: string[] = [];
    sub.on('message', (channel: string, message: string) => heard.push(`${channel}=${message}`));
    await sub.subscribe(...keys);
    try {
      // One turn: records with three different TTLs (none, 60 s, 3600 s) in one batch.
      await Promise.all([
        store.setAndPublish(keys[0]!, '"a"', 60),
        store.setAndPublish(keys[1]!, '"b"', null),
        store.setAndPublish(keys[2]!, '"c"', 3600),
        store.setAndPublish(keys[3]!, '"d"', 60),
      ]);
      const ttls = await Promise.all(keys.map((k) => store.client.ttl(k)));
      assert.ok(ttls[0]! > 50 && ttls[0]! <= 60, `a: ${ttls[0]}`);
      assert.equal(ttls[1], -1, 'b has no TTL');
      assert.ok(ttls[2]! > 3500 && ttls[2]! <= 3600, `c: ${ttls[2]}`);
      assert.ok(ttls[3]! > 50 && ttls[3]! <= 60, `d: ${ttls[3]}`);
      assert.deepEqual(await store.client.mget(...keys), ['"a"', '"b"', '"c"', '"d"']);
      for (let i = 0; i < 50 && heard.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(heard.sort(), keys.map((k, i) => `${k}="${'abcd'[i]}"`));
    } finally {
      sub.disconnect();
      await store.client.del(...keys);
      await backend.close();
    }
  });
});
