/**
 * Runs one task execution and records it (Celery's tracer): STARTED (with trackStarted), the
 * call, then SUCCESS with callbacks and the next chain step, or RETRY / FAILURE with errbacks,
 * or nothing for the `Ignore` / `Reject` semipredicates; the task's handlers are called at each
 * point with the guide's arguments. Acknowledgement is the worker's business, not this module's.
 */
import type { Celeriac } from '../app/celeriac.js';
import type { ResultBackend, ResultDestination } from '../backends/port.js';
import { chordPartReturned } from '../canvas/chord.js';
import { Signature } from '../canvas/signature.js';
import { Ignore, Reject, Retry } from '../errors/index.js';
import { levelEnabled, type Logger } from '../logging/logger.js';
import { serializeError } from '../protocol/exceptions.js';
import type { SignatureDict } from '../protocol/message.js';
import { pyRepr } from '../protocol/repr.js';
import { States } from '../result/states.js';
import { isThenable } from '../utils/deferred.js';
import { buildMeta } from './meta.js';
import { activeTask, type Request } from './request.js';
import { backoffCountdown } from './retry-policy.js';
import { Task, type ExceptionInfo } from './task.js';

/** How a trace runs. */
export interface TraceContext {
  app: Celeriac;
  logger: Logger;
  /** Store states in the backend (false for eager runs unless `task_store_eager_result`). */
  store: boolean;
}

/** What happened. */
export interface TraceOutcome {
  state: string;
  /** The return value (SUCCESS) or the error (FAILURE, RETRY). */
  retval: unknown;
  error: Error | null;
  /** For REJECTED: whether to requeue. */
  requeue: boolean;
  /** Seconds the task ran. */
  runtime: number;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(typeof err === 'string' ? err : pyRepr(err));
}

function einfoOf(error: Error): ExceptionInfo {
  return { type: error.name, exception: error, traceback: error.stack ?? `${error.name}: ${error.message}` };
}

function errorRepr(error: Error): string {
  return `${error.name}(${pyRepr(error.message)})`;
}

/**
 * Calls `run` inside the task's context, turning errors listed in `autoretryFor` into retries
 * (with backoff if set). Returns the value itself when `run` returns one synchronously: a
 * plain function costs no promise here.
 */
function runWithAutoretry(task: Task, request: Request, args: unknown[]): unknown {
  return activeTask.run({ task, request }, () => {
    let out: unknown;
    try {
      out = task.run(...args);
    } catch (err) {
      return autoretry(task, request, err);
    }
    return isThenable(out) ? Promise.resolve(out).catch((err: unknown) => autoretry(task, request, err)) : out;
  });
}

/** Rethrows `err`, after sending the retry when `autoretryFor` lists it. */
async function autoretry(task: Task, request: Request, err: unknown): Promise<never> {
  if (
    task.autoretryFor.length > 0 &&
    !(err instanceof Retry || err instanceof Ignore || err instanceof Reject) &&
    task.autoretryFor.some((cls) => err instanceof cls)
  ) {
    const kwargs = { ...task.retryKwargs };
    if (task.retryBackoff) {
      kwargs.countdown = backoffCountdown(
        { backoff: task.retryBackoff, maximum: task.retryBackoffMax ?? 600, jitter: task.retryJitter ?? true },
        request.retries,
      );
    }
    await task.retry({ exc: err, ...kwargs });
  }
  throw err;
}

/**
 * Runs a handler; a handler's own error is logged, never turned into the task's state. A
 * handler that returns no promise (the base class's no-ops) costs no promise here either.
 */
function safely(logger: Logger, what: string, fn: () => unknown): Promise<void> | undefined {
  const failed = (err: unknown): void => logger.error({ err }, `error in ${what} handler`);
  try {
    const out = fn();
    if (isThenable(out)) return Promise.resolve(out).then(() => undefined, failed);
  } catch (err) {
    failed(err);
  }
  return undefined;
}

