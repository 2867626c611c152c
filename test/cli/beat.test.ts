import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

describe('celeriac worker -B', () => {
  it('runs periodic tasks on the embedded SQLite broker and keeps the schedule state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-beat-'));
    const out = join(dir, 'ticks.txt');
    const schedule = join(dir, 'schedule.json');
    const child = spawn(
      process.execPath,
      ['bin/celeriac.js', 'worker', '-A', 'test/fixtures/beat-app.ts', '-B', '-s', schedule, '-b', `sqlite:///${join(dir, 'q.db')}`, '--result-backend', `db+sqlite:///${join(dir, 'q.db')}`, '-l', 'warning'],
      { env: { ...process.env, BEAT_OUT: out }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (existsSync(out) && readFileSync(out, 'utf8').split('\n').filter(Boolean).length >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0, stderr);
    const ticks = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    assert.ok(ticks.length >= 3, `ran ${ticks.length} times`);
    const state = JSON.parse(readFileSync(schedule, 'utf8')) as { entries: { tick: { totalRunCount: number } } };
    assert.ok(state.entries.tick.totalRunCount >= 3);
  });
});
