import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AsyncPool, Slots, SoloPool } from '../../src/pool/async.js';
import type { JobResult, PoolJob } from '../../src/pool/port.js';
import { States } from '../../src/result/states.js';
import { Request } from '../../src/task/request.js';
import type { Task } from '../../src/task/task.js';
import type { TraceOutcome } from '../../src/task/trace.js';
import { deferred, type Deferred } from '../../src/utils/deferred.js';

const TASK = {} as Task;

/** A run under test: its code has returned once `body` resolves, and it ends when `recorded` does. */
interface Run {
  id: string;
  bodyDone: Deferred<void>;
  recorded: Deferred<void>;
}

/**
 * A pool whose runner plays a trace: the task's code runs until the test ends it, then the run
 * reports its code returned (as traceTask does) and waits for its "result store" to finish.
 */
function scriptedPool(kind: 'async' | 'solo', limit: number): { pool: AsyncPool; runs: Map<string, Run>; started: string[] } {
  const runs = new Map<string, Run>();
  const started: string[] = [];
  const runner = async (_task: Task, request: Request): Promise<TraceOutcome> => {
    const run = runs.get(request.id ?? '')!;
    started.push(run.id);
    await run.bodyDone.promise;
    request.bodyReturned();
    await run.recorded.promise;
    return { state: States.SUCCESS, retval: null, error: null, requeue: false, runtime: 0 };
  };
  const pool = kind === 'solo' ? new SoloPool(runner) : new AsyncPool(limit, runner);
  return { pool, runs, started };
}

function submit(pool: AsyncPool, runs: Map<string, Run>, id: string): Promise<JobResult> {
  runs.set(id, { id, bodyDone: deferred<void>(), recorded: deferred<void>() });
  const job: PoolJob = { task: TASK, request: new Request({ id }), accept: () => true, started: () => undefined };
  return pool.run(job);
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('the async pool', () => {
  it('bounds the tasks whose code runs, and starts the next one while a finished one is recorded', async () => {
    const { pool, runs, started } = scriptedPool('async', 2);
    const ends = ['a', 'b', 'c'].map((id) => submit(pool, runs, id));
    await turn();
    assert.deepEqual(started, ['a', 'b'], 'two slots: the third waits');
    assert.equal(pool.waiting, 1);
    runs.get('a')!.bodyDone.resolve();
    await turn();
    assert.deepEqual(started, ['a', 'b', 'c'], "a's code returned: its slot went to c while a's result is written");
    assert.equal(pool.active, 2);
    for (const id of ['a', 'b', 'c']) {
      runs.get(id)!.bodyDone.resolve();
      runs.get(id)!.recorded.resolve();
    }
    assert.deepEqual((await Promise.all(ends)).map((r) => r.kind), ['done', 'done', 'done']);
    assert.equal(pool.active, 0);
  });

  it('lends at most its limit of slots: past that a finishing run keeps its slot', async () => {
    const { pool, runs, started } = scriptedPool('async', 1);
    const ends = ['a', 'b', 'c'].map((id) => submit(pool, runs, id));
    await turn();
    runs.get('a')!.bodyDone.resolve();
    await turn();
    assert.deepEqual(started, ['a', 'b']);
    runs.get('b')!.bodyDone.resolve();
    await turn();
    assert.deepEqual(started, ['a', 'b'], 'one slot lent (a) already: b keeps its slot until recorded');
    runs.get('b')!.recorded.resolve();
    await turn();
    assert.deepEqual(started, ['a', 'b', 'c']);
    runs.get('c')!.bodyDone.resolve();
    runs.get('c')!.recorded.resolve();
    let joined = false;
    const join = pool.join().then(() => (joined = true));
    await turn();
    assert.equal(joined, false, 'join waits for the run whose slot was lent (a)');
    runs.get('a')!.recorded.resolve();
    await join;
    await Promise.all(ends);
  });

  it('ends a killed run once, whether or not its slot was lent', async () => {
    const { pool, runs, started } = scriptedPool('async', 1);
    const a = submit(pool, runs, 'a');
    const b = submit(pool, runs, 'b');
    await turn();
    runs.get('a')!.bodyDone.resolve();
    await turn();
    pool.kill('a', new Error('hard time limit'));
    assert.equal((await a).kind, 'killed');
    runs.get('a')!.recorded.resolve();
    runs.get('b')!.bodyDone.resolve();
    runs.get('b')!.recorded.resolve();
    assert.equal((await b).kind, 'done');
    assert.deepEqual(started, ['a', 'b']);
    await pool.join();
    assert.equal(pool.active, 0);
    const c = submit(pool, runs, 'c');
    await turn();
    assert.deepEqual(started, ['a', 'b', 'c'], 'the killed run gave its slot back exactly once');
    runs.get('c')!.bodyDone.resolve();
    runs.get('c')!.recorded.resolve();
    await c;
  });

  it('the solo pool never lends: one run at a time from start to record', async () => {
    const { pool, runs, started } = scriptedPool('solo', 1);
    const ends = ['a', 'b'].map((id) => submit(pool, runs, id));
    await turn();
    runs.get('a')!.bodyDone.resolve();
    await turn();
    assert.deepEqual(started, ['a']);
    runs.get('a')!.recorded.resolve();
    await turn();
    assert.deepEqual(started, ['a', 'b']);
    runs.get('b')!.bodyDone.resolve();
    runs.get('b')!.recorded.resolve();
    await Promise.all(ends);
  });
});

describe('Slots', () => {
  it('hands a lent slot to the next waiter and counts it until returned', async () => {
    const slots = new Slots(1);
    assert.equal(slots.tryAcquire(), true);
    let second = false;
    const waiting = slots.acquire().then(() => (second = true));
    assert.equal(slots.lend(), true);
    await waiting;
    assert.equal(second, true);
    assert.equal(slots.lend(), false, 'the limit of lent slots is reached');
    let idle = false;
    const join = slots.join().then(() => (idle = true));
    slots.release();
    await turn();
    assert.equal(idle, false);
    slots.returnLent();
    await join;
  });
});
