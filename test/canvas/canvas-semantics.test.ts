/**
 * Celery's canvas semantics that mixed Python/Node deployments rely on (issue 16, items 1-3):
 * immutable signatures ignore merged arguments, a chord keeps its body's frozen id, and
 * `freeze()` and `applyAsync()` give the same `parent` links.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chain, chord, group, Signature, type AsyncResult, type Celeriac, type SignatureDict, type Task } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

function tasks(app: Celeriac) {
  const identity = app.task(function identity(x: unknown) {
    return x;
  }, { name: 'it.identity' });
  const add = app.task(function add(x: number, y: number) {
    return x + y;
  }, { name: 'it.add' });
  const tsum = app.task(function tsum(numbers: number[]) {
    return numbers.reduce((a, b) => a + b, 0);
  }, { name: 'it.tsum' });
  const ids = app.task(function ids(self: Task, i: number) {
    return [self.request.rootId, self.request.parentId, i];
  }, { name: 'it.ids', bind: true });
  const collectIds = app.task(function collectIds(self: Task, res: unknown, i: number) {
    return [res, [self.request.rootId, self.request.parentId, i]];
  }, { name: 'it.collect_ids', bind: true });
  return { identity, add, tsum, ids, collectIds };
}

/** The ids along a result's `parent` links, itself first. */
function lineage(result: AsyncResult | null): string[] {
  const out: string[] = [];
  for (let r = result; r; r = r.parent) out.push(r.id);
  return out;
}

describe('immutable signatures (Celery merge rules)', () => {
  it('ignore new arguments when cloned; mutable ones get them first', () => {
    const { app } = testApp();
    const { add } = tasks(app);
    assert.deepEqual(add.si(1, 2).clone([9], { z: 3 }).args, [1, 2]);
    assert.deepEqual(add.si(1, 2).clone([9], { z: 3 }).kwargs, {});
    assert.deepEqual(add.s(2).clone([9]).args, [9, 2]);
    const g = group(add.si(1, 1), add.si(2, 2));
    g.immutable = true;
    assert.deepEqual(g.clone([5]).tasks.map((t) => t.args), [[1, 1], [2, 2]]);
  });

  it('keep a group_id already set when options are merged', () => {
    const { app } = testApp();
    const { add } = tasks(app);
    const sig = add.s(1).set({ groupId: 'g1' });
    assert.equal(sig.clone([], {}, { groupId: 'g2', priority: 3 }).options['group_id'], 'g1');
    assert.equal(sig.clone([], {}, { groupId: 'g2', priority: 3 }).options['priority'], 3);
  });

  it('run in a chord after a chain step: chain(identity.si(1), chord([identity.si(2), identity.si(3)], identity.si(7)))', async () => {
    const { app } = testApp();
    const { identity } = tasks(app);
    await withWorker(app, async () => {
      const c = await chain(identity.si(1), chord([identity.si(2), identity.si(3)], identity.si(7))).applyAsync();
      assert.equal(await c.get({ timeout: 5 }), 7);
      // A chord nested in a chain nested in a chord's header (Celery's chain_chord_chain_chord).
      const nested = await chain(
        identity.si(1),
        chord([identity.si(2), chain(identity.si(3), chord([identity.si(4), identity.si(5)], identity.si(6)))], identity.si(7)),
      ).applyAsync();
      assert.equal(await nested.get({ timeout: 5 }), 7);
    });
  });

  it('give chord parts the chain as root and the previous step as parent (Celery parent_ids)', async () => {
    const { app } = testApp();
    const { ids, collectIds } = tasks(app);
    await withWorker(app, async () => {
      const root = ids.signature([], { i: 1 }, {}, true);
      const rootId = root.freeze().id;
      const second = ids.signature([], { i: 2 }, {}, true);
      const secondId = second.freeze().id;
      const header = [0, 1, 2].map((i) => ids.signature([], { i }, {}, true));
      const res = await chain(root, second, chord(header, collectIds.signature([], { i: 3 }))).applyAsync();
      const [parts, own] = (await res.get({ timeout: 5 })) as [unknown[][], unknown[]];
      assert.deepEqual(
        parts.map((p) => p.slice(0, 2)),
        [0, 1, 2].map(() => [rootId, secondId]),
      );
      assert.deepEqual(parts.map((p) => p[2]), [0, 1, 2]);
      assert.equal(own[0], rootId);
      assert.equal(own[2], 3);
    });
  });
});

