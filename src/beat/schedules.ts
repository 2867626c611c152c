/**
 * Schedules of periodic tasks, as Celery's: a fixed interval (`schedule(run_every)`, here a number
 * of seconds) and `crontab(...)`. A schedule answers one question for the beat service: given
 * when an entry last ran, is it due now, and how long until it should be asked again?
 */
import { ImproperlyConfigured } from '../errors/index.js';

/** The answer of {@link Schedule.isDue}. */
export interface DueState {
  isDue: boolean;
  /** Milliseconds until the entry should be checked again. */
  nextInMs: number;
}

/** When a periodic task runs. */
export interface Schedule {
  /** Whether an entry that last ran at `lastRunAt` is due at `now`. */
  isDue(lastRunAt: Date, now: Date): DueState;
  /** A human-readable form, for logs and `celeriac beat` output. */
  toString(): string;
}

/** Every `seconds` seconds, counted from the last run (Celery's `schedule`). */
export class IntervalSchedule implements Schedule {
  constructor(readonly seconds: number) {
    if (!(seconds > 0)) throw new ImproperlyConfigured(`interval schedule must be a positive number of seconds, got ${seconds}`);
  }

  isDue(lastRunAt: Date, now: Date): DueState {
    const remaining = lastRunAt.getTime() + this.seconds * 1000 - now.getTime();
    if (remaining <= 0) return { isDue: true, nextInMs: this.seconds * 1000 };
    return { isDue: false, nextInMs: remaining };
  }

  toString(): string {
    return `<freq: ${this.seconds}s>`;
  }
}

/** Fields of a crontab; each a cron expression (`*`, `*\/15`, `1,30`, `9-17`, `mon-fri`) or numbers. */
export interface CrontabSpec {
  /** 0-59. @defaultValue `'*'` */
  minute?: string | number | readonly number[];
  /** 0-23. @defaultValue `'*'` */
  hour?: string | number | readonly number[];
  /** 0-6, Sunday = 0 (7 too), or names `sun`..`sat`. @defaultValue `'*'` */
  dayOfWeek?: string | number | readonly number[];
  /** 1-31. @defaultValue `'*'` */
  dayOfMonth?: string | number | readonly number[];
  /** 1-12, or names `jan`..`dec`. @defaultValue `'*'` */
  monthOfYear?: string | number | readonly number[];
  /** IANA time zone the fields are read in. @defaultValue `'UTC'` */
  timezone?: string;
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** Parses one crontab field into the set of values it allows. */
export function parseCronField(
  field: string | number | readonly number[],
  what: string,
  min: number,
  max: number,
  names: readonly string[] = [],
  nameBase = 0,
): Set<number> {
  if (typeof field === 'number') field = String(field);
  if (Array.isArray(field)) field = field.join(',');
  const text = String(field).trim().toLowerCase();
  const value = (token: string): number => {
    const named = names.indexOf(token.slice(0, 3));
    const n = named >= 0 && /^[a-z]+$/.test(token) ? named + nameBase : Number(token);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new ImproperlyConfigured(`crontab ${what}: '${token}' is not in ${min}-${max}`);
    }
    return n;
  };
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:\/(\d+))?$/.exec(part.trim());
    if (!m) throw new ImproperlyConfigured(`crontab ${what}: cannot parse '${part}'`);
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1) throw new ImproperlyConfigured(`crontab ${what}: step must be at least 1 in '${part}'`);
    let lo = min;
    let hi = max;
    if (m[1] !== '*') {
      const [a, b] = m[1]!.split('-');
      lo = value(a!);
      hi = b === undefined ? (m[2] === undefined ? lo : max) : value(b);
      if (hi < lo) throw new ImproperlyConfigured(`crontab ${what}: range '${part}' runs backwards`);
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** Wall-clock fields of an instant in a time zone. */
interface WallClock {
  minute: number;
  hour: number;
  day: number;
  month: number;
  weekday: number;
}

function wallClockReader(timezone: string): (d: Date) => WallClock {
  if (timezone === 'UTC') {
    return (d) => ({ minute: d.getUTCMinutes(), hour: d.getUTCHours(), day: d.getUTCDate(), month: d.getUTCMonth() + 1, weekday: d.getUTCDay() });
  }
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      minute: 'numeric',
      hour: 'numeric',
      day: 'numeric',
      month: 'numeric',
      weekday: 'short',
    });
  } catch {
    throw new ImproperlyConfigured(`unknown time zone '${timezone}'`);
  }
  return (d) => {
    const parts = Object.fromEntries(format.formatToParts(d).map((p) => [p.type, p.value]));
    return {
      minute: Number(parts['minute']),
      hour: Number(parts['hour']),
      day: Number(parts['day']),
      month: Number(parts['month']),
      weekday: DAYS.indexOf(String(parts['weekday']).toLowerCase().slice(0, 3)),
    };
  };
}

