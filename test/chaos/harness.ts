/**
 * The chaos harness (issue 17): CLI workers from the built package killed and replaced on a
 * schedule, a durable run log written by the tasks themselves (test/chaos/fixtures/app.mjs), and
 * the accounting of lost and duplicated task ids against what was killed or cut.
 *
 * Sizes: small by default, so the whole folder runs in a few minutes in CI;
 * `CELERIAC_CHAOS_FULL=1` runs the sizes of issue 17 (20,000 tasks, a kill every 3 s for 60 s).
 * Everything is on loopback, bounded in count and time, and stops by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** Full-size runs (`CELERIAC_CHAOS_FULL=1`). */
export const FULL = process.env['CELERIAC_CHAOS_FULL'] === '1';

const ROOT = new URL('../..', import.meta.url).pathname;

/** Waits until `cond` holds; false when `timeoutMs` passed first. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return true;
}

/** How the fleet's workers run. */
export interface FleetOptions {
  broker: string;
  queue: string;
  /** The run log the tasks append to. */
  log: string;
  pool: 'async' | 'process';
  concurrency: number;
  acksLate: boolean;
  /** Visibility timeout, seconds. */
  visibilityTimeout: number;
}

/** CLI workers, killed and replaced on demand; every worker has a name of its own. */
export class Fleet {
  private readonly live = new Map<string, ChildProcess>();
  private readonly all: ChildProcess[] = [];
  private next = 0;
  /** Names of the workers SIGKILLed, with when. */
  readonly killed = new Map<string, number>();
  /** The last lines each worker wrote to stderr (for failure messages). */
  readonly stderr: string[] = [];

  constructor(private readonly options: FleetOptions) {}

  /** Starts a worker; returns its name. */
  spawn(): string {
    const name = `w${this.next++}`;
    const o = this.options;
    const child = spawn(
      process.execPath,
      ['test/chaos/fixtures/cli.mjs', 'worker', '-A', 'test/chaos/fixtures/app.mjs', '-b', o.broker, '--result-backend', 'memory://',
        '-Q', o.queue, '-c', String(o.concurrency), '-P', o.pool, '-l', 'warning', '-n', `${name}-${process.pid}@%h`],
      {
        cwd: ROOT,
        env: { ...process.env, CHAOS_LOG: o.log, CHAOS_WORKER: name, CHAOS_VT: String(o.visibilityTimeout), CHAOS_ACKS_LATE: o.acksLate ? '1' : '0' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    child.stderr!.on('data', (b: Buffer) => {
      this.stderr.push(...b.toString().split('\n').filter(Boolean).map((l) => `${name}: ${l}`));
      if (this.stderr.length > 200) this.stderr.splice(0, this.stderr.length - 200);
    });
    child.once('exit', () => this.live.delete(name));
    this.live.set(name, child);
    this.all.push(child);
    return name;
  }

  /** SIGKILLs a live worker (chosen by `pick`, a number in [0, 1)) and starts a replacement. */
  killOne(pick: number): string | undefined {
    const names = [...this.live.keys()];
    const name = names[Math.floor(pick * names.length)];
    if (name === undefined) return undefined;
    this.killed.set(name, Date.now());
    this.live.get(name)!.kill('SIGKILL');
    this.live.delete(name);
    this.spawn();
    return name;
  }

  /** Stops every worker (SIGTERM, SIGKILL after 10 s) and waits for them to exit. */
  async stop(): Promise<void> {
    const waiting = this.all.filter((c) => c.exitCode === null && c.signalCode === null);
    for (const c of waiting) c.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const c of waiting) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }, 10_000);
    await Promise.all(waiting.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    clearTimeout(timer);
  }
}

/** One execution of a task, from the run log. */
export interface Run {
  worker: string;
  ended: boolean;
  /** Unix ms of the start, and of the end when it ended. */
  startedAt: number;
  endedAt?: number;
}

/** The runs of every task id in the log, in the order they started. */
export function readRuns(file: string): Map<string, Run[]> {
  const runs = new Map<string, Run[]>();
  if (!existsSync(file)) return runs;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [kind, id, worker, at] = line.split(' ');
    if (!id || !worker) continue;
    if (kind === 'S') {
      const list = runs.get(id) ?? [];
      list.push({ worker, ended: false, startedAt: Number(at) });
      runs.set(id, list);
    } else if (kind === 'E') {
      const run = runs.get(id)?.find((r) => r.worker === worker && !r.ended);
      if (run) {
        run.ended = true;
        run.endedAt = Number(at);
      }
    }
  }
  return runs;
}

/** Lost and duplicated ids of a chaos run. */
export interface Tally {
  sent: number;
  /** Ids that ran to the end at least once. */
  completed: number;
  /** Ids that never ran to the end. */
  lost: string[];
  /** Of `lost`, those that started on a worker that was killed (the early-ack allowance). */
  lostExplained: string[];
  /** Ids that started more than once. */
  duplicated: string[];
  /** Of `duplicated`, those where every run but the last was on a worker that was killed or cut. */
  duplicatedExplained: string[];
}

/**
 * Counts lost and duplicated ids. `excused(run)` says whether a run's worker was killed (or lost
 * its connection) while it ran: only then may the task run again, or (early acks) be lost.
 */
export function tally(ids: readonly string[], runs: Map<string, Run[]>, excused: (run: Run) => boolean): Tally {
  const t: Tally = { sent: ids.length, completed: 0, lost: [], lostExplained: [], duplicated: [], duplicatedExplained: [] };
  for (const id of ids) {
    const list = runs.get(id) ?? [];
    if (list.some((r) => r.ended)) t.completed++;
    else {
      t.lost.push(id);
      if (list.some(excused)) t.lostExplained.push(id);
    }
    if (list.length > 1) {
      t.duplicated.push(id);
      if (list.slice(0, -1).every(excused)) t.duplicatedExplained.push(id);
    }
  }
  return t;
}

/** One line for a report: the numbers of a tally. */
export function summary(name: string, t: Tally, extra = ''): string {
  return `chaos ${name}: sent ${t.sent}, completed ${t.completed}, lost ${t.lost.length} (${t.lostExplained.length} started on a killed worker), ` +
    `run twice ${t.duplicated.length} (${t.duplicatedExplained.length} explained by a kill or cut)${extra ? `, ${extra}` : ''}`;
}
