/**
 * The embedded default against the memory broker: drain of N no-op tasks (results stored, one
 * worker) on `sqlite://` + `db+sqlite://` (one file), and on `memory://`, in the same run.
 * Run with `npm run bench` (or `tsx bench/sqlite.ts`); BENCH_N changes the size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, celeriacDrain } from './lib.js';
import { envNumber, report } from './util.js';

const N = envNumber('BENCH_N', 5000);
const CONCURRENCY = envNumber('BENCH_CONCURRENCY', 32);

const dir = mkdtempSync(join(tmpdir(), 'celeriac-bench-'));
const file = join(dir, 'bench.sqlite');
process.stdout.write(`\nEmbedded default (celeriac from ${build}): drain of ${N} no-op tasks, results stored, one worker, concurrency ${CONCURRENCY}\n`);
const sqlite = await celeriacDrain(`sqlite:///${file}`, `db+sqlite:///${file}`, N, CONCURRENCY);
const memory = await celeriacDrain('memory://', 'memory://', N, CONCURRENCY);
rmSync(dir, { recursive: true, force: true });
report('Drain', [
  { name: 'sqlite:// + db+sqlite://', value: sqlite, unit: 'tasks/s' },
  { name: 'memory://', value: memory, unit: 'tasks/s' },
], true);
process.exit(0);
