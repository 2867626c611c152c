/**
 * The one settings table. Every setting has a camelCase name, accepts Celery's snake_case name too
 * (`task_acks_late` = `taskAcksLate`), has a documented default, and can come from the environment
 * where noted.
 */
import { availableParallelism } from 'node:os';
import type { Schedule } from '../beat/schedules.js';
import { ImproperlyConfigured } from '../errors/index.js';
import { DEFAULT_MESSAGE_MAX_BYTES } from '../protocol/message.js';
import { censor } from './redact.js';

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
  /**
   * Database backend table names by role (`task`, `group`), as Celery's `database_table_names`.
   * @defaultValue {} (`celery_taskmeta`, `celery_tasksetmeta`)
   */
  databaseTableNames: Partial<Record<'task' | 'group', string>>;
  /** Database backend schemas by role, as Celery's `database_table_schemas`. @defaultValue {} (the connection's own) */
  databaseTableSchemas: Partial<Record<'task' | 'group', string>>;
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
  /**
   * Largest task message body a worker takes, in bytes, as received and once decompressed
   * (`message_max_bytes`): a bigger one, or a compression bomb, is rejected with one log line
   * (dead-lettered where the queue has a dead-letter exchange) and never parsed. 16 MiB: far above
   * any sane task message, while a worker fed only oversized ones stays within a few hundred MB.
   * @defaultValue 16777216 (16 MiB)
   */
  messageMaxBytes: number;
  /**
   * Serializer of monitoring events (`'auth'` signs them once `setupSecurity()` ran); receivers
   * accept it and JSON, as Celery's do. @defaultValue `'json'`
   */
  eventSerializer: string;
  /**
   * Message signing (`app.setupSecurity()`): the private key (PEM file path, or the PEM text)
   * that signs outgoing tasks. @defaultValue null
   */
  securityKey: string | null;
  /** The certificate of `securityKey` (PEM file path, or the PEM text). @defaultValue null */
  securityCertificate: string | null;
  /** Certificates whose signatures are accepted: a file, a directory or a glob (`certs/*.pem`). @defaultValue null */
  securityCertStore: string | null;
  /** Digest of the RSA-PSS signatures. @defaultValue `'sha256'` */
  securityDigest: string;
  /** @defaultValue `'celery'` */
  taskDefaultQueue: string;
  /** @defaultValue null: the default queue's name, as Celery */
  taskDefaultExchange: string | null;
  /** @defaultValue `'direct'` */
  taskDefaultExchangeType: 'direct' | 'topic' | 'fanout';
  /** @defaultValue null: the default queue's name, as Celery */
  taskDefaultRoutingKey: string | null;
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
  /**
   * Keep trying to reach the broker when a worker starts and it is down (Celery's
   * `broker_connection_retry_on_startup`), waiting 2, 4, 6 ... up to 30 s between tries. @defaultValue true
   */
  brokerConnectionRetryOnStartup: boolean;
  /** Tries before a starting worker gives up on the broker; null: forever. @defaultValue 100 */
  brokerConnectionMaxRetries: number | null;
  /**
   * Log lines as Celery's text (`'text'`) or one JSON object per line with pino's fields
   * (`'json'`), for the worker, its pool children and tasks. @defaultValue `$CELERIAC_LOG_FORMAT`, else `'text'`
   */
  logFormat: 'text' | 'json';
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
    databaseTableNames: {},
    databaseTableSchemas: {},
    resultExpires: 86400,
    resultExtended: false,
    resultPersistent: false,
    resultSerializer: 'json',
    resultAcceptContent: ['json'],
    taskSerializer: 'json',
    acceptContent: ['json'],
    taskCompression: null,
    messageMaxBytes: DEFAULT_MESSAGE_MAX_BYTES,
    eventSerializer: 'json',
    securityKey: null,
    securityCertificate: null,
    securityCertStore: null,
    securityDigest: 'sha256',
    taskDefaultQueue: 'celery',
    taskDefaultExchange: null,
    taskDefaultExchangeType: 'direct',
    taskDefaultRoutingKey: null,
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
    brokerConnectionRetryOnStartup: true,
    brokerConnectionMaxRetries: 100,
    logFormat: env['CELERIAC_LOG_FORMAT']?.toLowerCase() === 'json' ? 'json' : 'text',
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

/** `taskAcksLate` → `task_acks_late` (Celery's name of a setting). */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * The settings as Celery's tools show them (`inspect conf`, `report`): Celery's snake_case names,
 * only those changed from their defaults unless `withDefaults`, secrets masked and values that
 * JSON cannot carry turned into strings (see config/redact.ts).
 */
export function settingsTable(conf: Settings, options: { withDefaults?: boolean } = {}): Record<string, unknown> {
  const defaults = defaultSettings({});
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(conf) as Array<[keyof Settings, unknown]>) {
    if (typeof value === 'function' && name !== 'taskRoutes') continue;
    if (!options.withDefaults && Object.hasOwn(defaults, name) && sameValue(value, defaults[name])) continue;
    const key = snakeCase(name);
    out[key] = censor(value, key);
  }
  return out;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  try {
    return typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false;
  }
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
  positiveInt('messageMaxBytes');
  if (!Number.isInteger(s.workerPrefetchMultiplier) || s.workerPrefetchMultiplier < 0) {
    throw new ImproperlyConfigured(`setting 'workerPrefetchMultiplier' must be an integer >= 0`);
  }
  for (const name of ['taskTimeLimit', 'taskSoftTimeLimit'] as const) {
    const v = s[name];
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw new ImproperlyConfigured(`setting '${name}' must be null or seconds >= 0, got ${JSON.stringify(v)}`);
    }
  }
  if (s.logFormat !== 'text' && s.logFormat !== 'json') {
    throw new ImproperlyConfigured(`setting 'logFormat' must be 'text' or 'json', got ${JSON.stringify(s.logFormat)}`);
  }
  if (s.brokerConnectionMaxRetries !== null && !(Number.isInteger(s.brokerConnectionMaxRetries) && s.brokerConnectionMaxRetries >= 0)) {
    throw new ImproperlyConfigured(`setting 'brokerConnectionMaxRetries' must be an integer >= 0 or null`);
  }
  if (!Array.isArray(s.acceptContent) || s.acceptContent.length === 0) {
    throw new ImproperlyConfigured(`setting 'acceptContent' must be a non-empty list`);
  }
}