/** Where the sender of `request` waits for the result of `taskId` (rpc://). */
export function destinationOf(request: Request, taskId: string | null = request.id): ResultDestination {
  return { replyTo: request.replyTo, correlationId: taskId };
}

/** Which chord part finished: the running task's own, or a later chain step's that never runs. */
interface ChordPartOf {
  taskId: string;
  groupId: string | null;
  groupIndex: number | null;
  chord: SignatureDict | null;
}

function ownPart(request: Request): ChordPartOf {
  return { taskId: request.id ?? '', groupId: request.group, groupIndex: request.groupIndex, chord: request.chord };
}

/**
 * Tells the chord a header part belongs to that the part is done (callers check it has a chord).
 * Runs in the task's context, so a body it applies has this task as parent and its root, as in Celery.
 */
async function reportChordPart(app: Celeriac, backend: ResultBackend, task: Task, request: Request, part: ChordPartOf, state: string, result: unknown, log: Logger): Promise<void> {
  try {
    await activeTask.run({ task, request }, chordPartReturned, app, backend, { ...part, state, result });
  } catch (err) {
    log.error({ err }, `chord callback of group ${part.groupId ?? '?'} could not be applied`);
  }
}

/** The base class's handlers, all no-ops: a task that keeps them has nothing to call. */
const NO_HANDLER = Task.prototype;

/** Seconds since `started` (a `performance.now()` reading). */
function secondsSince(started: number): number {
  return (performance.now() - started) / 1000;
}

/** Writes the running task's own record (extended as the task or app says) where its sender waits. */
function storeOwn(backend: ResultBackend, task: Task, request: Request, app: Celeriac, status: string, result: unknown, traceback: string | null): Promise<void> {
  const extended = task.resultExtended ?? app.conf.resultExtended;
  return backend.storeResult(buildMeta(request.id ?? '', status, result, traceback, request, { extended }), destinationOf(request));
}

/** Stores a state of the running task; a failure to store is logged, not thrown. */
async function storeState(task: Task, request: Request, ctx: TraceContext, log: Logger, status: string, result: unknown, traceback: string | null): Promise<void> {
  if (!ctx.store) return;
  try {
    await storeOwn(await task.getBackend(), task, request, ctx.app, status, result, traceback);
  } catch (err) {
    log.error({ err }, `could not store state ${status} of task ${request.id ?? ''}`);
  }
}

/** Sends the callbacks (`link`) and the next chain step with the task's return value. */
async function sendFollowUps(app: Celeriac, request: Request, id: string, retval: unknown): Promise<void> {
  const priority = app.conf.taskInheritParentPriority ? (request.deliveryInfo?.priority ?? undefined) : undefined;
  const base = { parentId: id, rootId: request.rootId ?? id, ...(priority ? { priority } : {}) };
  for (const dict of request.callbacks ?? []) {
    await Signature.fromDict(dict, app).applyAsync([retval], {}, base);
  }
  if (request.chain && request.chain.length > 0) {
    const rest = [...request.chain];
    const next = Signature.fromDict(rest.pop()!, app);
    await next.applyAsync([retval], {}, rest.length > 0 ? { ...base, chain: rest } : base);
  }
}

/** The outcome of a run the pool gave up on (time limit, terminate): recorded there, not here. */
function abandonedOutcome(retval: unknown, started: number): TraceOutcome {
  return { state: States.REVOKED, retval, error: null, requeue: false, runtime: secondsSince(started) };
}

/** The failure of a run: recorded, unless the pool gave up on it. */
function failed(task: Task, request: Request, ctx: TraceContext, error: Error, started: number): Promise<TraceOutcome> {
  if (request.abandoned) return Promise.resolve(abandonedOutcome(error, started));
  return recordFailure(task, request, error, ctx, secondsSince(started));
}

/**
 * Executes `task` for `request` and records the outcome. Never throws. The success path makes
 * no closures and awaits only what returns a promise: it runs once per task.
 */
