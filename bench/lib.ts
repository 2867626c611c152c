/**
 * The celeriac the benchmarks measure: the compiled package in dist/ (what users run; `npm run
 * bench` builds it first), or the TypeScript sources with BENCH_FROM_SOURCE=1 (slower: tsx's
 * transforms add work to every function call).
 */
import { existsSync } from 'node:fs';
import type * as Celeriac from '../src/index.js';
import type * as RedisDriver from '../src/broker/redis/transport.js';

const dist = new URL('../dist/index.js', import.meta.url);
const fromSource = process.env['BENCH_FROM_SOURCE'] === '1' || !existsSync(dist);

/** Where the measured code comes from, for the report. */
export const build = fromSource ? 'TypeScript sources through tsx' : 'compiled dist/';

export const lib = (await import(fromSource ? '../src/index.js' : dist.href)) as typeof Celeriac;
export const redisDriver = (await import(fromSource ? '../src/broker/redis/transport.js' : new URL('../dist/broker/redis/transport.js', import.meta.url).href)) as typeof RedisDriver;