describe('a chord as a step of a chain', () => {
  it("keeps its body's frozen id when the chord's own id is its header's (as Python Celery sends it)", async () => {
    const { app } = testApp();
    const { add } = tasks(app);
    // The chain as Python Celery freezes and sends it: the chord's task_id is its header's
    // group id, and the body already has the id the client waits on.
    const dict: SignatureDict = {
      task: 'celery.chain',
      args: [],
      kwargs: {
        tasks: [
          { task: 'it.add', args: [1, 1], kwargs: {}, options: { task_id: 'first' }, subtask_type: null, immutable: false },
          {
            task: 'celery.chord',
            args: [],
            kwargs: {
              header: {
                task: 'celery.group',
                args: [],
                kwargs: { tasks: [app.signature('it.add', [1]).toJSON(), app.signature('it.add', [2]).toJSON()] },
                options: { task_id: 'the-header' },
                subtask_type: 'group',
                immutable: false,
              },
              body: { task: 'it.tsum', args: [], kwargs: {}, options: { task_id: 'the-body' }, subtask_type: null, immutable: false },
              kwargs: {},
            },
            options: { task_id: 'the-header' },
            subtask_type: 'chord',
            immutable: false,
          },
        ],
      },
      options: {},
      subtask_type: 'chain',
      immutable: false,
    };
    await withWorker(app, async () => {
      const sent = await Signature.fromDict(dict, app).applyAsync();
      assert.equal(sent.id, 'the-body');
      assert.equal(await app.asyncResult('the-body').get({ timeout: 5 }), 7);
    });
  });

  it('freeze() reports the ids applyAsync() sends, with the same parent links back to the first step', async () => {
    const { app } = testApp();
    const { add, tsum } = tasks(app);
    await withWorker(app, async () => {
      const c = chain(add.s(1, 1), group(add.s(1), add.s(2)), tsum.s());
      const frozen = c.freeze();
      const sent = await c.applyAsync();
      assert.deepEqual(lineage(sent), lineage(frozen));
      assert.equal(lineage(sent).length, 3, 'tsum -> header group -> first add');
      assert.equal(await sent.get({ timeout: 5 }), 7);
      assert.equal(await sent.parent!.parent!.get({ timeout: 5 }), 2);
      // A chord whose body is a chain: the body's first step links to the header.
      const withChainBody = chord([add.s(1, 1)], chain(tsum.s(), add.s(10)));
      const frozenChord = withChainBody.freeze();
      assert.equal(lineage(frozenChord).length, 3, 'add(10) -> tsum -> header');
      const sentChord = await withChainBody.applyAsync();
      assert.deepEqual(lineage(sentChord), lineage(frozenChord));
      assert.equal(await sentChord.get({ timeout: 5 }), 12);
    });
  });
});

describe('chains inside chords (shapes Python Celery sends)', () => {
  it('run the steps after a chain that is a chord body (the chain option of the body chain)', async () => {
    const { app } = testApp();
    const { add, tsum } = tasks(app);
    await withWorker(app, async () => {
      // Python's chain(group, tsum, add(1), group(add(1), add(1))) arrives as a chord whose body
      // is chain(tsum, add(1)) carrying the final group in its own `chain` option.
      const tail = group(add.s(1), add.s(1));
      const tailResult = tail.freeze();
      const body = chain(tsum.s(), add.s(1));
      body.options['chain'] = [tail.toJSON()];
      await chord([add.s(1, 1), add.s(1, 1)], body).applyAsync();
      assert.deepEqual(await tailResult.get({ timeout: 5 }), [6, 6]);
    });
  });

  it('fail the chord when a chain in its header fails before its last step, and apply the errbacks', async () => {
    const { app } = testApp();
    const { identity } = tasks(app);
    const failed: string[] = [];
    const boom = app.task(function boom() {
      throw new RangeError('boom');
    }, { name: 'it.boom' });
    const errback = app.task(function errback(id: string) {
      failed.push(id);
    }, { name: 'it.errback' });
    await withWorker(app, async () => {
      const body = identity.s();
      body.linkError(errback.s());
      const res = await chord([chain(identity.si(42), boom.si(), identity.si(42))], body).applyAsync();
      await assert.rejects(res.get({ timeout: 5 }), (err: Error) => err.name === 'ChordError');
      // The errback is a task of its own: wait for it (bounded) before checking what it saw.
      for (const deadline = Date.now() + 5000; failed.length === 0 && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.deepEqual(failed, [res.id]);
    });
  });
});

describe('callbacks and chain steps', () => {
  it("keep their own priority unless taskInheritParentPriority is on (Celery's default: off)", async () => {
    for (const inherit of [false, true]) {
      const { app } = testApp({ taskInheritParentPriority: inherit });
      const priority = app.task(function priority(self: Task, ..._args: unknown[]) {
        return self.request.deliveryInfo?.priority ?? null;
      }, { name: 'it.priority', bind: true });
      await withWorker(app, async () => {
        const res = await chain(priority.s().set({ priority: 3 }), priority.s().set({ priority: 5 })).applyAsync();
        assert.equal(await res.get({ timeout: 5 }), inherit ? 3 : 5);
      });
    }
  });
});
