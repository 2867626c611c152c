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
