import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { main, type CliIo } from '../../src/cli/main.js';
import { renderProgress } from '../../src/cli/progress.js';
import { Celeriac, Worker } from '../../src/index.js';
import { captureLog } from '../helpers/app.js';

interface Run {
  code: number;
  out: string[];
  err: string[];
}

async function run(args: string[], tty = false): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: tty };
  const code = await main(['node', 'celeriac', ...args], io);
  return { code, out, err };
}

function urls(): string[] {
  const file = join(mkdtempSync(join(tmpdir(), 'celeriac-cli-')), 'q.db');
  return ['-b', `sqlite:///${file}`, '--result-backend', `db+sqlite:///${file}`];
}

/** A worker on the same SQLite file, in this process. */
async function withWorker<T>(flags: string[], fn: () => Promise<T>, options: { sendEvents?: boolean } = {}): Promise<T> {
  const { app } = await import('../fixtures/cli-app.js');
  const worker = new Celeriac('cli-worker', { broker: flags[1]!, backend: flags[3]!, logger: captureLog().logger });
  for (const name of app.tasks.userNames()) worker.registerTask(app.tasks.require(name));
  const w = new Worker(worker, { logger: captureLog().logger, concurrency: 2, hostname: 'cli@test', ...options });
  await w.start();
  try {
    return await fn();
  } finally {
    await w.stop();
    await worker.close();
  }
}

const APP = ['-A', 'test/fixtures/cli-app.ts'];

