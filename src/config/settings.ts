/**
 * The one settings table. Every setting has a camelCase name, accepts Celery's snake_case name too
 * (`task_acks_late` = `taskAcksLate`), has a documented default, and can come from the environment
 * where noted.
 */
import { availableParallelism } from 'node:os';
import type { Schedule } from '../beat/schedules.js';
import { ImproperlyConfigured } from '../errors/index.js';

/** A periodic task (`beat_schedule` entry). */
export interface PeriodicTaskSpec {
  /** Task name. */
  task: string;
  /** Seconds between runs, or a schedule such as `crontab(...)`. */
  schedule: number | Schedule;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  /** Call options (`queue`, `expires`, `priority`, ...), camelCase or Celery's names. */
  options?: Record<string, unknown>;
}

/** A route: where tasks matching a name or pattern go. */
export interface RouteTarget {
  queue?: string;
  exchange?: string;
  routingKey?: string;
  priority?: number;
}

/** A routing function: returns a target, or undefined to let the next route decide. */
export type RouteFunction = (
  name: string,
  args: readonly unknown[],
  kwargs: Readonly<Record<string, unknown>>,
  options: Readonly<Record<string, unknown>>,
) => RouteTarget | string | undefined | null;

/** `task_routes`: a map from task name or glob (`feeds.*`) to a target or queue name, or functions. */
export type TaskRoutes = Record<string, RouteTarget | string> | RouteFunction | ReadonlyArray<Record<string, RouteTarget | string> | RouteFunction>;

/** A queue the app knows, with its exchange binding (`task_queues`). */
export interface QueueDefinition {
  name: string;
  exchange?: string;
  exchangeType?: 'direct' | 'topic' | 'fanout';
  routingKey?: string;
  maxPriority?: number;
  arguments?: Record<string, unknown>;
}

/** All settings, with their defaults. Times in seconds unless the name says otherwise. */
export interface Settings {
  /** Broker URL. @defaultValue `$CELERIAC_BROKER_URL`, else `sqlite://` (the file `celeriac.sqlite` here) */
  brokerUrl: string;
  /** Driver options of the broker (`visibility_timeout`, ...). @defaultValue {} */
  brokerTransportOptions: Record<string, unknown>;
  /** Give up connecting to the broker after this many seconds. @defaultValue 30 */
  brokerConnectionTimeout: number;
  /** Result backend URL; null disables results. @defaultValue `$CELERIAC_RESULT_BACKEND`, else `db+sqlite://` (`celeriac.sqlite` here) */
  resultBackend: string | null;
  /** Driver options of the backend. @defaultValue {} */
  resultBackendTransportOptions: Record<string, unknown>;
  /** Seconds results are kept; null = forever. @defaultValue 86400 (1 day) */
  resultExpires: number | null;
  /** Store name, args, kwargs, worker, retries, queue with results. @defaultValue false */
  resultExtended: boolean;
  /** rpc:// results survive a broker restart. @defaultValue false */
  resultPersistent: boolean;
  /** @defaultValue `'json'` */
  resultSerializer: string;
  /** @defaultValue `['json']` */
  resultAcceptContent: string[];
  /** @defaultValue `'json'` */
  taskSerializer: string;
  /** Content types (or serializer names) a worker will deserialize. @defaultValue `['json']` */
  acceptContent: string[];
  /** @defaultValue null (no compression) */
  taskCompression: string | null;
  /** @defaultValue `'celery'` */
  taskDefaultQueue: string;
  /** @defaultValue `'celery'` */
  taskDefaultExchange: string;
  /** @defaultValue `'direct'` */
  taskDefaultExchangeType: 'direct' | 'topic' | 'fanout';
  /** @defaultValue `'celery'` */
  taskDefaultRoutingKey: string;
  /** @defaultValue null */
  taskDefaultPriority: number | null;
  /**
   * Callbacks and next chain steps sent by a task get the task's own message priority instead
   * of their signature's (Celery's `task_inherit_parent_priority`). @defaultValue false
   */
  taskInheritParentPriority: boolean;
  /** @defaultValue null (no routes) */
  taskRoutes: TaskRoutes | null;
  /** @defaultValue null (only the default queue) */
  taskQueues: QueueDefinition[] | null;
  /** Create queues named by routes that are not in `taskQueues`. @defaultValue true */
  taskCreateMissingQueues: boolean;
  /** @defaultValue false */
  taskAcksLate: boolean;
  /** Ack late tasks that failed or timed out (false: reject them). @defaultValue true */
  taskAcksOnFailureOrTimeout: boolean;
  /** @defaultValue false */
  taskRejectOnWorkerLost: boolean;
  /** @defaultValue false */
  taskIgnoreResult: boolean;
  /** @defaultValue false */
  taskStoreErrorsEvenIfIgnored: boolean;
  /** @defaultValue false */
  taskTrackStarted: boolean;
  /** @defaultValue null */
  taskTimeLimit: number | null;
  /** @defaultValue null */
  taskSoftTimeLimit: number | null;
  /** @defaultValue null */
  taskDefaultRateLimit: string | number | null;
  /** Run tasks locally when called, instead of sending them. @defaultValue false */
  taskAlwaysEager: boolean;
  /** With `taskAlwaysEager`, throw the task's error from `applyAsync`. @defaultValue false */
  taskEagerPropagates: boolean;
  /** Store results of eager tasks in the backend. @defaultValue false */
  taskStoreEagerResult: boolean;
  /** Refuse `AsyncResult.get()` inside a running task. @defaultValue true */
  taskDisableSyncSubtasks: boolean;
  /** Send `task-sent` events. @defaultValue false */
  taskSendSentEvent: boolean;
  /** @defaultValue number of CPUs */
  workerConcurrency: number;
  /** @defaultValue 4 */
  workerPrefetchMultiplier: number;
  /** @defaultValue false */
  workerDisableRateLimits: boolean;
  /** Send task events (`-E`). @defaultValue false */
  workerSendTaskEvents: boolean;
  /** @defaultValue null */
  workerMaxTasksPerChild: number | null;
  /** Kilobytes. @defaultValue null */
  workerMaxMemoryPerChild: number | null;
  /** Seconds a warm shutdown waits for running tasks before a cold one. @defaultValue null (forever) */
  workerShutdownTimeout: number | null;
  /** Periodic tasks by entry name, run by `celeriac beat` (or `worker -B`). @defaultValue {} */
  beatSchedule: Record<string, PeriodicTaskSpec>;
  /** Where beat keeps each entry's last run; null keeps it in memory. @defaultValue `'celerybeat-schedule.json'` */
  beatScheduleFilename: string | null;
  /** Longest sleep between beat's checks, in seconds. @defaultValue 300 */
  beatMaxLoopInterval: number;
  /** @defaultValue true */
  enableUtc: boolean;
  /** @defaultValue `'UTC'` */
  timezone: string;
}

