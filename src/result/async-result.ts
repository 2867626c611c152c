/**
 * Handles on task results: {@link AsyncResult} (a task running elsewhere, read through the result
 * backend) and {@link EagerResult} (a task run locally with `apply()`).
 *
 * Celery's result properties that do I/O (`state`, `result`, `info`, `traceback`) are async
 * methods here: `await result.state()`.
 */
import type { ResultBackend, TaskMeta } from '../backends/port.js';
import { RuntimeTaskError, TaskRevokedError } from '../errors/index.js';
import { deserializeError, isSerializedError, type ErrorClassRegistry } from '../protocol/exceptions.js';
import { currentRequest } from '../task/request.js';
import { EXCEPTION_STATES, PROPAGATE_STATES, READY_STATES, States } from './states.js';

/** What a result needs from its app: the backend, the sync-subtask setting, revoke. */
export interface ResultContext {
  /** The backend results are read from (connected on first use). */
  getBackend(): Promise<ResultBackend>;
  /** `task_disable_sync_subtasks` (Celery's guard against waiting inside a task). */
  readonly disableSyncSubtasks: boolean;
  /** Revokes a task id. */
  revoke(taskId: string, options?: RevokeOptions): Promise<void>;
  /** Error classes failures are rebuilt as (the app's: `throws`, `registerErrorClass`). */
  readonly errorClasses?: ErrorClassRegistry;
}

/** Options of a revoke. */
export interface RevokeOptions {
  /** Also stop the task if it is running. @defaultValue false */
  terminate?: boolean;
  /** Signal to stop it with (process pool). @defaultValue `'SIGTERM'` */
  signal?: NodeJS.Signals;
}

/** Options of {@link AsyncResult.get}. Times in seconds, as Celery's. */
export interface GetOptions {
  /** Seconds to wait before throwing TimeoutError. @defaultValue wait forever */
  timeout?: number;
  /** Re-throw the task's error if it failed. @defaultValue true */
  propagate?: boolean;
  /** Seconds between polls, for backends that poll. @defaultValue 0.05, backing off to 1 */
  interval?: number;
  /**
   * Refuse to wait when called inside a running task (deadlock guard).
   * @defaultValue the app's `task_disable_sync_subtasks` (true)
   */
  disableSyncSubtasks?: boolean;
  signal?: AbortSignal;
}

/**
 * Celery's tuple form of a result: `[[id, parent], null]` for a task, `[[id, parent], [members]]`
 * for a group.
 */
export type ResultTuple = [[string, ResultTuple | null], ResultTuple[] | null];

/** Decodes the `result` field of a record: an exception (of a known class if any) for exception states. */
export function metaValue(meta: TaskMeta, classes?: ErrorClassRegistry): unknown {
  if (EXCEPTION_STATES.has(meta.status) && isSerializedError(meta.result)) {
    return deserializeError(meta.result, meta.traceback, classes);
  }
  return meta.result;
}

/** The error `get()` throws for a record in a propagating state. */
export function metaError(meta: TaskMeta, classes?: ErrorClassRegistry): Error {
  const value = metaValue(meta, classes);
  if (value instanceof Error) return value;
  if (meta.status === States.REVOKED) return new TaskRevokedError(`task ${meta.task_id} was revoked`);
  return new RuntimeTaskError(`task ${meta.task_id} ended in state ${meta.status}: ${JSON.stringify(value)}`);
}

/** Throws if waiting here could deadlock a worker (inside a running task). */
export function assertWillNotBlock(disable: boolean): void {
  const request = currentRequest();
  if (disable && request && !request.isEager && !request.calledDirectly) {
    throw new RuntimeTaskError(
      'never wait for a result inside a task (it can deadlock the worker): compose the tasks with ' +
        'chain/callbacks instead, or pass { disableSyncSubtasks: false } if you accept the risk',
    );
  }
}

/** A handle on a task's result, read through the result backend. */
export class AsyncResult<R = unknown> {
  constructor(
    /** The task id. */
    readonly id: string,
    protected readonly context: ResultContext,
    /** The result of the previous step, for chains. */
    readonly parent: AsyncResult | null = null,
    /** Where the task stores its result when not in the app's backend (a task's `backend` option). */
    private readonly ownBackend: (() => Promise<ResultBackend>) | null = null,
  ) {}

