/**
 * The embedded broker across processes (issue 4): 3 worker processes (the CLI) and 2 producer
 * processes share one SQLite file; 5,000 tasks each run exactly once. With acksLate, a worker
 * SIGKILLed mid-run loses nothing: the others run its tasks once the 2 s visibility timeout passes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';

const TOTAL = 5000;

function startWorker(broker: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['bin/celeriac.js', 'worker', '-A', 'test/fixtures/mp-app.ts', '-b', broker, '--result-backend', 'memory://', '-c', '8', '-l', 'warning'], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function produce(broker: string, prefix: string, from: number, count: number, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/mp-producer.ts', broker, prefix, String(from), String(count)], { env, stdio: 'inherit' });
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`producer exited ${code}`))));
  });
}

async function scenario(kill: boolean): Promise<Map<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-mp-'));
  const broker = `sqlite:///${join(dir, 'broker.db')}`;
  const runsFile = join(dir, 'runs.db');
  const runs = new Database(runsFile);
  runs.pragma('journal_mode = WAL');
  runs.exec('CREATE TABLE runs (key TEXT NOT NULL, pid INTEGER NOT NULL)');
  const env = { ...process.env, MP_RUNS: runsFile, MP_ACKS_LATE: kill ? '1' : '0', MP_TASK_MS: kill ? '2' : '0' };
  const workers = [0, 1, 2].map(() => startWorker(broker, env));
  try {
    await Promise.all([produce(broker, 'a', 0, TOTAL / 2, env), produce(broker, 'b', 0, TOTAL / 2, env)]);
    const count = (): number => (runs.prepare('SELECT count(DISTINCT key) AS n FROM runs').get() as { n: number }).n;
    const deadline = Date.now() + 90_000;
    let killed = false;
    while (count() < TOTAL && Date.now() < deadline) {
      if (kill && !killed && count() > TOTAL / 4) {
        workers[0]!.kill('SIGKILL');
        killed = true;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (kill) assert.ok(killed, 'a worker was killed mid-run');
    await new Promise((r) => setTimeout(r, 2500)); // any duplicate would show up now
    const rows = runs.prepare('SELECT key, count(*) AS n FROM runs GROUP BY key').all() as Array<{ key: string; n: number }>;
    return new Map(rows.map((r) => [r.key, r.n]));
  } finally {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => (w.exitCode !== null || w.signalCode !== null ? undefined : new Promise((r) => w.once('exit', r)))));
    runs.close();
  }
}

describe('SQLite broker across processes', () => {
  it('runs 5,000 tasks from 2 producers on 3 workers exactly once each', { timeout: 180_000 }, async () => {
    const runs = await scenario(false);
    assert.equal(runs.size, TOTAL, 'every task ran');
    assert.deepEqual([...runs].filter(([, n]) => n !== 1), [], 'none ran twice');
  });

  it('loses no task when a worker is SIGKILLed mid-run with acksLate', { timeout: 180_000 }, async () => {
    const runs = await scenario(true);
    assert.equal(runs.size, TOTAL, 'every task ran at least once');
  });
});
