import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { sqlitePath } from '../../src/broker/sqlite/store.js';
import { SqliteTransport } from '../../src/broker/sqlite/transport.js';
import { ImproperlyConfigured, OperationalError } from '../../src/index.js';
import { Inbox, sampleMessage, textOf } from '../conformance/broker-suite.js';

function tempUrl(): string {
  return `sqlite:///${join(mkdtempSync(join(tmpdir(), 'celeriac-sqlite-')), 'broker.db')}`;
}

async function open(url: string, visibilityTimeout: number): Promise<SqliteTransport> {
  const t = new SqliteTransport({ url, transportOptions: { visibilityTimeout } });
  await t.connect();
  return t;
}

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

describe('sqlite broker leases', () => {
  it('never redelivers a message its live holder keeps, even past the visibility timeout with a blocked event loop', async () => {
    const url = tempUrl();
    const holder = await open(url, 0.4);
    const other = await open(url, 0.4);
    try {
      await holder.publish(sampleMessage('long task'), { exchange: '', routingKey: 'q' });
      const held = new Inbox();
      await holder.consume(['q'], held.handler, { prefetch: 1 });
      const [d] = await held.waitFor(1);
      const rival = new Inbox();
      await other.consume(['q'], rival.handler, { prefetch: 1 });
      await new Promise((r) => setTimeout(r, 600));
      const until = Date.now() + 800;
      while (Date.now() < until) {
        // CPU-bound work holding this thread's event loop past the visibility timeout.
      }
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(rival.deliveries.length, 0, 'the rival got nothing while the holder lived');
      await d!.ack();
      await rival.expectNoMoreThan(0, 600);
      assert.equal(await other.size('q'), 0);
    } finally {
      await holder.close();
      await other.close();
    }
  });

  it('redelivers what a SIGKILLed holder had, after the visibility timeout, marked redelivered', async () => {
    const url = tempUrl();
    const survivor = await open(url, 1);
    try {
      await survivor.publish(sampleMessage('orphan'), { exchange: '', routingKey: 'q' });
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/sqlite-holder.ts', url, 'q'], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolveHeld, reject) => {
        child.stdout.on('data', (b: Buffer) => b.toString().includes('held') && resolveHeld());
        child.once('exit', (code) => reject(new Error(`holder exited early (${code})`)));
      });
      child.kill('SIGKILL');
      const killedAt = Date.now();
      const inbox = new Inbox();
      await survivor.consume(['q'], inbox.handler, { prefetch: 1 });
      const [d] = await inbox.waitFor(1, 8000);
      assert.equal(textOf(d!), 'orphan');
      assert.equal(d!.redelivered, true);
      assert.ok(Date.now() - killedAt < 6000, 'back within a few visibility timeouts');
      await d!.ack();
    } finally {
      await survivor.close();
    }
  });
});
