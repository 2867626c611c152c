/**
 * The result backend conformance suite: the ResultBackend port's contract
 * (src/backends/port.ts), run against every driver with Celery's record format. A driver's runner
 * builds a {@link BackendHarness} and calls {@link backendConformance}.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ResultBackend, TaskMeta } from '../../src/backends/port.js';
import { TimeoutError } from '../../src/errors/index.js';
import { toPythonIso } from '../../src/utils/time.js';
import type { BackendHarness } from './harness.js';

/** A Celery task record. */
export function record(taskId: string, status: string, result: unknown, extra: Partial<TaskMeta> = {}): TaskMeta {
  return {
    status,
    result,
    traceback: null,
    children: [],
    date_done: status === 'SUCCESS' || status === 'FAILURE' ? '2026-11-24T10:00:00.123456' : null,
    task_id: taskId,
    ...extra,
  };
}

/**
 * Runs the suite. `harness` resolves with the driver under test, or with a string: the reason to
 * skip (an unreachable service).
 */
export function backendConformance(name: string, harness: () => Promise<BackendHarness | string>): void {
  describe(`backend conformance: ${name}`, async () => {
    const h = await harness();
    const skip = typeof h === 'string' ? h : false;
    let backend: ResultBackend;
    const id = (label: string): string => `conf-${label}-${randomUUID()}`;

    before(async () => {
      if (typeof h !== 'string') backend = await h.create();
    });
    after(async () => {
      if (typeof h === 'string') return;
      await backend.close();
      await h.teardown();
    });

    it('returns PENDING for a task never seen', { skip }, async () => {
      const taskId = id('unknown');
      const meta = await backend.getTaskMeta(taskId);
      assert.equal(meta.status, 'PENDING');
      assert.equal(meta.result, null);
      assert.equal(meta.task_id, taskId);
    });

    it('stores and reads back Celery records with results of every JSON type', { skip }, async () => {
      const values: unknown[] = [
        42, -1.5, 'text', 'ünïcødé ✓ 中文', true, null, [1, [2, [3]]], { nested: { list: [1, 'a', null], flag: false } },
        'x'.repeat(100_000),
      ].filter((v) => typeof h === 'string' || JSON.stringify(v).length < (h.features.maxValueBytes ?? Infinity));
      for (const [i, value] of values.entries()) {
        const taskId = id(`types-${i}`);
        await backend.storeResult(record(taskId, 'SUCCESS', value, { parent_id: 'p-1', group_id: 'g-1', children: [[['c-1', null], null]] }));
        const meta = await backend.getTaskMeta(taskId);
        assert.equal(meta.status, 'SUCCESS');
        assert.deepEqual(meta.result, value);
        assert.equal(meta.task_id, taskId);
        assert.equal(typeof meta.date_done, 'string');
        if (i === 0 && (h as BackendHarness).features.keepsLinks !== false) {
          assert.deepEqual(meta.children, [[['c-1', null], null]]);
        }
      }
    });

    it('stores failures with the serialized error and traceback, and extended fields', { skip }, async () => {
      const taskId = id('failure');
      const error = { exc_type: 'ValueError', exc_message: ['bad value'], exc_module: 'builtins' };
      await backend.storeResult(
        record(taskId, 'FAILURE', error, {
          traceback: 'Traceback (most recent call last):\n  ...\nValueError: bad value',
          name: 'tasks.fail', args: [1, 2], kwargs: { k: 'v' }, worker: 'celeriac@host', retries: 2, queue: 'celery',
        }),
      );
      const meta = await backend.getTaskMeta(taskId);
      assert.equal(meta.status, 'FAILURE');
      assert.deepEqual(meta.result, error);
      assert.match(String(meta.traceback), /ValueError: bad value/);
      assert.equal(meta.name, 'tasks.fail');
      assert.deepEqual(meta.args, [1, 2]);
      assert.deepEqual(meta.kwargs, { k: 'v' });
      assert.equal(meta.worker, 'celeriac@host');
      assert.equal(meta.retries, 2);
      assert.equal(meta.queue, 'celery');
    });

    it('moves through states, and never lets a later state overwrite SUCCESS', { skip }, async () => {
      const taskId = id('states');
      await backend.storeResult(record(taskId, 'STARTED', { pid: 1, hostname: 'h' }));
      assert.equal((await backend.getTaskMeta(taskId)).status, 'STARTED');
      await backend.storeResult(record(taskId, 'PROGRESS', { current: 5, total: 10 }));
      assert.deepEqual((await backend.getTaskMeta(taskId)).result, { current: 5, total: 10 });
      await backend.storeResult(record(taskId, 'SUCCESS', 'done'));
      await backend.storeResult(record(taskId, 'RETRY', 'late duplicate'));
      const meta = await backend.getTaskMeta(taskId);
      assert.equal(meta.status, 'SUCCESS');
      assert.equal(meta.result, 'done');
    });

    it('waitFor resolves once another connection stores a ready state', { skip }, async () => {
      const harness = h as BackendHarness;
      const writer = harness.features.sharedAcrossConnections ? await harness.create() : backend;
      try {
        const taskId = id('wait');
        const waiting = backend.waitFor(taskId, { timeoutMs: 10_000, intervalMs: 20 });
        await new Promise((r) => setTimeout(r, 100));
        await writer.storeResult(record(taskId, 'STARTED', null));
        await new Promise((r) => setTimeout(r, 50));
        await writer.storeResult(record(taskId, 'SUCCESS', { ok: true }));
        const meta = await waiting;
        assert.equal(meta.status, 'SUCCESS');
        assert.deepEqual(meta.result, { ok: true });
      } finally {
        if (writer !== backend) await writer.close();
      }
    });

    it('waitFor returns at once for a ready task and times out with TimeoutError otherwise', { skip }, async () => {
      const ready = id('ready');
      await backend.storeResult(record(ready, 'FAILURE', { exc_type: 'KeyError', exc_message: ['k'], exc_module: 'builtins' }));
      assert.equal((await backend.waitFor(ready, { timeoutMs: 1000 })).status, 'FAILURE');
      const started = Date.now();
      await assert.rejects(backend.waitFor(id('never'), { timeoutMs: 300, intervalMs: 20 }), TimeoutError);
      assert.ok(Date.now() - started < 3000, 'gave up near the timeout');
    });

    it('forgets a record', { skip }, async () => {
      const taskId = id('forget');
      await backend.storeResult(record(taskId, 'SUCCESS', 1));
      await backend.forget(taskId);
      assert.equal((await backend.getTaskMeta(taskId)).status, 'PENDING');
    });

    it('saves, restores and deletes groups', { skip }, async () => {
      const groupId = id('group');
      const tuple = [[groupId, null], [[['m-1', null], null], [['m-2', null], null]]];
      assert.equal(await backend.restoreGroup(groupId), null);
      await backend.saveGroup(groupId, { result: tuple });
      const restored = await backend.restoreGroup(groupId);
      assert.deepEqual(restored?.result, tuple);
      await backend.deleteGroup(groupId);
      assert.equal(await backend.restoreGroup(groupId), null);
    });

    it('runs cleanup without losing fresh records', { skip }, async () => {
      const taskId = id('fresh');
      await backend.storeResult(record(taskId, 'SUCCESS', 'keep', { date_done: toPythonIso(new Date(), false) }));
      await backend.cleanup();
      assert.equal((await backend.getTaskMeta(taskId)).result, 'keep');
    });

    it('completes a chord exactly once when its parts return concurrently', { skip: skip || (typeof h !== 'string' && !h.features.chords && 'no atomic chords') }, async () => {
      const chords = backend.chords;
      assert.ok(chords, 'features.chords promises backend.chords');
      const groupId = id('chord');
      const ids = Array.from({ length: 25 }, (_, i) => id(`part-${i}`));
      await chords.prepare(groupId, ids);
      for (const [i, taskId] of ids.entries()) await backend.storeResult(record(taskId, 'SUCCESS', i * 10));
      const outcomes = await Promise.all(
        ids.map((taskId, index) => chords.partReturned(groupId, { taskId, index, state: 'SUCCESS', result: index * 10 })),
      );
      const complete = outcomes.filter((o) => o !== null);
      assert.equal(complete.length, 1, 'exactly one part completes the chord');
      assert.deepEqual(complete[0]!.map((p) => p.result), ids.map((_, i) => i * 10), 'results in header order');
      assert.deepEqual(complete[0]!.map((p) => p.taskId), ids);
    });
  });
}
