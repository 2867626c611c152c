/**
 * Chaos on Redis (issue 17): CLI workers SIGKILLed on a schedule while tasks flow. acksLate: no
 * task lost, and a task runs twice only when its first run's worker was killed. Early acks: the
 * only tasks lost are ones that started on a killed worker. A private redis-server (port 16420).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PrivateRedis, redisServerSkip } from '../helpers/redis-server.js';
import { FULL, summary, tally } from './harness.js';
import { killLoop, killShape } from './kill-loop.js';

const server = new PrivateRedis(16420);

describe('chaos: redis workers SIGKILLed on a schedule', { skip: redisServerSkip }, () => {
  before(() => server.start());
  after(() => server.stop());

  for (const pool of ['async', 'process'] as const) {
    it(`acksLate, ${pool} pool: nothing lost, run twice only when the worker died running it`, { timeout: FULL ? 900_000 : 150_000 }, async (t) => {
      const r = await killLoop(killShape(`redis-late-${pool}`, server.url(), pool, true));
      const result = tally(r.sent, r.runs, (run) => r.killed.has(run.worker));
      t.diagnostic(summary(`redis acksLate ${pool}`, result, `${r.killed.size} kills`));
      assert.equal(r.rejected.length, 0, 'every send resolved');
      assert.ok(r.killed.size > 0);
      assert.deepEqual(result.lost, [], `lost (stderr tail: ${r.stderr.slice(-5).join(' | ')})`);
      assert.deepEqual(result.duplicated.filter((id) => !result.duplicatedExplained.includes(id)), [], 'unexplained double runs');
    });
  }

  it('early acks, async pool: only tasks started on a killed worker are lost', { timeout: FULL ? 900_000 : 150_000 }, async (t) => {
    const r = await killLoop(killShape('redis-early', server.url(), 'async', false));
    const result = tally(r.sent, r.runs, (run) => r.killed.has(run.worker));
    t.diagnostic(summary('redis early ack async', result, `${r.killed.size} kills`));
    assert.ok(r.killed.size > 0);
    assert.deepEqual(result.lost.filter((id) => !result.lostExplained.includes(id)), [], 'lost without having started on a killed worker');
    assert.deepEqual(result.duplicated.filter((id) => !result.duplicatedExplained.includes(id)), [], 'unexplained double runs');
  });
});
