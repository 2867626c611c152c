/**
 * The Task: a registered unit of work. Made from a function with `app.task(fn, options)`, or by
 * subclassing (`class Upload extends Task { run(...) {} }`) and registering an instance with
 * `app.registerTask()`. One instance per process: state kept on it (a cached connection, say)
 * lives as long as the process, as in Celery.
 */
import type { Celeriac } from '../app/celeriac.js';
import type { ResultBackend } from '../backends/port.js';
import type { ApplyOptions } from '../canvas/options.js';
import { Signature } from '../canvas/signature.js';
import { ImproperlyConfigured, MaxRetriesExceededError, type Retry } from '../errors/index.js';
import type { AsyncResult, EagerResult } from '../result/async-result.js';
import { argsRepr, kwargsRepr } from '../protocol/repr.js';
import { Chunks, xmap, xstarmap } from '../canvas/chunks.js';
import type { ErrorClass, RetryKwargs } from './options.js';
import { bindArguments, paramsFromNames, parseParams, type Param } from './params.js';
import { getTaskLogger } from './logger.js';
import { activeTask, Request } from './request.js';
import type { LogFields, Logger } from '../logging/logger.js';

/**
 * A leading part of a task's positional arguments (each may be left out from the end): what
 * `applyAsync()` takes along with keyword arguments that supply the rest.
 */
export type PartialArgs<A extends unknown[]> = Partial<A>;

/**
 * A trailing part of a task's positional arguments, or all of them: what `task.s()` takes. A chain
 * or callback puts the parent's result before them (Celery's rule), so `add.s(2)` in a chain calls
 * `add(result, 2)`.
 */
export type TrailingArgs<A extends unknown[]> = A extends readonly [unknown, ...infer Rest] ? A | TrailingArgs<Rest> : A;

/** No keyword arguments: `{}` (or nothing), for calls whose positional arguments are complete. */
export type NoKwargs = Readonly<Record<string, never>>;

/** Details of an error for the failure/retry handlers (Celery's `ExceptionInfo`). */
export interface ExceptionInfo {
  /** The error's type name. */
  type: string;
  exception: Error;
  /** The stack trace as text. */
  traceback: string;
}

/** Options of {@link Task.retry}. Times in seconds. */
export interface RetryOptions extends RetryKwargs {
  /** The error that caused the retry: re-thrown if retries are exhausted. */
  exc?: unknown;
  /** Retry at this time. */
  eta?: Date;
  /** Replace the positional arguments. */
  args?: unknown[];
  /** Replace the keyword arguments. */
  kwargs?: Record<string, unknown>;
  /** Queue of the retried message. @defaultValue the one it came from */
  queue?: string;
  /** Throw the Retry (true) or return it (false). @defaultValue true */
  throw?: boolean;
  /** More options for the republished message. */
  options?: ApplyOptions;
}

/** Options of {@link Task.updateState}. */
export interface UpdateStateOptions {
  /** @defaultValue the current task's id */
  taskId?: string;
  /** A built-in or custom state (`'PROGRESS'`). */
  state: string;
  /** Stored as the record's `result`, e.g. `{ current: 1, total: 10 }`. */
  meta?: unknown;
}

const DEFAULT_REQUEST = new Request();

/**
 * A task. `A` is the tuple of its positional arguments, `R` its result type.
 * Options left undefined fall back to the app's settings.
 */
export class Task<A extends unknown[] = unknown[], R = unknown> {
  /** Registered name (set at registration if empty). */
  name = '';
  /** The app this task is registered with (set by the app). */
  app!: Celeriac;

  serializer?: string;
  compression?: string | null;
  maxRetries?: number | null;
  defaultRetryDelay?: number;
  throws: readonly ErrorClass[] = [];
  rateLimit?: string | number | null;
  timeLimit?: number | null;
  softTimeLimit?: number | null;
  ignoreResult?: boolean;
  storeErrorsEvenIfIgnored?: boolean;
  acksLate?: boolean;
  rejectOnWorkerLost?: boolean;
  trackStarted?: boolean;
  typing?: boolean;
  autoretryFor: readonly ErrorClass[] = [];
  retryKwargs: RetryKwargs = {};
  retryBackoff?: boolean | number;
  retryBackoffMax?: number;
  retryJitter?: boolean;
  backend?: string | ResultBackend;
  queue?: string;
  priority?: number;
  expires?: number | Date;
  resultExtended?: boolean;
  params?: readonly string[];

  /** @internal The function given to `app.task()`, read for parameter names. */
  sourceFunction?: (...args: never[]) => unknown;
  /** @internal The function takes the task as its first parameter (`bind: true`). */
  bindsSelf = false;
  private cachedParams: Param[] | undefined;