  /** The backend this result reads from: the task's own, else the app's. */
  backend(): Promise<ResultBackend> {
    return this.ownBackend ? this.ownBackend() : this.context.getBackend();
  }

  /** The same result handle with `parent` set (handles are immutable); it keeps its backend. */
  withParent(parent: AsyncResult | null): AsyncResult<R> {
    return new AsyncResult<R>(this.id, this.context, parent, this.ownBackend);
  }

  /** The stored record, as Celery writes it. */
  async meta(): Promise<TaskMeta> {
    return (await this.backend()).getTaskMeta(this.id);
  }

  /** The current state (`PENDING` for unknown ids). */
  async state(): Promise<string> {
    return (await this.meta()).status;
  }

  /** Alias of {@link state}. */
  status(): Promise<string> {
    return this.state();
  }

  /**
   * The return value, the error (for failures), or the custom state's meta; null when pending.
   */
  async info(): Promise<unknown> {
    return metaValue(await this.meta(), this.context.errorClasses);
  }

  /** Same as {@link info} (Celery's `result` property). */
  result(): Promise<unknown> {
    return this.info();
  }

  /** The traceback of a failure, or null. */
  async traceback(): Promise<string | null> {
    return (await this.meta()).traceback;
  }

  /** Whether the task has finished (SUCCESS, FAILURE or REVOKED). */
  async ready(): Promise<boolean> {
    return READY_STATES.has(await this.state());
  }

  async successful(): Promise<boolean> {
    return (await this.state()) === States.SUCCESS;
  }

  async failed(): Promise<boolean> {
    return (await this.state()) === States.FAILURE;
  }

  /**
   * Waits until the task is ready and returns its value; a failure is re-thrown as an error of
   * the same name and message (also for errors raised by Python workers).
   */
  async get(options: GetOptions = {}): Promise<R> {
    assertWillNotBlock(options.disableSyncSubtasks ?? this.context.disableSyncSubtasks);
    const backend = await this.backend();
    const wait: { timeoutMs?: number; intervalMs?: number; signal?: AbortSignal } = {};
    if (options.timeout !== undefined) wait.timeoutMs = options.timeout * 1000;
    if (options.interval !== undefined) wait.intervalMs = options.interval * 1000;
    if (options.signal !== undefined) wait.signal = options.signal;
    const meta = await backend.waitFor(this.id, wait);
    if (PROPAGATE_STATES.has(meta.status)) {
      if (options.propagate ?? true) throw metaError(meta, this.context.errorClasses);
      return metaValue(meta, this.context.errorClasses) as R;
    }
    return meta.result as R;
  }

  /** Deletes the stored record. */
  async forget(): Promise<void> {
    await (await this.backend()).forget(this.id);
  }

  /** Revokes the task (see `app.control.revoke`). */
  revoke(options?: RevokeOptions): Promise<void> {
    return this.context.revoke(this.id, options);
  }

  /** Celery's tuple form, as stored in `children`. */
  asTuple(): ResultTuple {
    return [[this.id, this.parent ? this.parent.asTuple() : null], null];
  }

  toString(): string {
    return this.id;
  }

  toJSON(): ResultTuple {
    return this.asTuple();
  }
}

/** The result of a task run locally with `apply()`: already known, nothing to wait for. */
export class EagerResult<R = unknown> extends AsyncResult<R> {
  constructor(
    id: string,
    context: ResultContext,
    private readonly record: TaskMeta,
    /** The error the task threw, kept as the original object. */
    private readonly error: Error | null = null,
  ) {
    super(id, context);
  }

  override async meta(): Promise<TaskMeta> {
    return this.record;
  }

  override async get(options: GetOptions = {}): Promise<R> {
    if (PROPAGATE_STATES.has(this.record.status)) {
      const error = this.error ?? metaError(this.record, this.context.errorClasses);
      if (options.propagate ?? true) throw error;
      return error as R;
    }
    return this.record.result as R;
  }

  override async forget(): Promise<void> {}
}
