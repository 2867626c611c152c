/**
 * Starting worker threads on our own modules, from the built JavaScript or from the TypeScript
 * sources (tests, `tsx`): Node 20 does not pass `--import` loaders on to a thread's entry module,
 * so from sources tsx is registered inside the thread before the entry is imported.
 */
import { Worker as Thread, type WorkerOptions } from 'node:worker_threads';

/** True when this code runs from the TypeScript sources. */
export const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** Starts a thread on `entry` (a module URL, `.ts` from sources). */
export function startModuleThread(entry: URL, options: WorkerOptions = {}): Thread {
  if (!entry.href.endsWith('.ts')) return new Thread(entry, options);
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Thread(code, { ...options, eval: true });
}