  /** The task's body. Subclasses override it; `app.task(fn)` sets it to `fn`. */
  run(..._args: A): R | Promise<R> {
    throw new ImproperlyConfigured(`task '${this.name}' defines no run() method`);
  }

  /** The request of the current execution of this task (a default request outside one). */
  get request(): Request {
    const active = activeTask.getStore();
    return active && active.task === this ? active.request : DEFAULT_REQUEST;
  }

  /** Parameters of `run`, for keyword binding and argument checks. */
  get parameters(): Param[] {
    if (!this.cachedParams) {
      const fn = this.sourceFunction ?? (this.run as (...a: never[]) => unknown);
      const parsed = this.params ? paramsFromNames(this.params) : parseParams(fn);
      this.cachedParams = this.bindsSelf && !this.params ? parsed.slice(1) : parsed;
    }
    return this.cachedParams;
  }

  /** Binds positional and keyword arguments to `run`'s parameters (TypeError if they don't fit). */
  bindArguments(args: readonly unknown[], kwargs: Readonly<Record<string, unknown>> = {}): unknown[] {
    return bindArguments(this.name, this.parameters, args, kwargs);
  }

  // ---- handlers (override in a base class) -------------------------------------------------

  /** Called by the worker before the task runs. */
  beforeStart(_taskId: string, _args: unknown[], _kwargs: Record<string, unknown>): void | Promise<void> {}

  /** Called by the worker when the task succeeded. */
  onSuccess(_retval: R, _taskId: string, _args: unknown[], _kwargs: Record<string, unknown>): void | Promise<void> {}

  /** Called by the worker when the task failed. */
  onFailure(
    _exc: Error,
    _taskId: string,
    _args: unknown[],
    _kwargs: Record<string, unknown>,
    _einfo: ExceptionInfo,
  ): void | Promise<void> {}

  /** Called by the worker when the task is to be retried. */
  onRetry(
    _exc: Error,
    _taskId: string,
    _args: unknown[],
    _kwargs: Record<string, unknown>,
    _einfo: ExceptionInfo,
  ): void | Promise<void> {}

  /** Called by the worker after the task returned (success or failure). */
  afterReturn(
    _status: string,
    _retval: unknown,
    _taskId: string,
    _args: unknown[],
    _kwargs: Record<string, unknown>,
    _einfo: ExceptionInfo | null,
  ): void | Promise<void> {}

  // ---- calling ------------------------------------------------------------------------------

  /** Sends the task with positional arguments. Resolves once the broker has the message. */
  delay(...args: A): Promise<AsyncResult<R>> {
    return this.applyAsync(args);
  }

  /**
   * Sends the task with positional and keyword arguments and call options. Resolves once the
   * broker has accepted the message; rejects with a clear error when it cannot. With
   * `task_always_eager` the task runs locally instead.
   */
  applyAsync(args?: A, kwargs?: NoKwargs, options?: ApplyOptions): Promise<AsyncResult<R>>;
  /** With keyword arguments, the positional ones may be a leading part of the parameters. */
  applyAsync(args: PartialArgs<A>, kwargs: Record<string, unknown>, options?: ApplyOptions): Promise<AsyncResult<R>>;
  applyAsync(args?: PartialArgs<A>, kwargs?: Record<string, unknown>, options?: ApplyOptions): Promise<AsyncResult<R>> {
    return this.app.sendTaskCall(this, args ?? [], kwargs ?? {}, options ?? {}) as Promise<AsyncResult<R>>;
  }

  /** Runs the task locally, now, as a worker would (`request.isEager` set); nothing is sent. */
  apply(args?: A, kwargs?: NoKwargs, options?: ApplyOptions): Promise<EagerResult<R>>;
  /** With keyword arguments, the positional ones may be a leading part of the parameters. */
  apply(args: PartialArgs<A>, kwargs: Record<string, unknown>, options?: ApplyOptions): Promise<EagerResult<R>>;
  apply(args?: PartialArgs<A>, kwargs?: Record<string, unknown>, options?: ApplyOptions): Promise<EagerResult<R>> {
    return this.app.applyEager(this, args ?? [], kwargs ?? {}, options ?? {}) as Promise<EagerResult<R>>;
  }

  /** Calls the task's body directly in this process (`request.calledDirectly`). */
  call(...args: A): Promise<R> {
    const request = new Request({ task: this.name, args, calledDirectly: true });
    return activeTask.run({ task: this, request }, async () => this.run(...args));
  }

