/** TickBatcher: one write per event-loop turn, early writes for full batches, errors reach every caller. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TickBatcher } from '../../src/utils/batch.js';

describe('TickBatcher', () => {
  it('writes the items added in one turn together, and the next turn separately', async () => {
    const writes: number[][] = [];
    const b = new TickBatcher<number>(async (items) => void writes.push(items));
    await Promise.all([b.add(1), b.add(2), b.add(3)]);
    await b.add(4);
    assert.deepEqual(writes, [[1, 2, 3], [4]]);
  });

  it('writes a full batch at once and resolves each caller with its own batch', async () => {
    const writes: number[][] = [];
    const b = new TickBatcher<number>(async (items) => void writes.push(items), 2);
    const first = b.add(1);
    const second = b.add(2);
    assert.deepEqual(writes, [[1, 2]], 'written without waiting for the turn to end');
    const third = b.add(3);
    await Promise.all([first, second, third]);
    assert.deepEqual(writes, [[1, 2], [3]]);
  });

  it('rejects every add of a failed batch, and only those', async () => {
    let fail = true;
    const b = new TickBatcher<number>(async () => {
      if (fail) throw new Error('redis down');
    });
    const results = await Promise.allSettled([b.add(1), b.add(2)]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    fail = false;
    await b.add(3);
  });

  it('flush() writes what is queued now; with nothing queued it resolves at once', async () => {
    const writes: number[][] = [];
    const b = new TickBatcher<number>(async (items) => void writes.push(items));
    void b.add(7);
    await b.flush();
    assert.deepEqual(writes, [[7]]);
    await b.flush();
    assert.deepEqual(writes, [[7]]);
  });
});
