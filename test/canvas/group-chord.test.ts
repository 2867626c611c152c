import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  chain,
  chord,
  ChordError,
  decodeTaskMessage,
  group,
  GroupResult,
  Signature,
  States,
  type Celeriac,
  type SignatureDict,
} from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

function mathTasks(app: Celeriac) {
  const add = app.task(function add(x: number, y: number) {
    return x + y;
  }, { name: 'tasks.add' });
  const mul = app.task(function mul(x: number, y: number) {
    return x * y;
  }, { name: 'tasks.mul' });
  const tsum = app.task(function tsum(numbers: number[]) {
    return numbers.reduce((a, b) => a + b, 0);
  }, { name: 'tasks.tsum' });
  const boom = app.task(function boom(x: number) {
    throw new RangeError(`boom ${x}`);
  }, { name: 'tasks.boom' });
  return { add, mul, tsum, boom };
}

describe('groups', () => {
  it('run members in parallel and return their results in order', async () => {
    const { app } = testApp();
    const { add } = mathTasks(app);
    await withWorker(app, async () => {
      const res = await group(add.s(2, 2), add.s(4, 4), add.s(8, 8)).applyAsync();
      assert.ok(res instanceof GroupResult);
      assert.equal(res.results.length, 3);
      assert.deepEqual(await res.get({ timeout: 5 }), [4, 8, 16]);
      assert.equal(await res.completedCount(), 3);
      assert.equal(await res.successful(), true);
    });
  });

  it('accept an iterable of signatures and give every member the group id and its index', async () => {
    const { app } = testApp();
    const { add } = mathTasks(app);
    const g = group([1, 2, 3].map((i) => add.s(i, i)));
    const res = await g.applyAsync();
    const transport = await app.getTransport();
    const seen: Array<{ group: unknown; index: unknown }> = [];
    const consumer = await transport.consume(['celery'], (d) => {
      const m = decodeTaskMessage(d.message, app.codecs);
      seen.push({ group: m.headers.group, index: m.headers.group_index });
      void d.ack();
    }, { prefetch: 0 });
    for (let i = 0; i < 50 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    await consumer.cancel();
    await app.close();
    assert.deepEqual(seen, [0, 1, 2].map((index) => ({ group: res.id, index })));
  });

  it('apply partial arguments to every member', async () => {
    const { app } = testApp();
    const { add } = mathTasks(app);
    await withWorker(app, async () => {
      const res = await group(add.s(1), add.s(2)).applyAsync([10]);
      assert.deepEqual(await res.get({ timeout: 5 }), [11, 12]);
    });
  });

  it('make a failed member fail get(), and join with propagate: false returns the errors', async () => {
    const { app } = testApp();
    const { add, boom } = mathTasks(app);
    await withWorker(app, async () => {
      const res = await group(add.s(1, 1), boom.s(7)).applyAsync();
      await assert.rejects(res.get({ timeout: 5 }), (err: Error) => err.name === 'RangeError' && err.message === 'boom 7');
      assert.equal(await res.failed(), true);
      assert.equal(await res.state(), States.FAILURE);
      const values = await res.join({ timeout: 5, propagate: false });
      assert.equal(values[0], 2);
      assert.ok((values[1] as unknown) instanceof RangeError, 'the failed member gives its error');
    });
  });

  it('save and restore a GroupResult by id', async () => {
    const { app } = testApp();
    const { add } = mathTasks(app);
    await withWorker(app, async () => {
      const res = await group(add.s(1, 1), add.s(2, 2)).applyAsync();
      await res.save();
      const restored = await GroupResult.restore(res.id, app);
      assert.ok(restored);
      assert.deepEqual(restored.results.map((r) => r.id), res.results.map((r) => r.id));
      assert.deepEqual(await restored.get({ timeout: 5 }), [2, 4]);
    });
  });

  it('contain chains, and chains contain groups (a group in the middle becomes a chord)', async () => {
    const { app } = testApp();
    const { add, mul, tsum } = mathTasks(app);
    await withWorker(app, async () => {
      const g = await group(chain(add.s(1, 1), mul.s(10)), chain(add.s(2, 2), mul.s(10))).applyAsync();
      assert.deepEqual(await g.get({ timeout: 5 }), [20, 40]);
      const c = await chain(add.s(1, 1), group(add.s(1), add.s(2)), tsum.s()).applyAsync();
      assert.equal(await c.get({ timeout: 5 }), 3 + 4);
      const last = await chain(add.s(1, 1), group(add.s(1), mul.s(3))).applyAsync();
      assert.deepEqual(await last.get({ timeout: 5 }), [3, 6]);
    });
  });
});

describe('chords', () => {
  it('apply the body once with the header results in header order', async () => {
    const { app } = testApp();
    const { add, tsum } = mathTasks(app);
    await withWorker(app, async () => {
      const res = await chord([add.s(2, 2), add.s(4, 4), add.s(8, 8)], tsum.s()).applyAsync();
      assert.equal(await res.get({ timeout: 5 }), 28);
      assert.ok(res.parent instanceof GroupResult, 'the parent is the header');
      assert.deepEqual(await res.parent.get({ timeout: 5 }), [4, 8, 16]);
      const viaCall = await chord([add.s(1, 1)])(tsum.s());
      assert.equal(await viaCall.get({ timeout: 5 }), 2);
    });
  });

  it('serialize as celery.chord and carry the body with chord_size in every header message', async () => {
    const { app } = testApp();
    const { add, tsum } = mathTasks(app);
    const c = chord([add.s(1, 1), add.s(2, 2)], tsum.s());
    const dict = c.toJSON();
    assert.equal(dict.task, 'celery.chord');
    assert.equal(dict.subtask_type, 'chord');
    const back = Signature.fromDict(JSON.parse(JSON.stringify(dict)) as SignatureDict, app);
    assert.deepEqual(back.toJSON(), dict);
    const res = await c.applyAsync();
    const transport = await app.getTransport();
    const chords: SignatureDict[] = [];
    const consumer = await transport.consume(['celery'], (d) => {
      const m = decodeTaskMessage(d.message, app.codecs);
      if (m.embed.chord) chords.push(m.embed.chord);
      void d.ack();
    }, { prefetch: 0 });
    for (let i = 0; i < 50 && chords.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    await consumer.cancel();
    await app.close();
    assert.equal(chords.length, 2);
    for (const body of chords) {
      assert.equal(body.task, 'tasks.tsum');
      assert.equal(body['chord_size'], 2);
      assert.equal(body.options?.['task_id'], res.id);
    }
  });

  it('fail with a ChordError naming the failed header task, and apply the body errbacks', async () => {
    const { app } = testApp();
    const { add, tsum, boom } = mathTasks(app);
    const errored: string[] = [];
    app.task(function onChordError(id: string) {
      errored.push(id);
    }, { name: 'tasks.on_chord_error' });
    await withWorker(app, async () => {
      const body = tsum.s();
      body.linkError(app.signature('tasks.on_chord_error'));
      const res = await chord([add.s(1, 1), boom.s(3)], body).applyAsync();
      await assert.rejects(res.get({ timeout: 5 }), (err: Error) => {
        assert.ok(err instanceof ChordError, `got ${err.name}`);
        assert.match(err.message, /Dependency .* raised RangeError\('boom 3'\)/);
        return true;
      });
      for (let i = 0; i < 100 && errored.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(errored, [res.id]);
    });
  });

  it('call the body with [] for an empty header, and work inside a chain', async () => {
    const { app } = testApp();
    const { add, mul, tsum } = mathTasks(app);
    await withWorker(app, async () => {
      const empty = await chord([], tsum.s()).applyAsync();
      assert.equal(await empty.get({ timeout: 5 }), 0);
      const c = await chain(chord([add.s(1, 1), add.s(2, 2)], tsum.s()), mul.s(10)).applyAsync();
      assert.equal(await c.get({ timeout: 5 }), 60);
    });
  });

  it('complete a 1000-task header exactly once', async () => {
    const { app } = testApp();
    const { add } = mathTasks(app);
    let bodies = 0;
    const count = app.task(function count(values: number[]) {
      bodies++;
      return values.length;
    }, { name: 'tasks.count' });
    await withWorker(app, async () => {
      const header = Array.from({ length: 1000 }, (_, i) => add.s(i, 1));
      const res = await chord(header, count.s()).applyAsync();
      assert.equal(await res.get({ timeout: 30 }), 1000);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(bodies, 1);
    }, { concurrency: 8 });
  });

  it('fall back to celery.chord_unlock on a backend without atomic counting', async () => {
    const { app } = testApp();
    const { add, tsum, boom } = mathTasks(app);
    const backend = await app.getBackend();
    Object.defineProperty(backend, 'chords', { value: undefined });
    await withWorker(app, async () => {
      const res = await chord([add.s(1, 2), add.s(3, 4)], tsum.s()).applyAsync();
      assert.equal(await res.get({ timeout: 10 }), 10);
      const bad = await chord([boom.s(1)], tsum.s()).applyAsync();
      await assert.rejects(bad.get({ timeout: 10 }), ChordError);
    });
  });

  it('are refused, before anything is sent, by a backend that cannot run them (rpc://)', async () => {
    const { app } = testApp({ backend: 'rpc://' });
    const { add, tsum } = mathTasks(app);
    try {
      await assert.rejects(chord([add.s(1, 2)], tsum.s()).applyAsync(), (err: Error) => err.name === 'ImproperlyConfigured' && /rpc:\/\/ result backend does not support chords/.test(err.message));
      const transport = await app.getTransport();
      assert.equal(await transport.size(app.conf.taskDefaultQueue), 0, 'no header task was sent');
    } finally {
      await app.close();
    }
  });
});

describe('map, starmap and chunks', () => {
  it('run many calls of one task in one message, or in n-sized chunks as a group', async () => {
    const { app } = testApp();
    const { add, tsum } = mathTasks(app);
    await withWorker(app, async () => {
      const m = await tsum.map([[1, 2], [3, 4]]).delay();
      assert.deepEqual(await m.get({ timeout: 5 }), [3, 7]);
      const sm = await add.starmap([[1, 2], [3, 4]]).delay();
      assert.deepEqual(await sm.get({ timeout: 5 }), [3, 7]);
      const items = Array.from({ length: 10 }, (_, i) => [i, i]);
      const ch = await add.chunks(items, 4).applyAsync();
      assert.ok(ch instanceof GroupResult);
      assert.equal(ch.results.length, 3);
      assert.deepEqual(await ch.get({ timeout: 5 }), [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18]]);
    });
  });

  it('serialize as Celery xmap / xstarmap / chunks signatures', () => {
    const { app } = testApp();
    const { add } = mathTasks(app);
    const xm = add.map([1, 2]).toJSON();
    assert.equal(xm.task, 'celery.map');
    assert.equal(xm.subtask_type, 'xmap');
    assert.equal(xm.immutable, true);
    assert.deepEqual(xm.kwargs['it'], [1, 2]);
    const ch = add.chunks([[1, 2]], 1).toJSON();
    assert.equal(ch.subtask_type, 'chunks');
    assert.equal(ch.kwargs['n'], 1);
    assert.throws(() => add.chunks([[1, 2]], 0).group(), RangeError);
  });
});

describe('chords in chains', () => {
  it('fail the steps after a failed chord too', async () => {
    const { app } = testApp();
    const { add, mul, tsum, boom } = mathTasks(app);
    await withWorker(app, async () => {
      const c = await chain(chord([add.s(1, 1), boom.s(2)], tsum.s()), mul.s(10)).applyAsync();
      await assert.rejects(c.get({ timeout: 5 }), ChordError);
    });
  });
});