  /**
   * A signature of a call, typed from the task's parameters: all of them, or the last ones
   * (`add.s(2)`: a chain or callback passes the parent's result first).
   */
  s(...args: TrailingArgs<A>): Signature<R> {
    return this.signature(args);
  }

  /** One message calling this task once per item (`celery.map`); resolves to the results. */
  map(items: readonly unknown[]): Signature<R[]> {
    return xmap(this.signature(), items);
  }

  /** One message calling this task once per argument list (`celery.starmap`). */
  starmap(items: readonly unknown[][]): Signature<R[]> {
    return xstarmap(this.signature(), items);
  }

  /** The argument lists split into `n`-sized `starmap` messages, run as a group. */
  chunks(items: readonly unknown[][], n: number): Chunks<R> {
    return new Chunks<R>(this.signature(), items.map((i) => [...i]), n, this.app);
  }

  /** An immutable signature: ignores the parent's result in a chain or callback. */
  si(...args: TrailingArgs<A>): Signature<R> {
    return this.signature(args, {}, {}, true);
  }

  /** A signature with keyword arguments and call options. */
  signature(args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: ApplyOptions = {}, immutable = false): Signature<R> {
    return new Signature<R>(this.name, { args, kwargs, app: this.app, immutable }).set(options);
  }

  /** A result handle for an id of this task, read from the task's own backend if it has one. */
  asyncResult(taskId: string): AsyncResult<R> {
    return this.app.asyncResult<R>(taskId, null, this);
  }

  /** The result backend this task stores into. */
  getBackend(): Promise<ResultBackend> {
    return this.app.backendForTask(this);
  }

  /** @internal The result backend if it is connected already, else undefined (see {@link getBackend}). */
  connectedBackend(): ResultBackend | undefined {
    return this.app.connectedBackendForTask(this);
  }

  /** Stores a state for this (or another) task, e.g. progress: `{ state: 'PROGRESS', meta }`. */
  async updateState(options: UpdateStateOptions): Promise<void> {
    const request = this.request;
    const taskId = options.taskId ?? request.id;
    if (!taskId) throw new TypeError('updateState() outside a task needs a taskId');
    await this.app.storeState(this, taskId, options.state, options.meta ?? null, request);
  }

  /**
   * Retries the task: sends it again with the same id and `retries + 1`, then throws a
   * `Retry` that the worker records as state RETRY (not a failure). Past `maxRetries` the
   * original `exc` is thrown if given, else {@link MaxRetriesExceededError}.
   *
   * @example
   * catch (err) { return this.retry({ exc: err, countdown: 60 }); }
   */
  retry(options: RetryOptions & { throw: false }): Promise<Retry>;
  retry(options?: RetryOptions): Promise<never>;
  async retry(options: RetryOptions = {}): Promise<Retry> {
    const request = this.request;
    const retval = await this.app.retryTask(this, request, options);
    if (options.throw === false) return retval;
    throw retval;
  }

  /**
   * A logger for this task (Celery's `get_task_logger`, named after the task): every line names
   * the task and the id of the run it is written from, through the app's logger.
   *
   * @example
   * const add = app.task(function add(this: Task, x: number, y: number) {
   *   this.getLogger().info(`Adding ${x} + ${y}`);
   *   return x + y;
   * });
   */
  getLogger(bindings: LogFields = {}): Logger {
    return getTaskLogger(this.name, bindings);
  }

  /**
   * Replaces this running task with `sig` (Celery's `Task.replace`): the replacement gets this
   * task's id, callbacks, errbacks, group and chord membership and the rest of its chain, is
   * sent, and this task ends with `Ignore` (nothing stored for it: the replacement's last step
   * stores the result its caller waits for). In an eager run, resolves with the replacement's
   * value instead.
   *
   * @example
   * app.task(async function addToAll(self: Task, nums: number[], val: number) {
   *   return self.replace(group(nums.map((n) => add.s(n, val))));
   * }, { bind: true });
   */
  replace(sig: Signature): Promise<never> {
    return this.app.replaceTask(this.request, sig) as Promise<never>;
  }

  /** @internal Describes a call for logs. */
  describeCall(args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): string {
    return `${this.name}${argsRepr(args)} ${kwargsRepr(kwargs)}`;
  }
}

/** Errors a task may be retried past: the exc, or MaxRetriesExceededError. */
export function maxRetriesError(task: Task, request: Request, exc: unknown): unknown {
  return (
    exc ??
    new MaxRetriesExceededError(
      `Can't retry ${task.name}[${request.id ?? '?'}] args:${argsRepr(request.args)} kwargs:${kwargsRepr(request.kwargs)}`,
    )
  );
}

