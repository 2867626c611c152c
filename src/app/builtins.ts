/**
 * Built-in tasks, under the names Celery gives them so Python peers can send them too:
 * `celery.backend_cleanup` (deletes expired results), `celery.accumulate`, `celery.map`,
 * `celery.starmap`, `celery.chunks`, `celery.chord_unlock` (chords on backends without atomic
 * counting), and `celery.group` / `celery.chain` / `celery.chord`, which apply the canvas they
 * are given (Celery keeps these names registered for old clients that send canvases as tasks).
 */
import { completeChord } from '../canvas/chord.js';
import { Chunks } from '../canvas/chunks.js';
import { Signature } from '../canvas/signature.js';
import type { SignatureDict } from '../protocol/message.js';
import { resultFromTuple } from '../result/group-result.js';
import { READY_STATES } from '../result/states.js';
import { Task } from '../task/task.js';
import type { Celeriac } from './celeriac.js';

function taskOf(app: Celeriac, sig: SignatureDict | string) {
  const name = typeof sig === 'string' ? sig : Signature.fromDict(sig, app).task;
  return app.tasks.require(name);
}

/**
 * `celery.accumulate(*args, index=None)`: its arguments as a list, or the one at `index` (what a
 * task replaced by a group returns: the group's results).
 */
class Accumulate extends Task<[unknown[], number | null], unknown> {
  override name = 'celery.accumulate';

  override bindArguments(args: readonly unknown[], kwargs: Readonly<Record<string, unknown>> = {}): unknown[] {
    const extra = Object.keys(kwargs).find((k) => k !== 'index');
    if (extra !== undefined) throw new TypeError(`accumulate() got an unexpected keyword argument '${extra}'`);
    const index = kwargs['index'];
    return [[...args], typeof index === 'number' ? index : null];
  }

  override run(args: unknown[], index: number | null): unknown {
    return index === null ? args : args[index];
  }
}

/** Registers the built-in tasks on an app. */
export function registerBuiltins(app: Celeriac): void {
  app.task(
    async function backendCleanup() {
      await (await app.getBackend()).cleanup();
    },
    { name: 'celery.backend_cleanup', ignoreResult: true },
  );
  app.registerTask(new Accumulate());
  app.task(
    async function map(task: SignatureDict | string, it: unknown[]) {
      const t = taskOf(app, task);
      const out: unknown[] = [];
      for (const item of it) out.push(await t.run(item));
      return out;
    },
    { name: 'celery.map' },
  );
  app.task(
    async function starmap(task: SignatureDict | string, it: unknown[][]) {
      const t = taskOf(app, task);
      const out: unknown[] = [];
      for (const item of it) out.push(await t.run(...item));
      return out;
    },
    { name: 'celery.starmap' },
  );
  app.task(
    async function chunks(task: SignatureDict, it: unknown[][], n: number) {
      // The signature as sent, options (queue, ...) included.
      const res = await new Chunks(Signature.fromDict(task, app), it, n, app).applyAsync();
      return res.id;
    },
    { name: 'celery.chunks' },
  );
  app.task(
    async function unlockChord(
      self: Task,
      groupId: string,
      callback: SignatureDict,
      interval: number | null = null,
      max_retries: number | null = null,
      result: unknown[] = [],
    ) {
      const backend = await app.getBackend();
      const ids = result.map((t) => resultFromTuple(t, app).id);
      const metas = await Promise.all(ids.map((id) => backend.getTaskMeta(id)));
      if (!metas.every((m) => READY_STATES.has(m.status))) {
        return self.retry({ countdown: interval ?? 1, maxRetries: max_retries });
      }
      await completeChord(app, backend, callback, metas.map((m) => ({ taskId: m.task_id, state: m.status, result: m.result })));
    },
    { name: 'celery.chord_unlock', bind: true, maxRetries: null, ignoreResult: true, params: ['group_id', 'callback', 'interval?', 'max_retries?', 'result?'] },
  );
  for (const kind of ['group', 'chain', 'chord'] as const) {
    app.task(
      async function applyCanvas(...args: unknown[]) {
        const dict = { task: `celery.${kind}`, args: [], kwargs: {}, options: {}, subtask_type: kind, immutable: false } as SignatureDict;
        const kwargs = (args[args.length - 1] ?? {}) as Record<string, unknown>;
        const canvas = Signature.fromDict({ ...dict, kwargs }, app);
        const res = await canvas.applyAsync();
        return res.id;
      },
      { name: `celery.${kind}`, params: ['...args'] },
    );
  }
}
