/**
 * Chaos on RabbitMQ (issue 17): the workers' connections cut again and again through a loopback
 * TCP proxy the test starts (port 16450), while acksLate tasks flow. The workers resume by
 * themselves after every cut and nothing is lost; a task runs twice only when its first run
 * overlapped a cut (RabbitMQ requeues what the dead connection held).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serviceSkip, SERVICES } from '../helpers/services.js';
import { FULL, summary, tally, type Run } from './harness.js';
import { killLoop } from './kill-loop.js';
import { CutProxy } from './tcp-proxy.js';

const CUT_MS = FULL ? 10_000 : 2000;
const CUTS = FULL ? 4 : 3;

describe('chaos: rabbitmq connections cut through a proxy', async () => {
  const skip = await serviceSkip('rabbitmq');
  it(`${CUTS} cuts of ${CUT_MS / 1000} s: workers resume, nothing lost, run twice only across a cut`, { skip, timeout: FULL ? 600_000 : 150_000 }, async (t) => {
    const proxy = new CutProxy(16450, SERVICES.rabbitmq);
    await proxy.start();
    try {
      const r = await killLoop({
        name: 'amqp-cut',
        broker: `amqp://guest:guest@127.0.0.1:${proxy.port}//`,
        pool: 'async',
        acksLate: true,
        concurrency: 8,
        visibilityTimeout: 2,
        workers: 3,
        tasks: FULL ? 10_000 : 1500,
        kills: 0,
        killEveryMs: 0,
        sendOverMs: CUTS * (CUT_MS + 3000) + 2000,
        taskMs: [5, 60],
        settleMs: FULL ? 300_000 : 60_000,
        // The producer goes straight to RabbitMQ: the cuts are between workers and broker.
        producerBroker: 'amqp://guest:guest@127.0.0.1:5672//',
        during: async (running) => {
        await running();
          for (let i = 0; i < CUTS; i++) {
            await new Promise((res) => setTimeout(res, 3000));
            await proxy.cut(CUT_MS);
          }
        },
      });
      // A run overlapping a cut: its connection died under it, so its ack could not be sent. A
      // worker learns of the cut only when its socket reports it (a few ms): a delivery started
      // in that second is from the dead channel too; an ack sent just before may not have left.
      const acrossCut = (run: Run): boolean => proxy.cuts.some(([from]) => run.startedAt <= from + 1000 && (run.endedAt ?? Infinity) >= from - 500);
      const result = tally(r.sent, r.runs, acrossCut);
      const lastRunAt = Math.max(...[...r.runs.values()].flat().map((run) => run.startedAt));
      const lastCut = proxy.cuts.at(-1)?.[1] ?? 0;
      t.diagnostic(summary('amqp cuts', result, `${proxy.cuts.length} cuts; runs started ${lastRunAt > lastCut ? 'after' : 'NOT after'} the last cut`));
      assert.equal(proxy.cuts.length, CUTS);
      assert.ok(lastRunAt > lastCut, 'workers ran tasks after the last cut');
      assert.deepEqual(result.lost, [], `lost (stderr tail: ${r.stderr.slice(-5).join(' | ')})`);
      const unexplained = result.duplicated.filter((id) => !result.duplicatedExplained.includes(id));
      const t0 = proxy.cuts[0]?.[0] ?? 0;
      const detail = unexplained.slice(0, 5).map((id) => `${id}: ${r.runs.get(id)!.map((run) => `${run.worker} ${run.startedAt - t0}..${(run.endedAt ?? NaN) - t0}`).join(', ')}`);
      assert.deepEqual(unexplained, [], `ran twice without overlapping a cut (ms from the first cut; cuts ${proxy.cuts.map(([a, b]) => `${a - t0}..${b - t0}`).join(', ')}): ${detail.join('; ')}`);
    } finally {
      await proxy.close();
    }
  });
});
