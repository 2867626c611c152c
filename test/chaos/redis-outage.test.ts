/**
 * Chaos on Redis (issue 17): Redis SIGKILLed mid-run and restarted from its append-only file after
 * an outage longer than the visibility timeout, while tasks are being sent and run by CLI workers
 * (acksLate). Every send either resolved and ran exactly once, or rejected and never ran; no
 * task ran twice (no worker was killed). A private redis-server (port 16421).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PrivateRedis, redisServerSkip } from '../helpers/redis-server.js';
import { FULL, summary, tally } from './harness.js';
import { killLoop } from './kill-loop.js';

const server = new PrivateRedis(16421, { aof: true });
const OUTAGE_MS = FULL ? 40_000 : 6000;

describe('chaos: redis down and back (AOF) during sends and runs', { skip: redisServerSkip }, () => {
  before(() => server.start());
  after(() => server.stop());

  it(`an outage of ${OUTAGE_MS / 1000} s (visibility timeout 2 s): sends resolve-and-run-once or reject-and-never-run`, { timeout: FULL ? 600_000 : 180_000 }, async (t) => {
    let outageAt = 0;
    const r = await killLoop({
      name: 'redis-outage',
      broker: server.url(),
      pool: 'async',
      acksLate: true,
      concurrency: 8,
      visibilityTimeout: 2,
      workers: 3,
      tasks: FULL ? 10_000 : 1200,
      kills: 0,
      killEveryMs: 0,
      sendOverMs: OUTAGE_MS + (FULL ? 20_000 : 8000),
      taskMs: [5, 3000],
      producerTransportOptions: { publishTimeout: 2, connectTimeout: 1 },
      settleMs: FULL ? 300_000 : 90_000,
      during: async (running) => {
        await running();
        await new Promise((res) => setTimeout(res, 3000));
        outageAt = Date.now();
        await server.kill('SIGKILL');
        await new Promise((res) => setTimeout(res, OUTAGE_MS));
        await server.start();
      },
    });
    assert.ok(outageAt > 0);
    const result = tally(r.sent, r.runs, () => false);
    const ranRejected = r.rejected.filter((id) => r.runs.has(id));
    t.diagnostic(summary('redis outage (AOF)', result, `${r.rejected.length} sends rejected, ${ranRejected.length} of them ran`));
    assert.ok(r.rejected.length > 0, 'the outage outlasted the publish timeout for some sends');
    assert.deepEqual(ranRejected, [], 'a rejected send ran');
    assert.deepEqual(result.lost, [], `lost (stderr tail: ${r.stderr.slice(-5).join(' | ')})`);
    assert.deepEqual(result.duplicated, [], 'ran twice');
  });
});
