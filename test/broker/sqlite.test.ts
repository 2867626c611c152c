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