/** Defaults of every setting. Environment variables are read when an app is created. */
export function defaultSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    brokerUrl: env['CELERIAC_BROKER_URL'] || 'sqlite://',
    brokerTransportOptions: {},
    brokerConnectionTimeout: 30,
    resultBackend: env['CELERIAC_RESULT_BACKEND'] || 'db+sqlite://',
    resultBackendTransportOptions: {},
    resultExpires: 86400,
    resultExtended: false,
    resultPersistent: false,
    resultSerializer: 'json',
    resultAcceptContent: ['json'],
    taskSerializer: 'json',
    acceptContent: ['json'],
    taskCompression: null,
    taskDefaultQueue: 'celery',
    taskDefaultExchange: 'celery',
    taskDefaultExchangeType: 'direct',
    taskDefaultRoutingKey: 'celery',
    taskDefaultPriority: null,
    taskInheritParentPriority: false,
    taskRoutes: null,
    taskQueues: null,
    taskCreateMissingQueues: true,
    taskAcksLate: false,
    taskAcksOnFailureOrTimeout: true,
    taskRejectOnWorkerLost: false,
    taskIgnoreResult: false,
    taskStoreErrorsEvenIfIgnored: false,
    taskTrackStarted: false,
    taskTimeLimit: null,
    taskSoftTimeLimit: null,
    taskDefaultRateLimit: null,
    taskAlwaysEager: false,
    taskEagerPropagates: false,
    taskStoreEagerResult: false,
    taskDisableSyncSubtasks: true,
    taskSendSentEvent: false,
    workerConcurrency: availableParallelism(),
    workerPrefetchMultiplier: 4,
    workerDisableRateLimits: false,
    workerSendTaskEvents: false,
    workerMaxTasksPerChild: null,
    workerMaxMemoryPerChild: null,
    workerShutdownTimeout: null,
    beatSchedule: {},
    beatScheduleFilename: 'celerybeat-schedule.json',
    beatMaxLoopInterval: 300,
    enableUtc: true,
    timezone: 'UTC',
  };
}

/** Settings as given by a user: camelCase or Celery's snake_case names, all optional. */
export type SettingsInput = Partial<Settings> & Record<string, unknown>;

const ALIASES: Record<string, keyof Settings> = {
  broker: 'brokerUrl',
  broker_url: 'brokerUrl',
  backend: 'resultBackend',
  celery_result_backend: 'resultBackend',
  accept_content: 'acceptContent',
  task_create_missing_queues: 'taskCreateMissingQueues',
};

/** `task_acks_late` → `taskAcksLate`. */
export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** The canonical setting name of a user-given key, or undefined if unknown. */
export function settingName(key: string, known: Settings): keyof Settings | undefined {
  const lower = key.toLowerCase();
  const alias = Object.hasOwn(ALIASES, key) ? ALIASES[key] : Object.hasOwn(ALIASES, lower) ? ALIASES[lower] : undefined;
  if (alias) return alias;
  const camel = camelCase(key);
  return Object.hasOwn(known, camel) ? (camel as keyof Settings) : undefined;
}

/**
 * Applies user settings onto `target`. An unknown name is an error naming it (a typo in a
 * setting would otherwise be silently ignored).
 */
export function applySettings(target: Settings, input: Readonly<Record<string, unknown>>): void {
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const name = settingName(key, target);
    if (!name) throw new ImproperlyConfigured(`unknown setting '${key}'`);
    (target as unknown as Record<string, unknown>)[name] = value;
  }
  validate(target);
}

function validate(s: Settings): void {
  const positiveInt = (name: keyof Settings): void => {
    const v = s[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new ImproperlyConfigured(`setting '${name}' must be a positive integer, got ${JSON.stringify(v)}`);
    }
  };
  positiveInt('workerConcurrency');
  if (!Number.isInteger(s.workerPrefetchMultiplier) || s.workerPrefetchMultiplier < 0) {
    throw new ImproperlyConfigured(`setting 'workerPrefetchMultiplier' must be an integer >= 0`);
  }
  if (!Array.isArray(s.acceptContent) || s.acceptContent.length === 0) {
    throw new ImproperlyConfigured(`setting 'acceptContent' must be a non-empty list`);
  }
}
