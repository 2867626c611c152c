/**
 * Built-in tasks, under the names Celery gives them so Python peers can send them too:
 * `celery.backend_cleanup` (deletes expired results), `celery.accumulate`, `celery.map`,
 * `celery.starmap`.
 */
import { Signature } from '../canvas/signature.js';
import type { SignatureDict } from '../protocol/message.js';
import type { Celeriac } from './celeriac.js';

function taskOf(app: Celeriac, sig: SignatureDict | string) {
  const name = typeof sig === 'string' ? sig : Signature.fromDict(sig, app).task;
  return app.tasks.require(name);
}

/** Registers the built-in tasks on an app. */
export function registerBuiltins(app: Celeriac): void {
  app.task(
    async function backendCleanup() {
      await (await app.getBackend()).cleanup();
    },
    { name: 'celery.backend_cleanup', ignoreResult: true },
  );
  app.task(
    function accumulate(...args: unknown[]) {
      return args;
    },
    { name: 'celery.accumulate', params: ['...args'] },
  );
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
}
