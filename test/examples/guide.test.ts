import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { States } from '../../src/index.js';
import { guideTasks, network, Twitter } from '../../examples/guide.js';
import { testApp, withWorker } from '../helpers/app.js';

const until = async (predicate: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe("the guide's examples", () => {
  it('send_twitter_status retries on FailWhaleError until it posts', async () => {
    const { app } = testApp();
    const { sendTwitterStatus } = guideTasks(app);
    Twitter.failuresLeft = 2;
    Twitter.posted = [];
    await withWorker(app, async () => {
      const r = await sendTwitterStatus.delay('token', 'hello', 0.01);
      assert.equal(await r.get({ timeout: 5 }), null);
      assert.deepEqual(Twitter.posted, ['hello']);
      assert.equal(Twitter.failuresLeft, 0);
    });
  });

  it('refresh_timeline autoretries a network error with backoff', async () => {
    const { app } = testApp();
    const { refreshTimeline } = guideTasks(app);
    network.failuresLeft = 3;
    network.calls = 0;
    await withWorker(app, async () => {
      assert.equal(await (await refreshTimeline.delay('ada')).get({ timeout: 5 }), 'timeline of ada');
      assert.equal(network.calls, 4);
    });
  });

  it('render_scene rejects the message on out-of-memory without requeueing it', async () => {
    const { app, log } = testApp();
    const { renderScene } = guideTasks(app);
    const transport = await app.getTransport();
    await withWorker(app, async (worker) => {
      const ok = await renderScene.delay('small.blend');
      assert.equal(await ok.get({ timeout: 5 }), 'rendered small.blend');
      const bad = await renderScene.delay('huge.blend');
      await until(() => log.grep(`[${bad.id}] rejected (requeue=false)`).length === 1, 'the rejection');
      await until(() => worker.active.size === 0, 'idle');
      assert.equal(await bad.state(), States.PENDING, 'Reject stores no state');
      assert.equal(await transport.size('celery'), 0, 'the message is gone, not requeued');
    });
  });

  it('requeues() runs on its second delivery, seen as redelivered', async () => {
    const { app } = testApp();
    const { requeues } = guideTasks(app);
    await withWorker(app, async () => {
      assert.equal(await (await requeues.delay()).get({ timeout: 5 }), 'received two times');
    });
  });

  it('Ignore stores no state; a normal run does', async () => {
    const { app } = testApp();
    const { maybeIgnored } = guideTasks(app);
    await withWorker(app, async (worker) => {
      const ignored = await maybeIgnored.delay(true);
      const kept = await maybeIgnored.delay(false);
      assert.equal(await kept.get({ timeout: 5 }), kept.id);
      await until(() => (worker.processed.get('tasks.maybe_ignored') ?? 0) === 2, 'both runs');
      assert.equal(await ignored.state(), States.PENDING);
    });
  });

  it('upload_files reports PROGRESS with current and total', async () => {
    const { app } = testApp();
    const { uploadFiles } = guideTasks(app);
    const seen: unknown[] = [];
    const backend = await app.getBackend();
    const original = backend.storeResult.bind(backend);
    backend.storeResult = async (meta) => {
      if (meta.status === 'PROGRESS') seen.push(meta.result);
      return original(meta);
    };
    await withWorker(app, async () => {
      assert.equal(await (await uploadFiles.delay(['a', 'b', 'c'])).get({ timeout: 5 }), 3);
    });
    assert.deepEqual(seen, [
      { current: 1, total: 3 },
      { current: 2, total: 3 },
      { current: 3, total: 3 },
    ]);
  });
});