export async function traceTask(task: Task, request: Request, ctx: TraceContext): Promise<TraceOutcome> {
  const { app } = ctx;
  const id = request.id ?? '';
  const log = ctx.logger.child({ task: request.shadow ?? task.name, taskId: id });
  const started = performance.now();

  let retval: unknown;
  try {
    if (task.trackStarted ?? app.conf.taskTrackStarted) {
      await storeState(task, request, ctx, log, States.STARTED, { pid: process.pid, hostname: request.hostname }, null);
    }
    const before = task.beforeStart(id, request.args, request.kwargs);
    if (isThenable(before)) await before;
    const args = task.bindArguments(request.args, request.kwargs);
    retval = runWithAutoretry(task, request, args);
    if (isThenable(retval)) retval = await retval;
  } catch (err) {
    if (err instanceof Reject) {
      log.info(`Task ${task.name}[${id}] rejected (requeue=${err.requeue}): ${err.message}`);
      return { state: States.REJECTED, retval: err, error: err, requeue: err.requeue, runtime: secondsSince(started) };
    }
    if (err instanceof Ignore) {
      log.info(`Task ${task.name}[${id}] ignored`);
      return { state: States.IGNORED, retval: err, error: err, requeue: false, runtime: secondsSince(started) };
    }
    if (err instanceof Retry) {
      const reason = err.exc === undefined ? err : asError(err.exc);
      await storeState(task, request, ctx, log, States.RETRY, serializeError(reason), reason.stack ?? null);
      await safely(log, 'onRetry', () => task.onRetry(reason, id, request.args, request.kwargs, einfoOf(reason)));
      log.info(`Task ${task.name}[${id}] retry: ${err.message}`);
      return { state: States.RETRY, retval: err, error: err, requeue: false, runtime: secondsSince(started) };
    }
    return failed(task, request, ctx, asError(err), started);
  }

  if (request.abandoned) return abandonedOutcome(retval, started);
  // Only recording is left: the async pool may start the next task's code meanwhile.
  request.bodyReturned();

  try {
    if ((request.callbacks?.length ?? 0) > 0 || (request.chain?.length ?? 0) > 0) {
      await activeTask.run({ task, request }, sendFollowUps, app, request, id, retval);
    }
    const ignoreResult = request.ignoreResult || (task.ignoreResult ?? app.conf.taskIgnoreResult);
    if (!ignoreResult && ctx.store) {
      // The connected backend without a promise job: this path runs once per task.
      const backend = task.connectedBackend() ?? (await task.getBackend());
      await storeOwn(backend, task, request, app, States.SUCCESS, retval, null);
      if (request.chord) await reportChordPart(app, backend, task, request, ownPart(request), States.SUCCESS, retval, log);
    }
  } catch (err) {
    // The result could not be stored (not serializable, backend down) or a callback could
    // not be sent: the task counts as failed, as in Celery.
    return failed(task, request, ctx, asError(err), started);
  }
  if (task.onSuccess !== NO_HANDLER.onSuccess) {
    await safely(log, 'onSuccess', () => task.onSuccess(retval, id, request.args, request.kwargs));
  }
  const took = secondsSince(started);
  if (levelEnabled(log, 'info')) log.info(`Task ${task.name}[${id}] succeeded in ${took.toFixed(6)}s: ${pyRepr(retval)}`);
  if (task.afterReturn !== NO_HANDLER.afterReturn) {
    await safely(log, 'afterReturn', () => task.afterReturn(States.SUCCESS, retval, id, request.args, request.kwargs, null));
  }
  return { state: States.SUCCESS, retval, error: null, requeue: false, runtime: took };
}

/**
 * Whether an errback takes Celery's new-style arguments `(request, exc, traceback)`: more than
 * one named positional parameter left once the signature's own partial arguments are placed
 * (Celery counts parameters only; an errback like `record(value, tag)` sent as `record.s('err')`
 * keeps getting the task id here, as it always has in celeriac).
 */
function takesRequest(errback: Task, partialArgs: number): boolean {
  const named = errback.parameters.filter((p) => !p.objectPattern && !p.rest);
  return named.length - partialArgs > 1;
}

