/**
 * The celeriac the benchmarks measure: the compiled package in dist/esm/ (what users run; `npm run
 * bench` builds it first), or the TypeScript sources with BENCH_FROM_SOURCE=1 (slower: tsx's
 * transforms add work to every function call).
 */
import { existsSync } from 'node:fs';
import type * as Celeriac from '../src/index.js';
import type * as RedisDriver from '../src/broker/redis/transport.js';

const dist = new URL('../dist/esm/index.js', import.meta.url);
const fromSource = process.env['BENCH_FROM_SOURCE'] === '1' || !existsSync(dist);

/** Where the measured code comes from, for the report. */
export const build = fromSource ? 'TypeScript sources through tsx' : 'compiled dist/';

export const lib = (await import(fromSource ? '../src/index.js' : dist.href)) as typeof Celeriac;
export const redisDriver = (await import(fromSource ? '../src/broker/redis/transport.js' : new URL('../dist/esm/broker/redis/transport.js', import.meta.url).href)) as typeof RedisDriver;

/** Drain of `n` no-op tasks (results stored) by one worker on `broker`/`backend`: tasks per second. */
export async function celeriacDrain(broker: string, backend: string, n: number, concurrency: number): Promise<number> {
  const { Celeriac, silentLogger, Worker } = lib;
  const app = new Celeriac('bench', { broker, backend, logger: silentLogger });
  app.task(function noop() {
    return null;
  }, { name: 'bench.noop' });
  for (let i = 0; i < n; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, k) => app.sendTask('bench.noop', [i + k])));
  }
  const worker = new Worker(app, { concurrency, logger: silentLogger, blockedLoopWarning: null, remoteControl: false });
  let done = 0;
  const finished = new Promise<void>((resolve) => worker.on('task-finished', () => ++done === n && resolve()));
  const start = performance.now();
  await worker.start();
  await finished;
  const ms = performance.now() - start;
  await worker.stop();
  await app.close();
  return (n / ms) * 1000;
}
