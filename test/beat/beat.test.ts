import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Beat, crontab, decodeTaskMessage, type Celeriac } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

/** A clock the test moves by hand. */
function fakeClock(start: string): { now: () => Date; advance(seconds: number): void } {
  let t = new Date(start).getTime();
  return { now: () => new Date(t), advance: (s) => (t += s * 1000) };
}

async function drainNames(app: Celeriac): Promise<string[]> {
  const transport = await app.getTransport();
  const names: string[] = [];
  const consumer = await transport.consume(['celery'], (d) => {
    names.push(String(decodeTaskMessage(d.message, app.codecs).headers.task));
    void d.ack();
  }, { prefetch: 0 });
  await new Promise((r) => setTimeout(r, 30));
  await consumer.cancel();
  return names;
}

describe('beat', () => {
  it('sends entries from beat_schedule and addPeriodicTask when due, and says when to look again', async () => {
    const { app } = testApp({
      beat_schedule: { 'add-every-30': { task: 'tasks.add', schedule: 30, args: [1, 2], options: { queue: 'celery' } } },
    });
    app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    app.addPeriodicTask(crontab({ minute: 0 }), app.signature('tasks.report'), { name: 'hourly report' });
    const clock = fakeClock('2026-11-24T10:59:50Z');
    const beat = new Beat(app, { scheduleFile: null, now: clock.now });
    assert.deepEqual([...beat.entries.keys()].sort(), ['add-every-30', 'hourly report']);
    assert.equal(await beat.tick(), 10_000, 'nothing due; the hourly entry is next, in 10 s');
    clock.advance(10);
    assert.equal(await beat.tick(), 20_000);
    clock.advance(20);
    await beat.tick();
    assert.deepEqual((await drainNames(app)).sort(), ['tasks.add', 'tasks.report']);
    assert.equal(beat.entries.get('add-every-30')!.totalRunCount, 1);
    await app.close();
  });

  it('keeps last runs in its state file across restarts', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'beat-')), 'schedule.json');
    const { app } = testApp({ beatSchedule: { every10: { task: 'tasks.noop', schedule: 10 } } });
    const clock = fakeClock('2026-11-24T10:00:00Z');
    const first = new Beat(app, { scheduleFile: file, now: clock.now });
    clock.advance(10);
    await first.tick();
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { entries: Record<string, { lastRunAt: string; totalRunCount: number }> };
    assert.deepEqual(saved.entries['every10'], { lastRunAt: '2026-11-24T10:00:10.000Z', totalRunCount: 1 });
    clock.advance(5);
    const second = new Beat(app, { scheduleFile: file, now: clock.now });
    assert.equal(await second.tick(), 5000, 'the restarted beat continues from the saved run');
    assert.equal(second.entries.get('every10')!.totalRunCount, 1);
    assert.deepEqual(await drainNames(app), ['tasks.noop']);
    await app.close();
  });

  it('runs inside a worker with beat: true and its tasks execute', async () => {
    const { app } = testApp({ beatSchedule: { often: { task: 'tasks.tick', schedule: 0.05 } }, beatScheduleFilename: null });
    let ticks = 0;
    app.task(function tick() {
      ticks++;
    }, { name: 'tasks.tick' });
    await withWorker(app, async (worker) => {
      assert.ok(worker.beat);
      const deadline = Date.now() + 3000;
      while (ticks < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(ticks >= 3, `ran ${ticks} times`);
    }, { beat: true });
  });

  it('logs a failed send and keeps going', async () => {
    const { app, log } = testApp({ broker: 'memory://', beatSchedule: { bad: { task: 'tasks.x', schedule: 1 } } });
    const transport = await app.getTransport();
    const clock = fakeClock('2026-11-24T10:00:00Z');
    const beat = new Beat(app, { scheduleFile: null, now: clock.now });
    const original = transport.publish.bind(transport);
    transport.publish = async () => {
      throw new Error('broker down');
    };
    clock.advance(1);
    assert.equal(await beat.tick(), 1000);
    assert.equal(log.grep('could not send due task bad').length, 1);
    transport.publish = original;
    assert.equal(beat.entries.get('bad')!.totalRunCount, 0);
    await beat.tick();
    assert.equal(beat.entries.get('bad')!.totalRunCount, 1);
    await app.close();
  });
});