/**
 * Applies a failed task's errbacks as Celery does: one registered here that takes
 * `(request, exc, traceback)` is called in place with them (they come before its own partial
 * arguments); any other is sent with the failed task's id.
 */
async function applyErrbacks(app: Celeriac, request: Request, error: Error, traceback: string): Promise<void> {
  const id = request.id ?? '';
  for (const dict of request.errbacks ?? []) {
    const sig = Signature.fromDict(dict, app);
    const local = app.tasks.get(sig.task);
    if (local && takesRequest(local, sig.args.length)) {
      await local.call(...local.bindArguments([request, error, traceback, ...sig.args], sig.kwargs));
      continue;
    }
    await sig.applyAsync([id], {}, { parentId: id, rootId: request.rootId ?? id });
  }
}

/**
 * Records a failure as Celery does: FAILURE stored (unless ignored) with the error and its
 * traceback, the chain's later steps marked failed too, errbacks sent, `onFailure` and
 * `afterReturn` called, and the error logged (at INFO without a stack for the task's `throws`).
 * Used by the trace, and by the worker for executions it had to stop or lost.
 */
export async function recordFailure(
  task: Task,
  request: Request,
  error: Error,
  ctx: TraceContext,
  runtime = 0,
  state: string = States.FAILURE,
): Promise<TraceOutcome> {
  const { app } = ctx;
  const id = request.id ?? '';
  const log = ctx.logger.child({ task: request.shadow ?? task.name, taskId: id });
  const einfo = einfoOf(error);
  const ignoreResult = request.ignoreResult || (task.ignoreResult ?? app.conf.taskIgnoreResult);
  if (ctx.store && (!ignoreResult || (task.storeErrorsEvenIfIgnored ?? app.conf.taskStoreErrorsEvenIfIgnored))) {
    const serialized = serializeError(error);
    try {
      const backend = await task.getBackend();
      await storeOwn(backend, task, request, app, state, serialized, einfo.traceback);
      if (request.chord) await reportChordPart(app, backend, task, request, ownPart(request), state, serialized, log);
      // The steps after a failed one will never run: mark them failed too, so waiting on the
      // chain's final result ends with this error instead of hanging, and a step that is a
      // chord's header part reports to its chord (Celery's rule: the chord fails, its errbacks run).
      for (const step of request.chain ?? []) {
        const stepId = step.options?.['task_id'];
        if (typeof stepId === 'string') {
          await backend.storeResult(buildMeta(stepId, state, serialized, einfo.traceback, null, { extended: false }), destinationOf(request, stepId));
        }
        const chord = step.options?.['chord'];
        if (typeof stepId === 'string' && chord && typeof chord === 'object') {
          const groupId = step.options?.['group_id'];
          const groupIndex = step.options?.['group_index'];
          const part: ChordPartOf = {
            taskId: stepId,
            groupId: typeof groupId === 'string' ? groupId : null,
            groupIndex: typeof groupIndex === 'number' ? groupIndex : null,
            chord: chord as SignatureDict,
          };
          await reportChordPart(app, backend, task, request, part, state, serialized, log);
        }
      }
    } catch (err) {
      log.error({ err }, `could not store state ${state} of task ${id}`);
    }
  }
  try {
    await activeTask.run({ task, request }, applyErrbacks, app, request, error, einfo.traceback);
  } catch (err) {
    log.error({ err }, `could not send the errbacks of task ${id}`);
  }
  await safely(log, 'onFailure', () => task.onFailure(error, id, request.args, request.kwargs, einfo));
  const expected = task.throws.some((cls) => error instanceof cls);
  if (expected) log.info(`Task ${task.name}[${id}] raised expected: ${errorRepr(error)}`);
  else log.error({ err: error }, `Task ${task.name}[${id}] raised unexpected: ${errorRepr(error)}`);
  await safely(log, 'afterReturn', () => task.afterReturn(state, error, id, request.args, request.kwargs, einfo));
  return { state, retval: error, error, requeue: false, runtime };
}
