import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crontab, ImproperlyConfigured, IntervalSchedule, parseCronField } from '../../src/index.js';

const at = (iso: string): Date => new Date(iso);

describe('crontab', () => {
  it('parses fields: lists, ranges, steps, names, Sunday as 0 or 7', () => {
    assert.deepEqual([...parseCronField('*/15', 'minute', 0, 59)], [0, 15, 30, 45]);
    assert.deepEqual([...parseCronField('1,5-7', 'hour', 0, 23)], [1, 5, 6, 7]);
    assert.deepEqual([...parseCronField('10-20/5', 'minute', 0, 59)], [10, 15, 20]);
    assert.deepEqual([...crontab({ dayOfWeek: 'mon-fri' }).daysOfWeek].sort(), [1, 2, 3, 4, 5]);
    assert.deepEqual([...crontab({ dayOfWeek: 7 }).daysOfWeek], [0]);
    assert.deepEqual([...crontab({ monthOfYear: 'jan,dec' }).months], [1, 12]);
    assert.deepEqual([...crontab({ minute: [0, 30] }).minutes], [0, 30]);
  });

  it('names the bad field and value', () => {
    assert.throws(() => crontab({ minute: 60 }), (e: Error) => e instanceof ImproperlyConfigured && /minute: '60' is not in 0-59/.test(e.message));
    assert.throws(() => crontab({ hour: 'x-y' }), /crontab hour/);
    assert.throws(() => crontab('* * *'), /must have 5 fields/);
    assert.throws(() => crontab({ dayOfMonth: 31, monthOfYear: 2 }).nextAfter(at('2026-01-01T00:00:00Z')), /never matches/);
    assert.throws(() => crontab({ timezone: 'Mars/Olympus' }), /unknown time zone/);
  });

  it('finds the next matching minute', () => {
    const everyQuarter = crontab('*/15 * * * *');
    assert.equal(everyQuarter.nextAfter(at('2026-11-24T10:07:30Z')).toISOString(), '2026-11-24T10:15:00.000Z');
    assert.equal(everyQuarter.nextAfter(at('2026-11-24T10:15:00Z')).toISOString(), '2026-11-24T10:30:00.000Z');
    const mondayMorning = crontab({ minute: 30, hour: 7, dayOfWeek: 1 });
    // 2026-11-24 is a Tuesday: next Monday is the 30th.
    assert.equal(mondayMorning.nextAfter(at('2026-11-24T08:00:00Z')).toISOString(), '2026-11-30T07:30:00.000Z');
    const leap = crontab({ minute: 0, hour: 0, dayOfMonth: 29, monthOfYear: 2 });
    assert.equal(leap.nextAfter(at('2026-03-01T00:00:00Z')).toISOString(), '2028-02-29T00:00:00.000Z');
  });

  it('reads the fields in its time zone', () => {
    const nineInNewYork = crontab({ minute: 0, hour: 9, timezone: 'America/New_York' });
    // November: New York is UTC-5.
    assert.equal(nineInNewYork.nextAfter(at('2026-11-24T00:00:00Z')).toISOString(), '2026-11-24T14:00:00.000Z');
    // July: UTC-4.
    assert.equal(nineInNewYork.nextAfter(at('2026-07-01T00:00:00Z')).toISOString(), '2026-07-01T13:00:00.000Z');
  });

  it('is due when a matching minute passed since the last run', () => {
    const hourly = crontab({ minute: 0 });
    const due = hourly.isDue(at('2026-11-24T09:00:00Z'), at('2026-11-24T10:00:05Z'));
    assert.equal(due.isDue, true);
    assert.equal(due.nextInMs, 60 * 60_000 - 5000);
    const notYet = hourly.isDue(at('2026-11-24T10:00:00Z'), at('2026-11-24T10:20:00Z'));
    assert.deepEqual(notYet, { isDue: false, nextInMs: 40 * 60_000 });
  });
});

describe('interval schedule', () => {
  it('is due every n seconds after the last run', () => {
    const every = new IntervalSchedule(30);
    assert.deepEqual(every.isDue(at('2026-11-24T10:00:00Z'), at('2026-11-24T10:00:10Z')), { isDue: false, nextInMs: 20_000 });
    assert.deepEqual(every.isDue(at('2026-11-24T10:00:00Z'), at('2026-11-24T10:00:30Z')), { isDue: true, nextInMs: 30_000 });
    assert.throws(() => new IntervalSchedule(0), ImproperlyConfigured);
  });
});
