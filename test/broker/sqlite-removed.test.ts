import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Celeriac } from '../../src/index.js';
import { captureLog, withWorker } from '../helpers/app.js';

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('sqlite broker file removed under a running worker', () => {
  it('notices, says so once, reopens the path and runs what producers send to the new file', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-removed-'));
    const file = join(dir, 'broker.db');
    const url = `sqlite:///${file}`;
    const log = captureLog('info');
    const app = new Celeriac('w', { broker: url, backend: null, logger: log.logger });
    const ran: number[] = [];
    app.task(function record(n: number) {
      ran.push(n);
    }, { name: 'tasks.record' });
    try {
      await withWorker(app, async () => {
        const send = async (n: number): Promise<void> => {
          // A fresh producer each time, as a separate process would be.
          const producer = new Celeriac('p', { broker: url, backend: null, logger: captureLog('error').logger });
          await producer.sendTask('tasks.record', [n]);
          await producer.close();
        };
        await send(1);
        await until(() => ran.length === 1, 'the first task');
        for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) unlinkSync(f);
        await send(2);
        await until(() => ran.includes(2), 'the task sent to the new file');
        await send(3);
        await until(() => ran.includes(3), 'a later task');
        assert.deepEqual(ran, [1, 2, 3]);
        // "removed" when the check runs before a producer creates the file again, else "replaced".
        const warnings = log.lines.filter((l) => l.includes(`database file ${file} was re`) && /(removed|replaced by another file) while in use; reopening it/.test(l));
        assert.equal(warnings.length, 1, log.lines.join('\n'));
      }, { concurrency: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