const MINUTE = 60_000;

/** A cron-like schedule (Celery's `crontab`): runs at every minute all fields allow. */
export class Crontab implements Schedule {
  readonly minutes: Set<number>;
  readonly hours: Set<number>;
  readonly daysOfWeek: Set<number>;
  readonly daysOfMonth: Set<number>;
  readonly months: Set<number>;
  readonly timezone: string;
  private readonly read: (d: Date) => WallClock;
  private readonly source: string;

  constructor(spec: CrontabSpec = {}) {
    this.minutes = parseCronField(spec.minute ?? '*', 'minute', 0, 59);
    this.hours = parseCronField(spec.hour ?? '*', 'hour', 0, 23);
    const dow = parseCronField(spec.dayOfWeek ?? '*', 'day_of_week', 0, 7, DAYS);
    if (dow.delete(7)) dow.add(0);
    this.daysOfWeek = dow;
    this.daysOfMonth = parseCronField(spec.dayOfMonth ?? '*', 'day_of_month', 1, 31);
    this.months = parseCronField(spec.monthOfYear ?? '*', 'month_of_year', 1, 12, MONTHS, 1);
    this.timezone = spec.timezone ?? 'UTC';
    this.read = wallClockReader(this.timezone);
    const f = (v: CrontabSpec[keyof CrontabSpec]): string => (Array.isArray(v) ? v.join(',') : String(v ?? '*'));
    this.source = `${f(spec.minute)} ${f(spec.hour)} ${f(spec.dayOfMonth)} ${f(spec.monthOfYear)} ${f(spec.dayOfWeek)}`;
  }

  /** The first whole minute strictly after `after` that the schedule allows. */
  nextAfter(after: Date): Date {
    let t = Math.floor(after.getTime() / MINUTE) * MINUTE + MINUTE;
    // Skips whole days and hours that cannot match; bounded to a little over four years (Feb 29).
    const limit = t + 4 * 366 * 24 * 60 * MINUTE;
    while (t < limit) {
      const w = this.read(new Date(t));
      if (!this.months.has(w.month) || !this.daysOfMonth.has(w.day) || !this.daysOfWeek.has(w.weekday)) {
        t += (24 * 60 - (w.hour * 60 + w.minute)) * MINUTE;
      } else if (!this.hours.has(w.hour)) {
        t += (60 - w.minute) * MINUTE;
      } else if (!this.minutes.has(w.minute)) {
        t += MINUTE;
      } else {
        return new Date(t);
      }
    }
    throw new ImproperlyConfigured(`crontab '${this.source}' never matches a real date`);
  }

  isDue(lastRunAt: Date, now: Date): DueState {
    const next = this.nextAfter(lastRunAt);
    if (next.getTime() <= now.getTime()) {
      return { isDue: true, nextInMs: this.nextAfter(now).getTime() - now.getTime() };
    }
    return { isDue: false, nextInMs: next.getTime() - now.getTime() };
  }

  toString(): string {
    return `<crontab: ${this.source} (m/h/dM/MY/d)${this.timezone === 'UTC' ? '' : ` ${this.timezone}`}>`;
  }
}

/**
 * A crontab schedule.
 *
 * @example
 * crontab({ minute: 0, hour: '*\/3' })           // every three hours
 * crontab({ minute: 30, hour: 7, dayOfWeek: 'mon-fri' })
 * crontab('*\/15 * * * *')                        // the five cron fields
 */
export function crontab(spec: CrontabSpec | string = {}): Crontab {
  if (typeof spec !== 'string') return new Crontab(spec);
  const fields = spec.trim().split(/\s+/);
  if (fields.length !== 5) throw new ImproperlyConfigured(`crontab '${spec}' must have 5 fields: minute hour day-of-month month day-of-week`);
  const [minute, hour, dayOfMonth, monthOfYear, dayOfWeek] = fields as [string, string, string, string, string];
  return new Crontab({ minute, hour, dayOfMonth, monthOfYear, dayOfWeek });
}

/** A number of seconds as an interval schedule; schedules as they are. */
export function toSchedule(value: number | Schedule): Schedule {
  return typeof value === 'number' ? new IntervalSchedule(value) : value;
}
