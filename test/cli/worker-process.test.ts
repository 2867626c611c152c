/**
 * The worker as a process, as users run it: `celeriac worker` (and a worker started in code)
 * receiving signals, and a worker started before its broker. Each test uses its own SQLite file
 * or a private redis-server.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Celeriac, States, TimeLimitExceeded, WorkerLostError, type CeleryEvent } from '../../src/index.js';
import { redisServerSkip } from '../helpers/redis-server.js';
import { freePort } from '../helpers/services.js';

const ROOT = new URL('../..', import.meta.url).pathname;

interface Proc {
  child: ChildProcess;
  lines: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
}

function start(command: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, command, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  const onData = (chunk: Buffer): void => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => {
      resolve({ code, signal, at: Date.now() });
      for (const w of waiters.splice(0)) w();
    }),
  );
  const waitFor = async (pattern: RegExp, ms = 30_000): Promise<string> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = lines.find((l) => pattern.test(l));
      if (hit) return hit;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited before ${pattern}:\n${lines.join('\n')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${pattern}:\n${lines.join('\n')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  return { child, lines, exit, waitFor };
}

function sqliteUrls(): { broker: string; backend: string } {
  const file = join(mkdtempSync(join(tmpdir(), 'celeriac-proc-')), 'q.db');
  return { broker: `sqlite:///${file}`, backend: `db+sqlite:///${file}` };
}

function cliWorker(urls: { broker: string; backend: string }, extra: string[] = []): Proc {
  return start(['bin/celeriac.js', 'worker', '-A', 'test/fixtures/proc-app.ts', '-b', urls.broker, '--result-backend', urls.backend, '-c', '2', '-n', 'proc@test', ...extra]);
}

async function withClient<T>(urls: { broker: string; backend: string }, fn: (client: Celeriac) => Promise<T>): Promise<T> {
  const client = new Celeriac('client', { broker: urls.broker, backend: urls.backend });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

describe('the worker process', () => {
  it('two Ctrl-C stop a worker whose task ignores its signal within 5 s; the late-acked message goes back', async () => {
    const urls = sqliteUrls();
    const worker = cliWorker(urls);
    try {
      await worker.waitFor(/ready/);
      await withClient(urls, async (client) => {
        const early = await client.sendTask('proc.stubborn', [60_000]);
        const late = await client.sendTask('proc.stubbornLate', [60_000]);
        await worker.waitFor(new RegExp(`proc\\.stubbornLate\\[${late.id}\\] received`));
        await worker.waitFor(new RegExp(`proc\\.stubborn\\[${early.id}\\] received`));
        await new Promise((r) => setTimeout(r, 300)); // both running
        const t0 = Date.now();
        worker.child.kill('SIGINT');
        await worker.waitFor(/SIGINT received: warm shutdown/);
        worker.child.kill('SIGINT');
        const { code, at } = await worker.exit;
        assert.ok(at - t0 < 5000, `exited after ${at - t0} ms`);
        assert.equal(code, 130, worker.lines.join('\n'));
        assert.ok(worker.lines.some((l) => /abandoning 2 task\(s\) still running/.test(l)), worker.lines.join('\n'));
        // The early-acked task will not come back: its result says so instead of PENDING forever.
        const meta = await early.meta();
        assert.equal(meta.status, States.FAILURE);
        await assert.rejects(early.get({ timeout: 1 }), WorkerLostError);
        // The late-acked one is back in the queue for the next worker.
        assert.equal(await (await client.getTransport()).size('celery'), 1);
        assert.equal((await late.meta()).status, States.PENDING);
      });
    } finally {
      worker.child.kill('SIGKILL');
    }
  });

  it('SIGTERM is a warm shutdown: the running task finishes, then the process exits 0', async () => {
    const urls = sqliteUrls();
    const worker = cliWorker(urls);
    try {
      await worker.waitFor(/ready/);
      await withClient(urls, async (client) => {
        const r = await client.sendTask('proc.nap', [1500]);
        await worker.waitFor(new RegExp(`proc\\.nap\\[${r.id}\\] received`));
        worker.child.kill('SIGTERM');
        const { code } = await worker.exit;
        assert.equal(code, 0, worker.lines.join('\n'));
        assert.equal(await r.get({ timeout: 5 }), 1500);
      });
    } finally {
      worker.child.kill('SIGKILL');
    }
  });

  it('a worker started in code handles Ctrl-C the same way and exits once its task is done', async () => {
    const urls = sqliteUrls();
    const worker = start(['--import', 'tsx', 'test/fixtures/in-code-worker.ts'], { PROC_BROKER: urls.broker, PROC_BACKEND: urls.backend });
    try {
      await worker.waitFor(/ready/);
      await withClient(urls, async (client) => {
        const r = await client.sendTask('proc.nap', [1000]);
        await worker.waitFor(new RegExp(`proc\\.nap\\[${r.id}\\] received`));
        worker.child.kill('SIGINT');
        const { code } = await worker.exit;
        assert.equal(code, 0, worker.lines.join('\n'));
        assert.equal(await r.get({ timeout: 5 }), 1000, 'the early-acked task finished instead of staying PENDING');
      });
    } finally {
      worker.child.kill('SIGKILL');
    }
  });

  it(
    'a worker started 10 s before its Redis logs each retry and consumes once Redis is up',
    { skip: redisServerSkip, timeout: 90_000 },
    async () => {
      const port = await freePort();
      const url = `redis://127.0.0.1:${port}/0`;
      const worker = cliWorker({ broker: url, backend: url });
      let redis: ChildProcess | undefined;
      try {
        await worker.waitFor(new RegExp(`Cannot connect to redis://127\\.0\\.0\\.1:${port}.*Trying again in 2 seconds\\.\\.\\. \\(1/100\\)`));
        await new Promise((r) => setTimeout(r, 10_000 - 2_500));
        assert.ok(worker.lines.filter((l) => /Cannot connect/.test(l)).length >= 2, worker.lines.join('\n'));
        redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
        await worker.waitFor(/ready/, 40_000);
        await withClient({ broker: url, backend: url }, async (client) => {
          assert.equal(await (await client.sendTask('proc.add', [2, 3])).get({ timeout: 10 }), 5);
        });
      } finally {
        worker.child.kill('SIGKILL');
        redis?.kill('SIGKILL');
      }
    },
  );

  it('--logfile, --log-format json, --pidfile and --time-limit, with the process pool', async () => {
    const urls = sqliteUrls();
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-flags-'));
    const logfile = join(dir, 'worker.log');
    const pidfile = join(dir, 'worker.pid');
    const flags = ['-P', 'process', '-c', '1', '--logfile', logfile, '--log-format', 'json', '--pidfile', pidfile, '--time-limit', '1'];
    const worker = cliWorker(urls, flags);
    try {
      const logLines = (): string[] => (existsSync(logfile) ? readFileSync(logfile, 'utf8').split('\n').filter(Boolean) : []);
      const deadline = Date.now() + 30_000;
      while (!logLines().some((l) => l.includes('ready'))) {
        assert.ok(Date.now() < deadline, `no ready line in ${logfile}: ${worker.lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(readFileSync(pidfile, 'utf8').trim(), String(worker.child.pid));
      // A second worker on the same pidfile refuses to start.
      const second = cliWorker(urls, ['--pidfile', pidfile]);
      const { code } = await second.exit;
      assert.equal(code, 1);
      assert.match(second.lines.join('\n'), new RegExp(`names process ${worker.child.pid}, which is running`));
      await withClient(urls, async (client) => {
        const slow = await client.sendTask('proc.stubborn', [5000]);
        await assert.rejects(slow.get({ timeout: 15 }), TimeLimitExceeded);
        assert.equal(await (await client.sendTask('proc.add', [1, 2])).get({ timeout: 15 }), 3);
      });
      worker.child.kill('SIGTERM');
      assert.equal((await worker.exit).code, 0);
      assert.equal(existsSync(pidfile), false, 'the pidfile is removed at exit');
      const lines = logLines();
      const records = lines.map((l) => JSON.parse(l) as { level: number; msg: string; component?: string });
      assert.ok(records.some((r) => r.component?.startsWith('ForkPoolWorker') && /Task proc\.add\[.*\] succeeded/.test(r.msg)), lines.join('\n'));
      assert.ok(records.some((r) => r.level === 50 && /Hard time limit \(1s\) exceeded/.test(r.msg)), lines.join('\n'));
      assert.equal(worker.lines.filter((l) => l.startsWith('[')).length, 0, `nothing on stderr but the file: ${worker.lines.join('\n')}`);
    } finally {
      worker.child.kill('SIGKILL');
    }
  });

  it('-E sends task events; heartbeats by default, none with --without-heartbeat; gossip sees the other worker', async () => {
    const urls = sqliteUrls();
    const events: CeleryEvent[] = [];
    await withClient(urls, async (client) => {
      const receiver = client.events.receiver({ '*': (e) => events.push(e) });
      await receiver.start();
      const a = cliWorker(urls, ['-E', '--without-heartbeat', '-Q', 'only-a', '-n', 'a@test']);
      const b = cliWorker(urls, ['--without-gossip', '-Q', 'only-b', '-n', 'b@test']);
      try {
        await a.waitFor(/ready/);
        await b.waitFor(/ready/);
        // b's heartbeats reach a's gossip even if its worker-online came before a listened.
        await a.waitFor(/gossip: b@test joined/, 10_000);
        assert.equal(await (await client.sendTask('proc.add', [2, 2], {}, { queue: 'only-a' })).get({ timeout: 10 }), 4);
        assert.equal(await (await client.sendTask('proc.add', [3, 3], {}, { queue: 'only-b' })).get({ timeout: 10 }), 6);
        await new Promise((r) => setTimeout(r, 4500));
        const of = (host: string, type: string): number => events.filter((e) => e.hostname === host && e.type === type).length;
        const seen = JSON.stringify(events.map((e) => [e.hostname, e.type]));
        assert.ok(of('b@test', 'worker-heartbeat') >= 1, seen);
        assert.equal(of('a@test', 'worker-heartbeat'), 0, seen);
        assert.equal(of('a@test', 'worker-online'), 1, seen);
        assert.equal(of('a@test', 'task-succeeded'), 1, seen);
        assert.equal(of('b@test', 'task-succeeded'), 0, `only -E sends task events: ${seen}`);
        assert.equal(b.lines.filter((l) => l.includes('gossip')).length, 0);
      } finally {
        await receiver.stop();
        a.child.kill('SIGKILL');
        b.child.kill('SIGKILL');
      }
    });
  });

  it('-D runs the worker in the background with its log in --logfile', async () => {
    const urls = sqliteUrls();
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-detach-'));
    const logfile = join(dir, 'w.log');
    const pidfile = join(dir, 'w.pid');
    const launcher = cliWorker(urls, ['-D', '--logfile', logfile, '--pidfile', pidfile]);
    const { code } = await launcher.exit;
    assert.equal(code, 0, launcher.lines.join('\n'));
    assert.match(launcher.lines.join('\n'), /worker started in the background \(pid \d+\)/);
    const deadline = Date.now() + 30_000;
    while (!(existsSync(logfile) && readFileSync(logfile, 'utf8').includes('ready'))) {
      assert.ok(Date.now() < deadline, 'the detached worker never got ready');
      await new Promise((r) => setTimeout(r, 100));
    }
    const pid = Number(readFileSync(pidfile, 'utf8'));
    try {
      await withClient(urls, async (client) => {
        assert.equal(await (await client.sendTask('proc.add', [4, 4])).get({ timeout: 10 }), 8);
      });
    } finally {
      process.kill(pid, 'SIGTERM');
    }
    const gone = Date.now() + 10_000;
    while (existsSync(pidfile)) {
      assert.ok(Date.now() < gone, 'the detached worker did not stop on SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('a pool child whose worker was SIGKILLed starts none of the tasks queued in it; the next worker runs them once', async () => {
    const urls = sqliteUrls();
    const trace = join(mkdtempSync(join(tmpdir(), 'celeriac-orphan-')), 'runs.log');
    const runs = (): string[] => (existsSync(trace) ? readFileSync(trace, 'utf8').split('\n').filter(Boolean) : []);
    const first = cliWorker(urls, ['-P', 'process', '-c', '1', '--without-mingle', '--without-gossip']);
    await first.waitFor(/ready/);
    await withClient(urls, async (client) => {
      await client.sendTask('proc.busy', [2500, trace]);
      await client.sendTask('proc.mark', [trace, 'queued-behind']);
      const deadline = Date.now() + 20_000;
      while (!runs().some((l) => l.startsWith('S '))) {
        assert.ok(Date.now() < deadline, 'the busy task never started');
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 300)); // the second task is queued in the child now
      first.child.kill('SIGKILL');
      await first.exit;
      await new Promise((r) => setTimeout(r, 3500)); // the orphaned child finishes its busy task
      assert.equal(runs().filter((l) => l === 'queued-behind').length, 0, `the orphan started a queued task: ${runs().join('|')}`);
      const second = cliWorker(urls, ['--without-mingle', '--without-gossip', '-n', 'second@test']);
      try {
        await second.waitFor(/ready/);
        const until = Date.now() + 60_000; // the SQLite broker restores a dead worker's messages after its visibility timeout
        while (!runs().includes('queued-behind')) {
          assert.ok(Date.now() < until, `the queued task never ran again: ${runs().join('|')}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        await new Promise((r) => setTimeout(r, 1000));
        assert.equal(runs().filter((l) => l === 'queued-behind').length, 1);
      } finally {
        second.child.kill('SIGKILL');
      }
    });
  });
});