describe('celeriac CLI', () => {
  it('prints help for every command', async () => {
    for (const cmd of ['worker', 'beat', 'call', 'result', 'purge', 'status', 'inspect', 'control', 'events']) {
      const r = await run([cmd, '--help']);
      assert.equal(r.code, 0, cmd);
      assert.match(r.out.join('\n'), new RegExp(`Usage: celeriac ${cmd}`), cmd);
    }
  });

  it('call prints the id; with --wait the result; result --wait reads it back', async () => {
    const flags = urls();
    const sent = await run(['call', 'cli.add', '--args', '[2, 3]', ...APP, ...flags]);
    assert.equal(sent.code, 0, sent.err.join('\n'));
    assert.match(sent.out[0]!, /^[0-9a-f-]{36}$/);
    await withWorker(flags, async () => {
      const waited = await run(['call', 'cli.add', '--args', '[20, 22]', '--wait', '--timeout', '10', ...APP, ...flags]);
      assert.deepEqual(waited.out, ['42']);
      const back = await run(['result', sent.out[0]!, '--wait', '--timeout', '10', ...APP, ...flags]);
      assert.deepEqual(JSON.parse(back.out[0]!), { id: sent.out[0], state: 'SUCCESS', result: 5, traceback: null });
    });
  });

  it('draws a progress bar from current/total meta in a terminal', async () => {
    const flags = urls();
    await withWorker(flags, async () => {
      const r = await run(['call', 'cli.steps', '--args', '[4]', '--wait', '--timeout', '15', ...APP, ...flags], true);
      assert.deepEqual(r.out, ['4']);
      const bars = r.err.filter((l) => l.includes('PROGRESS ['));
      assert.ok(bars.length >= 2, r.err.join('|'));
    });
    assert.equal(renderProgress('PROGRESS', { current: 5, total: 10 }, 10), 'PROGRESS [#####-----]  50% (5/10)');
    assert.equal(renderProgress('PROGRESS', { done: 1 }), null);
  });

  it('purges with -f and says how many', async () => {
    const flags = urls();
    for (let i = 0; i < 3; i++) await run(['call', 'cli.add', '--args', '[1, 1]', ...APP, ...flags]);
    const r = await run(['purge', '-f', ...APP, ...flags]);
    assert.deepEqual(r.out, ['purged 3 messages from celery']);
  });

  it('reports bad input in one line without a stack, and with one under --debug', async () => {
    const cases: Array<[string[], RegExp, number]> = [
      [['call', 'cli.add', ...APP, '-b', 'nonsense'], /bad broker URL 'nonsense'/, 1],
      [['call', 'cli.add', ...APP, '-b', 'kafka://x'], /unknown broker scheme 'kafka'/, 1],
      [['call', 'cli.add', '-A', 'test/fixtures/cli-app.ts:notAnApp'], /notAnApp/, 1],
      [['call', 'cli.add', '-A', 'test/fixtures/missing.ts'], /missing\.ts/, 1],
      // Usage errors: exit 2, the line names the flag, a hint instead of the whole help.
      [['call', 'cli.add', '--args', '[1,', ...APP, ...urls()], /option '--args <json>' argument '\[1,' is invalid.*not valid JSON/, 2],
      [['call', 'cli.add', '--countdown', 'abc', ...APP, ...urls()], /option '--countdown <seconds>' argument 'abc' is invalid. expected a number of seconds/, 2],
      [['call', 'cli.add', '--args', '{}', ...APP, ...urls()], /--args must be a JSON list/, 2],
      [['worker', '-c', 'two', ...APP], /option '-c, --concurrency <n>' argument 'two' is invalid/, 2],
      [['worker', '--autoscale', '3,5', ...APP], /--autoscale <max,min>.*expected max >= min/, 2],
      [['control', 'rate_limit', ...APP, ...urls()], /control rate_limit takes 2 argument\(s\): celeriac control rate_limit <task_name> <rate_limit>/, 2],
      [['inspect', 'frob', ...APP, ...urls()], /unknown inspect command 'frob'/, 2],
      [['purge', ...APP, ...urls()], /stdin is not a terminal: pass -f/, 2],
    ];
    for (const [args, pattern, code] of cases) {
      const r = await run(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.err.join('|')}`);
      if (code === 2) {
        assert.ok(r.err.length <= 2, `one line and a hint, not the help: ${r.err.join('\n')}`);
        assert.match(r.err.join(' '), /add --help for usage/);
        assert.doesNotMatch(r.err.join('\n'), /Options:/);
        r.err = [r.err.join(' ')];
      }
      assert.equal(r.err.length, 1, `one line for ${args.join(' ')}: ${r.err.join('\n')}`);
      assert.match(r.err[0]!, pattern);
      assert.doesNotMatch(r.err[0]!, /\n\s+at /);
    }
    const debug = await run(['call', 'cli.add', ...APP, '-b', 'kafka://x', '--debug']);
    assert.equal(debug.code, 1);
    assert.match(debug.err.join('\n'), /\n\s+at /);
  });

  it('status, inspect and control talk to the workers in celery\'s layout; events streams', async () => {
    const flags = urls();
    await withWorker(flags, async () => {
      const status = await run(['status', ...APP, ...flags, '-t', '0.5']);
      assert.deepEqual(status.out, ['->  cli@test: OK', '\n1 node online.']);
      const ping = await run(['inspect', 'ping', ...APP, ...flags, '-t', '0.5']);
      assert.deepEqual(ping.out, ['->  cli@test: OK', '        pong', '\n1 node online.']);
      const registered = await run(['inspect', 'registered', ...APP, ...flags, '-t', '0.5', '-j']);
      assert.deepEqual(JSON.parse(registered.out[0]!), { 'cli@test': ['cli.add', 'cli.fail', 'cli.steps'] });
      const rate = await run(['control', 'rate_limit', 'cli.add', '5/s', ...APP, ...flags, '-t', '0.5']);
      assert.deepEqual(rate.out, ['->  cli@test: OK', '        new rate limit set successfully']);
      const events = run(['events', '--dump', '--duration', '1.5', ...APP, ...flags]);
      await new Promise((r) => setTimeout(r, 400));
      // Sent by a client of its own: in this one process, a second CLI command would load (and
      // close, when done) the same app module the running `events` command is using.
      const client = new Celeriac('cli-client', { broker: flags[1]!, backend: flags[3]!, logger: captureLog().logger });
      assert.equal(await (await client.sendTask('cli.add', [1, 1])).get({ timeout: 5 }), 2);
      await client.close();
      const lines = (await events).out.map((l) => JSON.parse(l) as { type: string; hostname: string });
      assert.ok(lines.some((e) => e.type === 'task-succeeded' && e.hostname === 'cli@test'), JSON.stringify(lines));
    }, { sendEvents: true });
  });
});

describe('celeriac CLI in scripts', () => {
  it('exits 69 when no worker answers status or inspect; status -j prints JSON only', async () => {
    const flags = urls();
    const status = await run(['status', ...APP, ...flags, '-t', '0.3']);
    assert.equal(status.code, 69);
    assert.match(status.err.join('\n'), /No nodes replied/);
    const json = await run(['status', '-j', ...APP, ...flags, '-t', '0.3']);
    assert.equal(json.code, 69);
    assert.deepEqual(json.out, ['{}']);
    const inspect = await run(['inspect', 'ping', ...APP, ...flags, '-t', '0.3']);
    assert.equal(inspect.code, 69);
    await withWorker(flags, async () => {
      const up = await run(['status', '-j', ...APP, ...flags, '-t', '0.5']);
      assert.equal(up.code, 0);
      assert.deepEqual(up.out.map((l) => JSON.parse(l) as unknown), [{ 'cli@test': { ok: 'pong' } }]);
    });
  });

  it('call --wait and result --wait exit 1 when the task failed', async () => {
    const flags = urls();
    await withWorker(flags, async () => {
      const call = await run(['call', 'cli.fail', '--args', '["nope"]', '--wait', '--timeout', '10', ...APP, ...flags]);
      assert.equal(call.code, 1);
      assert.match(call.err[0]!, /nope/);
      const sent = await run(['call', 'cli.fail', '--args', '["again"]', ...APP, ...flags]);
      const result = await run(['result', sent.out[0]!, '--wait', '--timeout', '10', ...APP, ...flags]);
      assert.equal(result.code, 1);
      assert.equal((JSON.parse(result.out[0]!) as { state: string }).state, 'FAILURE');
      const ok = await run(['call', 'cli.add', '--args', '[1, 2]', '--wait', '--timeout', '10', ...APP, ...flags]);
      assert.equal(ok.code, 0);
    });
  });

  it('the progress bar ends at 100% when the task succeeds', async () => {
    const flags = urls();
    await withWorker(flags, async () => {
      const r = await run(['call', 'cli.steps', '--args', '[3]', '--wait', '--timeout', '15', ...APP, ...flags], true);
      const bars = r.err.filter((l) => l.includes('['));
      assert.match(bars.at(-1)!, /SUCCESS \[#+\] 100% \(3\/3\)/, r.err.join('|'));
    });
  });
});
