/**
 * Leases (issue 8) on the SQLite and Redis brokers: a live holder's messages are never delivered
 * again, however long it holds them and even while its event loop is blocked; a dead holder's
 * come back after the visibility timeout, marked redelivered, each exactly once.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Transport } from '../../src/broker/port.js';
import { TransportRegistry } from '../../src/broker/registry.js';
import { RedisTransport } from '../../src/broker/redis/transport.js';
import { Inbox, sampleMessage, textOf } from '../conformance/broker-suite.js';
import { serviceSkip } from '../helpers/services.js';

async function open(url: string, visibilityTimeout: number): Promise<Transport> {
  const t = await new TransportRegistry().create(url, { visibilityTimeout });
  await t.connect();
  return t;
}

const brokers: Array<[string, () => Promise<string | false>, () => Promise<string>]> = [
  ['sqlite', async () => false, async () => `sqlite:///${join(mkdtempSync(join(tmpdir(), 'celeriac-lease-')), 'broker.db')}`],
  [
    'redis',
    () => serviceSkip('redis'),
    async () => {
      const url = 'redis://127.0.0.1:6379/8';
      const t = new RedisTransport({ url, transportOptions: {} });
      await t.connect();
      await t.client.flushdb();
      await t.close();
      return url;
    },
  ],
];

for (const [name, skipFor, urlFor] of brokers) {
  describe(`${name} broker leases`, async () => {
    const skip = await skipFor();

    it('never redelivers a message its live holder keeps past the visibility timeout, even with a blocked event loop', { skip }, async () => {
      const url = await urlFor();
      const holder = await open(url, 0.4);
      const other = await open(url, 0.4);
      try {
        await holder.publish(sampleMessage('long task'), { exchange: '', routingKey: 'q' });
        const held = new Inbox();
        await holder.consume(['q'], held.handler, { prefetch: 1 });
        const [d] = await held.waitFor(1);
        const rival = new Inbox();
        await other.consume(['q'], rival.handler, { prefetch: 1 });
        await new Promise((r) => setTimeout(r, 700));
        const until = Date.now() + 900;
        while (Date.now() < until) {
          // CPU-bound work holding this thread's event loop past the visibility timeout.
        }
        await new Promise((r) => setTimeout(r, 900));
        assert.equal(rival.deliveries.length, 0, 'the rival got nothing while the holder lived');
        await d!.ack();
        await rival.expectNoMoreThan(0, 600);
        assert.equal(await other.size('q'), 0);
      } finally {
        await holder.close();
        await other.close();
      }
    });

    it('gives what a SIGKILLed holder had to another consumer after the visibility timeout, each once', { skip }, async () => {
      const url = await urlFor();
      const survivor = await open(url, 1);
      const n = 50;
      try {
        for (let i = 0; i < n; i++) await survivor.publish(sampleMessage(`orphan-${i}`), { exchange: '', routingKey: 'q' });
        const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/broker-holder.ts', url, 'q', String(n)], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        await new Promise<void>((resolveHeld, reject) => {
          let seen = 0;
          child.stdout.on('data', (b: Buffer) => {
            seen += (b.toString().match(/held /g) ?? []).length;
            if (seen >= n) resolveHeld();
          });
          child.once('exit', (code) => reject(new Error(`holder exited early (${code})`)));
        });
        child.kill('SIGKILL');
        const killedAt = Date.now();
        const inbox = new Inbox();
        await survivor.consume(['q'], inbox.handler, { prefetch: 0 });
        const got = await inbox.waitFor(n, 15_000);
        const texts = got.map(textOf);
        assert.equal(new Set(texts).size, n, 'every message came back');
        assert.ok(got.every((d) => d.redelivered), 'marked redelivered');
        assert.ok(Date.now() - killedAt < 12_000, 'back within a few visibility timeouts');
        for (const d of got) await d.ack();
        await inbox.expectNoMoreThan(n, 1500);
      } finally {
        await survivor.close();
      }
    });
  });
}
