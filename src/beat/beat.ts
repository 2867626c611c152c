/**
 * The beat service (Celery beat): sends periodic tasks when their schedule says they are due.
 * Entries come from the `beat_schedule` setting and `app.addPeriodicTask(...)`. Each entry's last
 * run and run count are kept in a JSON file (`beat_schedule_filename`), so a restarted beat
 * neither repeats nor skips runs; like Celery, an entry never run before counts from beat's start.
 * Run exactly one beat per schedule: two would send every task twice.
 */
import { readFileSync } from 'node:fs';
import type { Celeriac } from '../app/celeriac.js';
import { fromWireOptions, type ApplyOptions } from '../canvas/options.js';
import type { PeriodicTaskSpec } from '../config/settings.js';
import type { Logger } from '../logging/logger.js';
import { writeFileAtomic } from '../utils/files.js';
import { toSchedule, type Schedule } from './schedules.js';

/** One periodic task, as beat runs it. */
export interface BeatEntry {
  name: string;
  task: string;
  schedule: Schedule;
  args: unknown[];
  kwargs: Record<string, unknown>;
  options: ApplyOptions;
  lastRunAt: Date;
  totalRunCount: number;
}

/** Options of a {@link Beat}. */
export interface BeatOptions {
  /** State file; null keeps state in memory. @defaultValue `beat_schedule_filename` */
  scheduleFile?: string | null;
  /** Longest sleep between checks, seconds. @defaultValue `beat_max_loop_interval` */
  maxInterval?: number;
  /** @defaultValue the app's logger */
  logger?: Logger;
  /** The clock (tests). @defaultValue `() => new Date()` */
  now?: () => Date;
}

interface SavedState {
  entries: Record<string, { lastRunAt: string; totalRunCount: number }>;
}

/** Celery's call options in an entry may use wire names; ours are camelCase. */
function entryOptions(options: Record<string, unknown> = {}): ApplyOptions {
  const wire = fromWireOptions(options);
  const camel = Object.fromEntries(Object.entries(options).filter(([k]) => !k.includes('_')));
  return { ...camel, ...wire } as ApplyOptions;
}

/** The beat service. */
export class Beat {
  readonly entries = new Map<string, BeatEntry>();
  private readonly file: string | null;
  private readonly maxIntervalMs: number;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    readonly app: Celeriac,
    options: BeatOptions = {},
  ) {
    this.file = options.scheduleFile === undefined ? app.conf.beatScheduleFilename : options.scheduleFile;
    this.maxIntervalMs = (options.maxInterval ?? app.conf.beatMaxLoopInterval) * 1000;
    this.logger = (options.logger ?? app.logger).child({ component: 'beat' });
    this.now = options.now ?? (() => new Date());
    this.load({ ...app.conf.beatSchedule, ...app.periodicTasks });
  }

  private load(specs: Record<string, PeriodicTaskSpec>): void {
    const saved = this.readState();
    const start = this.now();
    for (const [name, spec] of Object.entries(specs)) {
      const prior = saved.entries[name];
      this.entries.set(name, {
        name,
        task: spec.task,
        schedule: toSchedule(spec.schedule),
        args: spec.args ?? [],
        kwargs: spec.kwargs ?? {},
        options: entryOptions(spec.options),
        lastRunAt: prior ? new Date(prior.lastRunAt) : start,
        totalRunCount: prior?.totalRunCount ?? 0,
      });
    }
  }

  private readState(): SavedState {
    if (!this.file) return { entries: {} };
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as SavedState;
      return parsed && typeof parsed.entries === 'object' ? parsed : { entries: {} };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger.warn(`beat: ignoring unreadable schedule file ${this.file}: ${(err as Error).message}`);
      }
      return { entries: {} };
    }
  }

  private saveState(): void {
    if (!this.file) return;
    const state: SavedState = { entries: {} };
    for (const e of this.entries.values()) {
      state.entries[e.name] = { lastRunAt: e.lastRunAt.toISOString(), totalRunCount: e.totalRunCount };
    }
    writeFileAtomic(this.file, JSON.stringify(state, null, 2));
  }

  /**
   * Sends every due entry; resolves with the milliseconds until the next check (never more
   * than the max interval). A send that fails is logged and retried at the next check.
   */
  async tick(): Promise<number> {
    let next = this.maxIntervalMs;
    let changed = false;
    for (const entry of this.entries.values()) {
      const now = this.now();
      const state = entry.schedule.isDue(entry.lastRunAt, now);
      if (state.isDue) {
        try {
          const result = await this.app.sendTask(entry.task, entry.args, entry.kwargs, entry.options);
          this.logger.info(`Scheduler: Sending due task ${entry.name} (${entry.task}) id ${result.id}`);
          entry.lastRunAt = now;
          entry.totalRunCount++;
          changed = true;
        } catch (err) {
          this.logger.error({ err }, `Scheduler: could not send due task ${entry.name} (${entry.task}): ${(err as Error).message}`);
          next = Math.min(next, 1000);
          continue;
        }
      }
      next = Math.min(next, state.nextInMs);
    }
    if (changed) this.saveState();
    return Math.max(next, 0);
  }

  /** Starts checking the schedule in the background. */
  start(): void {
    if (this.running) return;
    this.stopped = false;
    this.logger.info(`beat: starting with ${this.entries.size} entr${this.entries.size === 1 ? 'y' : 'ies'}${this.file ? `, state in ${this.file}` : ''}`);
    this.running = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let wait = this.maxIntervalMs;
      try {
        wait = await this.tick();
      } catch (err) {
        this.logger.error({ err }, 'beat: tick failed');
      }
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, wait);
      });
    }
  }

  /** Stops, saving the state. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.running;
    this.running = undefined;
    this.saveState();
  }
}
