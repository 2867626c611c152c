import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { sqlitePath } from '../../src/broker/sqlite/store.js';
import { SqliteTransport } from '../../src/broker/sqlite/transport.js';
import { ImproperlyConfigured, OperationalError } from '../../src/index.js';

describe('sqlite broker URLs', () => {
  it('follow SQLAlchemy: three slashes relative, four absolute, none the default file', () => {
    assert.equal(sqlitePath('sqlite:///data/q.db'), resolve('data/q.db'));
    assert.equal(sqlitePath('sqlite:////tmp/q.db'), '/tmp/q.db');
    assert.equal(sqlitePath('sqlite://'), resolve('celeriac.sqlite'));
    assert.equal(sqlitePath('db+sqlite:///results.db'), resolve('results.db'));
    assert.throws(() => sqlitePath('sqlite://q.db'), (e: Error) => e instanceof ImproperlyConfigured && /sqlite:\/\/\/q\.db/.test(e.message));
  });

  it('fail to connect with an OperationalError naming the file', async () => {
    const t = new SqliteTransport({ url: 'sqlite:////nonexistent-dir/x/broker.db', transportOptions: {} });
    await assert.rejects(t.connect(), (e: Error) => e instanceof OperationalError && e.message.includes('/nonexistent-dir/x/broker.db'));
  });
});

describe('sqlite broker queue lifetimes', () => {
  it('drops messages past x-message-ttl and deletes auto-delete queues when their consumer goes', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const url = `sqlite:///${join(mkdtempSync(join(tmpdir(), 'celeriac-life-')), 'q.db')}`;
    const t = new SqliteTransport({ url, transportOptions: {} });
    await t.connect();
    try {
      await t.declareExchange('fan', 'fanout');
      await t.declareQueue({ name: 'short', exchange: 'fan', exchangeType: 'fanout', routingKey: '', arguments: { 'x-message-ttl': 100 } });
      await t.declareQueue({ name: 'box', exchange: 'fan', exchangeType: 'fanout', routingKey: '', autoDelete: true });
      const msg = { body: Buffer.from('{}'), contentType: 'application/json', contentEncoding: 'utf-8', headers: {}, properties: {} };
      await t.publish(msg, { exchange: 'fan', routingKey: '' });
      assert.equal(await t.size('short'), 1);
      await new Promise((r) => setTimeout(r, 200));
      const box = await t.consume(['box'], (d) => void d.ack(), { prefetch: 0 });
      assert.equal(await t.size('short'), 0, 'expired by the sweep a consumer runs');
      await box.cancel();
      await t.publish(msg, { exchange: 'fan', routingKey: '' });
      assert.equal(await t.size('box'), 0, 'the auto-delete queue is unbound once its consumer left');
    } finally {
      await t.close();
    }
  });
});

describe('sqlite broker unreadable rows', () => {
  it('moves a message it cannot read to celeriac.undecodable and goes on delivering', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const file = join(mkdtempSync(join(tmpdir(), 'celeriac-bad-')), 'q.db');
    const t = new SqliteTransport({ url: `sqlite:///${file}`, transportOptions: {} });
    await t.connect();
    try {
      t.store.db
        .prepare("INSERT INTO celeriac_messages (queue, priority, body, content_type, content_encoding, headers, properties, exchange, routing_key) VALUES ('q', 0, x'7b7d', 'application/json', 'utf-8', '{broken', '{}', '', 'q')")
        .run();
      await t.publish({ body: Buffer.from('{}'), contentType: 'application/json', contentEncoding: 'utf-8', headers: { ok: true }, properties: {} }, { exchange: '', routingKey: 'q' });
      const got: unknown[] = [];
      await t.consume(['q'], (d) => {
        got.push(d.message.headers);
        void d.ack();
      }, { prefetch: 0 });
      const deadline = Date.now() + 3000;
      while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(got, [{ ok: true }]);
      assert.equal(await t.size('celeriac.undecodable'), 1);
    } finally {
      await t.close();
    }
  });
});

describe('sqlite broker queue expiry (x-expires)', () => {
  it('removes the pidbox queues of workers that died without closing; queues in use stay, or come back', { timeout: 30_000 }, async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { workerQueue, replyQueue, declarePidbox, PIDBOX_EXCHANGE } = await import('../../src/control/pidbox.js');
    const { until } = await import('../helpers/until.js');
    const url = `sqlite:///${join(mkdtempSync(join(tmpdir(), 'celeriac-expires-')), 'q.db')}`;
    const short = { 'x-message-ttl': 300_000, 'x-expires': 300 };
    // The "dead" process: declares its pidbox and reply queues, then never touches the file again.
    const dead = new SqliteTransport({ url, transportOptions: {} });
    await dead.connect();
    await declarePidbox(dead);
    await dead.declareQueue({ ...workerQueue('dead@test'), arguments: short });
    await dead.declareQueue({ ...replyQueue('dead-client'), arguments: short });
    // The live one consumes its own pidbox queue; its sweep removes the dead ones.
    const live = new SqliteTransport({ url, transportOptions: { visibilityTimeout: 0.4 } });
    await live.connect();
    const got: string[] = [];
    try {
      await declarePidbox(live);
      await live.declareQueue({ ...workerQueue('live@test'), arguments: short });
      const consumer = await live.consume(['live@test.celery.pidbox'], (d) => {
        got.push(d.message.body.toString());
        void d.ack();
      }, { prefetch: 0 });
      const queues = (): string[] => (live.store.db.prepare('SELECT name FROM celeriac_queues ORDER BY name').all() as Array<{ name: string }>).map((r) => r.name);
      const bound = (): string[] => (live.store.db.prepare('SELECT queue FROM celeriac_bindings ORDER BY queue').all() as Array<{ queue: string }>).map((r) => r.queue);
      await until(() => !queues().includes('dead@test.celery.pidbox'), 'the dead worker’s queue to go', { timeout: 10_000 });
      assert.deepEqual(queues(), ['live@test.celery.pidbox']);
      assert.ok(!bound().includes('dead@test.celery.pidbox') && !bound().includes('dead-client.reply.celery.pidbox'), bound().join(', '));
      const msg = { body: Buffer.from('"ping"'), contentType: 'application/json', contentEncoding: 'utf-8', headers: {}, properties: {} };
      await live.publish(msg, { exchange: PIDBOX_EXCHANGE, routingKey: '' });
      await until(() => got.length === 1, 'the live worker to get the broadcast');
      const rows = live.store.db.prepare("SELECT count(*) AS n FROM celeriac_messages WHERE queue != 'live@test.celery.pidbox'").get() as { n: number };
      assert.equal(rows.n, 0, 'no copies pile up for dead queues');
      // Deleted under a live consumer (its process could not touch it in time): declared again.
      live.store.db.prepare("DELETE FROM celeriac_queues WHERE name = 'live@test.celery.pidbox'").run();
      live.store.db.prepare("DELETE FROM celeriac_bindings WHERE queue = 'live@test.celery.pidbox'").run();
      await until(() => bound().includes('live@test.celery.pidbox'), 'the live queue to be declared again', { timeout: 10_000 });
      await consumer.close();
    } finally {
      await live.close();
      await dead.close();
    }
  });
});
