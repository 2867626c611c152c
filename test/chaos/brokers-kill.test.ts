/**
 * Chaos on RabbitMQ and SQLite (issue 17): CLI workers SIGKILLed on a schedule while acksLate
 * tasks flow; nothing lost, a task runs twice only when its first run's worker was killed.
 * RabbitMQ is the machine's (a queue of the test's own); SQLite a file of the test's own.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { serviceSkip } from '../helpers/services.js';
import { FULL, summary, tally } from './harness.js';
import { killLoop, killShape } from './kill-loop.js';

/** Removes a queue of this test from the shared RabbitMQ. */
async function deleteAmqpQueue(queue: string): Promise<void> {
  const amqp = await import('amqplib');
  const conn = await amqp.connect('amqp://guest:guest@127.0.0.1:5672/');
  try {
    const ch = await conn.createChannel();
    await ch.deleteQueue(queue);
  } finally {
    await conn.close();
  }
}

const brokers: Array<[string, () => Promise<string | false>, () => string]> = [
  ['amqp', () => serviceSkip('rabbitmq'), () => 'amqp://guest:guest@127.0.0.1:5672//'],
  ['sqlite', async () => false, () => `sqlite:///${join(mkdtempSync(join(tmpdir(), 'celeriac-chaos-sqlite-')), 'broker.db')}`],
];

for (const [name, skipFor, urlFor] of brokers) {
  describe(`chaos: ${name} workers SIGKILLed on a schedule`, async () => {
    const skip = await skipFor();
    it('acksLate, async pool: nothing lost, run twice only when the worker died running it', { skip, timeout: FULL ? 900_000 : 150_000 }, async (t) => {
      const r = await killLoop(killShape(`${name}-late`, urlFor(), 'async', true));
      if (name === 'amqp') await deleteAmqpQueue(r.queue);
      const result = tally(r.sent, r.runs, (run) => r.killed.has(run.worker));
      t.diagnostic(summary(`${name} acksLate async`, result, `${r.killed.size} kills`));
      assert.equal(r.rejected.length, 0, 'every send resolved');
      assert.ok(r.killed.size > 0);
      assert.deepEqual(result.lost, [], `lost (stderr tail: ${r.stderr.slice(-5).join(' | ')})`);
      assert.deepEqual(result.duplicated.filter((id) => !result.duplicatedExplained.includes(id)), [], 'unexplained double runs');
    });
  });
}
