/**
 * The SIGKILL loop of the chaos tests: a fleet of CLI workers (built package) consumes tasks sent
 * at a steady pace while one worker at a time is SIGKILLed and replaced on a schedule; then the
 * run log is tallied (see ./harness.ts). Faults other than kills (a broker outage, a cut
 * connection) are the caller's, through `during`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Celeriac } from '../../src/index.js';
import { captureLog } from '../helpers/app.js';
import { ensureDist } from '../helpers/dist.js';
import { Fleet, FULL, readRuns, until, type FleetOptions, type Run } from './harness.js';

/** A deterministic pseudo-random sequence in [0, 1) (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A chaos run's shape. */
export interface KillLoopOptions extends Omit<FleetOptions, 'queue' | 'log'> {
  name: string;
  tasks: number;
  workers: number;
  /** SIGKILLs, one every `killEveryMs` (0: none). */
  kills: number;
  killEveryMs: number;
  /** How long the tasks are sent over (they go at a steady pace). */
  sendOverMs: number;
  /** Each task sleeps between these many milliseconds. */
  taskMs: [number, number];
  /** The producer's broker URL, when not `broker` (e.g. not through a proxy the test cuts). */
  producerBroker?: string;
  /** Transport options of the producer (e.g. a short publishTimeout). */
  producerTransportOptions?: Record<string, unknown>;
  /**
   * Runs next to the sending and killing (a broker outage, cut connections); `running()` resolves
   * once workers have started tasks, so a fault never lands before the fleet is up.
   */
  during?: (running: () => Promise<void>) => Promise<void>;
  /** How long to wait for every task to complete after the faults. */
  settleMs: number;
}

/** What a kill loop saw. */
export interface KillLoopResult {
  /** The queue the tasks went to (named for this run). */
  queue: string;
  /** Ids whose send resolved. */
  sent: string[];
  /** Ids whose send rejected. */
  rejected: string[];
  runs: Map<string, Run[]>;
  killed: Map<string, number>;
  /** Whether every sent id completed before `settleMs` ran out. */
  settled: boolean;
  stderr: string[];
}

/** Runs one chaos scenario to the end (workers stopped, producer closed). */
export async function killLoop(o: KillLoopOptions): Promise<KillLoopResult> {
  await ensureDist();
  const dir = mkdtempSync(join(tmpdir(), `celeriac-chaos-${o.name}-`));
  const log = join(dir, 'runs.log');
  const queue = `chaos-${o.name}-${process.pid}-${Date.now()}`;
  const fleet = new Fleet({ ...o, queue, log });
  const rand = random(o.tasks * 31 + o.kills);
  const producer = new Celeriac('chaos-producer', {
    broker: o.producerBroker ?? o.broker,
    backend: 'memory://',
    brokerTransportOptions: o.producerTransportOptions ?? {},
    logger: captureLog('error').logger,
  });
  const sent: string[] = [];
  const rejected: string[] = [];
  try {
    for (let i = 0; i < o.workers; i++) fleet.spawn();
    const sending = (async () => {
      const batches = Math.max(1, Math.ceil(o.sendOverMs / 100));
      const per = Math.ceil(o.tasks / batches);
      const pending: Array<Promise<void>> = [];
      for (let n = 0; n < o.tasks; ) {
        const started = Date.now();
        for (let k = 0; k < per && n < o.tasks; k++, n++) {
          const id = `t${n}`;
          const ms = Math.round(o.taskMs[0] + rand() * (o.taskMs[1] - o.taskMs[0]));
          pending.push(producer.sendTask('chaos.work', [id, ms], {}, { queue }).then(
            () => void sent.push(id),
            () => void rejected.push(id),
          ));
        }
        await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - started))));
      }
      await Promise.all(pending);
    })();
    const killing = (async () => {
      for (let k = 0; k < o.kills; k++) {
        await new Promise((r) => setTimeout(r, o.killEveryMs));
        fleet.killOne(rand());
      }
    })();
    const running = async (): Promise<void> => {
      if (!(await until(() => readRuns(log).size >= 20, 60_000))) throw new Error(`no worker ran a task within 60 s: ${fleet.stderr.slice(-5).join(' | ')}`);
    };
    await Promise.all([sending, killing, o.during?.(running)]);
    const completed = (): boolean => {
      const runs = readRuns(log);
      return sent.every((id) => runs.get(id)?.some((r) => r.ended));
    };
    const settled = await until(completed, o.settleMs, 250);
    // Time for a wrongful redelivery to show up: two visibility timeouts.
    await new Promise((r) => setTimeout(r, o.visibilityTimeout * 2000 + 500));
    return { queue, sent, rejected, runs: readRuns(log), killed: fleet.killed, settled, stderr: fleet.stderr };
  } finally {
    await fleet.stop();
    await producer.close();
  }
}

/**
 * The kill-loop shape of issue 17 (3 workers, a SIGKILL every 3 s for 60 s, 20,000 tasks) under
 * `CELERIAC_CHAOS_FULL=1`; a small one by default (1,500 tasks, a SIGKILL every 2 s, 6 times).
 */
export function killShape(name: string, broker: string, pool: 'async' | 'process', acksLate: boolean): KillLoopOptions {
  return {
    name,
    broker,
    pool,
    acksLate,
    concurrency: pool === 'process' ? 4 : 8,
    visibilityTimeout: 2,
    workers: 3,
    tasks: FULL ? 20_000 : 1500,
    kills: FULL ? 20 : 6,
    killEveryMs: FULL ? 3000 : 2000,
    sendOverMs: FULL ? 60_000 : 12_000,
    taskMs: [5, 60],
    settleMs: FULL ? 300_000 : 60_000,
  };
}
