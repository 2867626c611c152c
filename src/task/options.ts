/**
 * Task options: set per task (`app.task(fn, options)` or as fields of a Task subclass); each one
 * left unset falls back to the app's setting of the same meaning (`task_acks_late`, ...).
 */
import type { ResultBackend } from '../backends/port.js';

/** An error class, for `throws` and `autoretryFor`. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/** Keyword arguments for the `retry()` that autoretry makes (Celery's `retry_kwargs`). */
export interface RetryKwargs {
  maxRetries?: number | null;
  countdown?: number;
}

/** Options of a task definition. Times are in seconds, as Celery's. */
export interface TaskOptions {
  /**
   * Registered name. @defaultValue `<module>.<function>`, the module being the defining file's
   * dotted path relative to the app's `root` (`moduleA.tasks.add`; see `genTaskName`)
   */
  name?: string;
  /** Call the function with the task as first argument (and as `this`). @defaultValue false */
  bind?: boolean;
  /** Serializer of this task's messages. @defaultValue `task_serializer` (`json`) */
  serializer?: string;
  /** Compression of this task's messages. @defaultValue `task_compression` (none) */
  compression?: string | null;
  /** Most retries before giving up; null = retry forever. @defaultValue 3 */
  maxRetries?: number | null;
  /** Seconds before a retry when neither countdown nor eta is given. @defaultValue 180 */
  defaultRetryDelay?: number;
  /** Expected errors: stored as FAILURE but logged at INFO, without a stack. */
  throws?: readonly ErrorClass[];
  /** Most runs per worker: `'100/m'`, `'10/s'`, `'2/h'`, or a number per second. */
  rateLimit?: string | number | null;
  /** Hard time limit in seconds. @defaultValue `task_time_limit` */
  timeLimit?: number | null;
  /** Soft time limit in seconds. @defaultValue `task_soft_time_limit` */
  softTimeLimit?: number | null;
  /** Don't store the result. @defaultValue `task_ignore_result` (false) */
  ignoreResult?: boolean;
  /** Store failures even with `ignoreResult`. @defaultValue `task_store_errors_even_if_ignored` */
  storeErrorsEvenIfIgnored?: boolean;
  /** Acknowledge after the task returns instead of before it runs. @defaultValue `task_acks_late` */
  acksLate?: boolean;
  /** With acksLate, requeue when the process running the task dies. @defaultValue `task_reject_on_worker_lost` */
  rejectOnWorkerLost?: boolean;
  /** Store state STARTED when a worker starts the task. @defaultValue `task_track_started` */
  trackStarted?: boolean;
  /** Check arguments against the signature at call time. @defaultValue true */
  typing?: boolean;
  /** Errors that retry the task automatically. */
  autoretryFor?: readonly ErrorClass[];
  /** Options of the automatic retries. */
  retryKwargs?: RetryKwargs;
  /** Exponential backoff for automatic retries: true (1 s factor) or a factor in seconds. */
  retryBackoff?: boolean | number;
  /** Cap of the backoff, seconds. @defaultValue 600 */
  retryBackoffMax?: number;
  /** Full jitter on the backoff. @defaultValue true */
  retryJitter?: boolean;
  /** Result backend for this task (URL or instance). @defaultValue the app's */
  backend?: string | ResultBackend;
  /** Default queue of this task. @defaultValue from routes, else `task_default_queue` */
  queue?: string;
  /** Default message priority. */
  priority?: number;
  /** Default expiry: seconds after sending, or a time. */
  expires?: number | Date;
  /** Store name, args, kwargs, worker, retries, queue with results. @defaultValue `result_extended` */
  resultExtended?: boolean;
  /**
   * Parameter names, for code whose source can't be read (minified): e.g. `['x', 'y?', '...rest']`.
   * @defaultValue read from the function's source
   */
  params?: readonly string[];
}
