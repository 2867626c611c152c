/**
 * The one error tree of celeriac, rooted at {@link CeleriacError}, using Celery's names so that
 * errors crossing the wire keep their meaning on both sides.
 *
 * Every error carries a stable `code` (for programs) and an optional `cause` (the error it wraps).
 * Semipredicates ({@link Retry}, {@link Ignore}, {@link Reject}) are errors too: a task throws them
 * to tell the worker what to do with the message, and the worker never reports them as failures.
 */

/** Options accepted by every celeriac error. */
export interface CeleriacErrorOptions {
  /** The underlying error, if this one wraps another. */
  cause?: unknown;
}

/** Root of every error celeriac throws. */
export class CeleriacError extends Error {
  /** Stable machine-readable code, e.g. `"NOT_REGISTERED"`. */
  readonly code: string = 'CELERIAC_ERROR';

  constructor(message?: string, options?: CeleriacErrorOptions) {
    super(message ?? '', options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** The configuration is wrong or a needed optional package is missing. */
export class ImproperlyConfigured extends CeleriacError {
  override readonly code: string = 'IMPROPERLY_CONFIGURED';
}

/** A task name that is not in the registry. */
export class NotRegistered extends CeleriacError {
  override readonly code: string = 'NOT_REGISTERED';
  /** Celery's NotRegistered carries just the task name as its argument. */
  readonly excArgs: readonly unknown[];
  constructor(readonly taskName: string = '?', options?: CeleriacErrorOptions) {
    super(`Task of kind '${taskName}' is not registered`, options);
    this.excArgs = [taskName];
  }
}

/** A task with that name is already registered by a different definition. */
export class AlreadyRegistered extends CeleriacError {
  override readonly code: string = 'ALREADY_REGISTERED';
}

/** A broker or backend operation failed (connection refused, lost, timed out...). */
export class OperationalError extends CeleriacError {
  override readonly code: string = 'OPERATIONAL_ERROR';
}

/** A message could not be decoded (bad JSON, bad envelope, unknown encoding). */
export class DecodeError extends CeleriacError {
  override readonly code: string = 'DECODE_ERROR';
}

/**
 * A message larger than `messageMaxBytes`, as received or once decompressed. The worker rejects it
 * without parsing it (dead-lettered where the queue has a dead-letter exchange).
 */
export class MessageTooLarge extends DecodeError {
  override readonly code: string = 'MESSAGE_TOO_LARGE';
}

/** Options of an {@link EncodeError}. */
export interface EncodeErrorOptions extends CeleriacErrorOptions {
  /** Keys and indexes from the top of the value down to the part that cannot be encoded. */
  path?: readonly (string | number)[];
  /** Why that part cannot be encoded (`a Map has no JSON form`). */
  reason?: string;
}

/** A value could not be serialized for the wire. */
export class EncodeError extends CeleriacError {
  override readonly code: string = 'ENCODE_ERROR';
  /** Where in the value the part that cannot be encoded is, when known (keys and array indexes). */
  readonly path: readonly (string | number)[] | undefined;
  /** Why that part cannot be encoded, when known. */
  readonly reason: string | undefined;
  constructor(message?: string, options?: EncodeErrorOptions) {
    super(message, options);
    this.path = options?.path;
    this.reason = options?.reason;
  }
}

/** A message arrived with a content type that is not in `accept_content`. */
export class ContentDisallowed extends CeleriacError {
  override readonly code: string = 'CONTENT_DISALLOWED';
}

/**
 * A signed message failed its check (unknown signer, bad signature, malformed envelope), or the
 * signing material is unusable (expired or duplicate certificate). Celery's `SecurityError`.
 */
export class SecurityError extends CeleriacError {
  override readonly code: string = 'SECURITY_ERROR';
}

/** `AsyncResult.get()` waited longer than its timeout. */
export class TimeoutError extends CeleriacError {
  override readonly code: string = 'TIMEOUT';
}

/** Base of the errors a task's execution can end with (Celery's `TaskError`). */
export class TaskError extends CeleriacError {
  override readonly code: string = 'TASK_ERROR';
}

/** Options for {@link Retry}. */
export interface RetryErrorOptions extends CeleriacErrorOptions {
  /** The error that caused the retry. */
  exc?: unknown;
  /** When the task will run again (absolute time). */
  when?: Date | number;
  /** Whether the retry was sent (false with `throw: false` of a retry that could not be sent). */
  isEager?: boolean;
}

/**
 * Semipredicate: the task is being retried. Thrown by `task.retry()`; the worker records state
 * RETRY, calls `onRetry`, and does not treat it as a failure.
 */
export class Retry extends CeleriacError {
  override readonly code: string = 'RETRY';
  /** The error that caused the retry, if any. */
  readonly exc: unknown;
  /** When the task will run again: a Date, or seconds from now. */
  readonly when: Date | number | undefined;

  constructor(message?: string, options: RetryErrorOptions = {}) {
    super(message ?? Retry.describe(options), options);
    this.exc = options.exc;
    this.when = options.when;
  }

  private static describe(options: RetryErrorOptions): string {
    const when =
      options.when instanceof Date
        ? ` at ${options.when.toISOString()}`
        : typeof options.when === 'number'
          ? ` in ${options.when}s`
          : '';
    const why = options.exc instanceof Error ? `: ${options.exc.name}('${options.exc.message.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}')` : '';
    return `Retry${when}${why}`;
  }
}

/** Semipredicate: ignore this task; no state is stored and the message is acknowledged. */
export class Ignore extends CeleriacError {
  override readonly code: string = 'IGNORE';
}

/** Options for {@link Reject}. */
export interface RejectOptions extends CeleriacErrorOptions {
  /** Put the message back on its queue (true) or drop / dead-letter it (false, the default). */
  requeue?: boolean;
  /** Why the task was rejected. */
  reason?: unknown;
}

/**
 * Semipredicate: reject the message (with `acksLate`), requeueing it or dropping / dead-lettering
 * it.
 */
export class Reject extends CeleriacError {
  override readonly code: string = 'REJECT';
  readonly requeue: boolean;
  readonly reason: unknown;
  constructor(options: RejectOptions = {}) {
    super(
      options.reason instanceof Error
        ? `Rejected: ${options.reason.message}`
        : `Rejected${options.reason === undefined ? '' : `: ${String(options.reason)}`}`,
      options,
    );
    this.requeue = options.requeue ?? false;
    this.reason = options.reason;
  }
}

/** The task was retried more times than `maxRetries` allows. */
export class MaxRetriesExceededError extends TaskError {
  override readonly code: string = 'MAX_RETRIES_EXCEEDED';
}

/** The soft time limit expired; raised inside the task so it can clean up. */
export class SoftTimeLimitExceeded extends TaskError {
  override readonly code: string = 'SOFT_TIME_LIMIT_EXCEEDED';
}

/** The hard time limit expired; the task was stopped. */
export class TimeLimitExceeded extends TaskError {
  override readonly code: string = 'TIME_LIMIT_EXCEEDED';
}

/** The process (or thread) running the task died. */
export class WorkerLostError extends TaskError {
  override readonly code: string = 'WORKER_LOST';
}

/** The task was revoked (and so not run, or stopped). */
export class TaskRevokedError extends TaskError {
  override readonly code: string = 'TASK_REVOKED';
}

/** A chord could not complete because one of its header tasks failed. */
export class ChordError extends TaskError {
  override readonly code: string = 'CHORD_ERROR';
}

/** A task's error as received from the result backend, rebuilt under its original name. */
export class RemoteTaskError extends TaskError {
  override readonly code: string = 'REMOTE_TASK_ERROR';
  /** `exc_type` as stored by the worker that ran the task. */
  readonly excType: string;
  /** `exc_module` as stored (`builtins` for Python's built-in errors). */
  readonly excModule: string | null;
  /** `exc_message`: the error's arguments. */
  readonly excArgs: readonly unknown[];
  /** The remote traceback, if the backend had one. */
  readonly remoteTraceback: string | null;
  /** The error's own fields as stored (`{ statusCode: 404 }`), also set on this error itself. */
  readonly excFields: Readonly<Record<string, unknown>>;

  constructor(
    excType: string,
    message: string,
    details: { excModule: string | null; excArgs: readonly unknown[]; traceback: string | null; fields?: Readonly<Record<string, unknown>> },
  ) {
    super(message);
    this.name = excType;
    this.excType = excType;
    this.excModule = details.excModule;
    this.excArgs = details.excArgs;
    this.remoteTraceback = details.traceback;
    this.excFields = details.fields ?? {};
  }
}

/** A thing that should never happen inside a task: e.g. waiting on a subtask's result. */
export class RuntimeTaskError extends CeleriacError {
  override readonly code: string = 'RUNTIME_ERROR';
}

/**
 * Error classes Celery also defines, by name. The protocol layer rebuilds a remote error of one of
 * these names as an instance of the class here, and tags errors of these classes with
 * `exc_module: "celery.exceptions"` so Python rebuilds them as its own.
 */
export const CELERY_ERROR_CLASSES: ReadonlyMap<string, new (message?: string) => CeleriacError> = new Map<
  string,
  new (message?: string) => CeleriacError
>([
  ['ImproperlyConfigured', ImproperlyConfigured],
  ['NotRegistered', NotRegistered],
  ['OperationalError', OperationalError],
  ['TimeoutError', TimeoutError],
  ['TaskError', TaskError],
  ['Ignore', Ignore],
  ['MaxRetriesExceededError', MaxRetriesExceededError],
  ['SoftTimeLimitExceeded', SoftTimeLimitExceeded],
  ['TimeLimitExceeded', TimeLimitExceeded],
  ['WorkerLostError', WorkerLostError],
  ['TaskRevokedError', TaskRevokedError],
  ['ChordError', ChordError],
  ['SecurityError', SecurityError],
]);

/** celeriac's own error classes (not in Celery), rebuilt by name when they come back as results. */
export const CELERIAC_ERROR_CLASSES: ReadonlyMap<string, new (message?: string) => CeleriacError> = new Map<
  string,
  new (message?: string) => CeleriacError
>([
  ['CeleriacError', CeleriacError],
  ['RuntimeTaskError', RuntimeTaskError],
  ['DecodeError', DecodeError],
  ['MessageTooLarge', MessageTooLarge],
  ['EncodeError', EncodeError],
  ['ContentDisallowed', ContentDisallowed],
  ['AlreadyRegistered', AlreadyRegistered],
]);
