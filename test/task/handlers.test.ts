import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getTaskLogger, States, Task, type ExceptionInfo } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

type Call = [string, ...unknown[]];

describe('handlers on base classes', () => {
  it('calls onSuccess, onFailure and afterReturn with the guide arguments', async () => {
    const { app } = testApp();
    const calls: Call[] = [];
    class Tracked extends Task {
      override onSuccess(retval: unknown, taskId: string, args: unknown[], kwargs: Record<string, unknown>): void {
        calls.push(['success', retval, taskId, args, kwargs]);
      }
      override onFailure(exc: Error, taskId: string, args: unknown[], kwargs: Record<string, unknown>, einfo: ExceptionInfo): void {
        calls.push(['failure', exc.message, taskId, args, kwargs, einfo.type, einfo.exception === exc, einfo.traceback.includes('boom')]);
      }
      override afterReturn(status: string, retval: unknown, taskId: string): void {
        calls.push(['after', status, retval instanceof Error ? retval.message : retval, taskId]);
      }
    }
    const div = app.task(function div(a: number, b: number) {
      if (b === 0) throw new RangeError('boom: division by zero');
      return a / b;
    }, { name: 'tasks.div', base: Tracked });
    assert.ok(div instanceof Tracked);
    await withWorker(app, async () => {
      const ok = await div.delay(6, 3);
      assert.equal(await ok.get({ timeout: 5 }), 2);
      const bad = await div.delay(1, 0);
      await assert.rejects(bad.get({ timeout: 5 }), { name: 'RangeError', message: 'boom: division by zero' });
      assert.deepEqual(calls, [
        ['success', 2, ok.id, [6, 3], {}],
        ['after', States.SUCCESS, 2, ok.id],
        ['failure', 'boom: division by zero', bad.id, [1, 0], {}, 'RangeError', true, true],
        ['after', States.FAILURE, 'boom: division by zero', bad.id],
      ]);
    });
  });

  it('keeps per-process state on the base class (the guide DatabaseTask)', async () => {
    const { app } = testApp();
    let connects = 0;
    class DatabaseTask extends Task {
      private connection: { query(q: string): string } | undefined;
      get db(): { query(q: string): string } {
        if (!this.connection) {
          connects++;
          this.connection = { query: (q) => `rows for ${q}` };
        }
        return this.connection;
      }
    }
    const processRows = app.task(
      function processRows(self: DatabaseTask, table: string) {
        return self.db.query(table);
      },
      { name: 'tasks.process_rows', bind: true, base: DatabaseTask },
    );
    await withWorker(app, async () => {
      const results = await Promise.all(['a', 'b', 'c'].map((t) => processRows.delay(t)));
      assert.deepEqual(await Promise.all(results.map((r) => r.get({ timeout: 5 }))), ['rows for a', 'rows for b', 'rows for c']);
    });
    assert.equal(connects, 1);
  });

  it('logs a handler error without changing the task state', async () => {
    const { app, log } = testApp();
    class Broken extends Task {
      override onSuccess(): void {
        throw new Error('handler exploded');
      }
    }
    const t = app.task(function fine() {
      return 'ok';
    }, { name: 'tasks.fine', base: Broken });
    await withWorker(app, async () => {
      const r = await t.delay();
      assert.equal(await r.get({ timeout: 5 }), 'ok');
    });
    assert.equal(log.grep('error in onSuccess handler').length, 1);
  });
});

describe('the task logger', () => {
  it('puts the task name and id on every line', async () => {
    const { app, log } = testApp();
    const logger = getTaskLogger('tasks');
    const t = app.task(function chatty(x: number) {
      logger.info(`Adding ${x}`);
      logger.warn({ extra: 1 }, 'careful');
      return x;
    }, { name: 'tasks.chatty' });
    await withWorker(app, async () => {
      const r = await t.delay(5);
      await r.get({ timeout: 5 });
      const info = log.grep('Adding 5');
      assert.equal(info.length, 1);
      assert.match(info[0]!, new RegExp(`INFO/tasks\\] tasks\\.chatty\\[${r.id}\\]: Adding 5`));
      assert.match(log.grep('careful')[0]!, new RegExp(`WARNING/tasks\\] tasks\\.chatty\\[${r.id}\\]: careful extra=1`));
    });
  });

  it('gives each task its own logger with Task.getLogger(), named after the task', async () => {
    const { app, log } = testApp();
    const t = app.task(function logsItself(self: Task, x: number) {
      self.getLogger().info(`working on ${x}`);
      self.getLogger({ step: 2 }).debug('second step');
      return x;
    }, { name: 'tasks.logs_itself', bind: true });
    await withWorker(app, async () => {
      const r = await t.delay(3);
      await r.get({ timeout: 5 });
      assert.match(log.grep('working on 3')[0] ?? '', new RegExp(`INFO/tasks\\.logs_itself\\] tasks\\.logs_itself\\[${r.id}\\]: working on 3`));
      assert.match(log.grep('second step')[0] ?? '', /step=2/);
    });
  });
});
