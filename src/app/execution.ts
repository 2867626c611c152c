/**
 * Task-side operations that need the app: eager runs (`apply()`), `updateState()`, and the
 * republishing behind `retry()`.
 */
import type { ApplyOptions } from '../canvas/options.js';
import { Retry } from '../errors/index.js';
import { EagerResult } from '../result/async-result.js';
import { States } from '../result/states.js';
import { buildMeta } from '../task/meta.js';
import { currentRequest, Request } from '../task/request.js';
import { maxRetriesError, type RetryOptions, type Task } from '../task/task.js';
import { destinationOf, traceTask } from '../task/trace.js';
import { hostname, uuid } from '../utils/ids.js';
import type { Celeriac } from './celeriac.js';
import type { Producer } from './producer.js';
import { serializeError } from '../protocol/exceptions.js';

/** A Retry raised by an eager task, carrying the result of the eager re-run. */
class EagerRetry extends Retry {
  constructor(
    message: string | undefined,
    options: ConstructorParameters<typeof Retry>[1],
    readonly rerun: EagerResult,
  ) {
    super(message, options);
  }
}

/** Runs a task locally, as a worker would, and returns its result handle. */
export async function applyEager(
  app: Celeriac,
  task: Task,
  args: readonly unknown[],
  kwargs: Readonly<Record<string, unknown>>,
  options: ApplyOptions,
): Promise<EagerResult> {
  const id = options.taskId ?? uuid();
  const parent = currentRequest();
  const request = new Request({
    id,
    task: task.name,
    args: [...args],
    kwargs: { ...kwargs },
    retries: options.retries ?? 0,
    isEager: true,
    calledDirectly: false,
    hostname: hostname(),
    rootId: options.rootId ?? parent?.rootId ?? id,
    parentId: options.parentId ?? parent?.id ?? null,
    group: options.groupId ?? null,
    callbacks: null,
    errbacks: null,
    chain: options.chain ?? null,
    ignoreResult: options.ignoreResult ?? false,
    timelimit: [options.timeLimit ?? null, options.softTimeLimit ?? null],
  });
  const outcome = await traceTask(task, request, {
    app,
    logger: app.logger,
    store: app.conf.taskStoreEagerResult,
  });
  if (outcome.error instanceof EagerRetry) return outcome.error.rerun;
  const failed = outcome.state === States.FAILURE;
  const record = buildMeta(
    id,
    outcome.state,
    failed && outcome.error ? serializeError(outcome.error) : outcome.retval,
    failed ? (outcome.error?.stack ?? null) : null,
    request,
  );
  return new EagerResult(id, app, record, failed ? outcome.error : null);
}

/** Stores a state (built-in or custom) for a task id. */
export async function storeState(app: Celeriac, task: Task, taskId: string, state: string, meta: unknown, request: Request): Promise<void> {
  const backend = await app.backendForTask(task);
  const extended = task.resultExtended ?? app.conf.resultExtended;
  await backend.storeResult(buildMeta(taskId, state, meta, null, request.id === taskId ? request : null, { extended }), destinationOf(request, taskId));
}

/**
 * Republishes a task for a retry (same id, retries + 1), or throws when retries are exhausted.
 * Returns the Retry error for the task to throw.
 */
export async function retryTask(app: Celeriac, producer: Producer, task: Task, request: Request, options: RetryOptions): Promise<Retry> {
  if (request.calledDirectly) {
    // Called as a plain function: there is no message to retry.
    throw options.exc ?? new Retry('Task can be retried', {});
  }
  const maxRetries = options.maxRetries !== undefined ? options.maxRetries : task.maxRetries !== undefined ? task.maxRetries : 3;
  if (maxRetries !== null && request.retries >= maxRetries) throw maxRetriesError(task, request, options.exc);
  const countdown = options.eta ? undefined : (options.countdown ?? task.defaultRetryDelay ?? 180);
  const when = options.eta ?? countdown;
  const args = options.args ?? request.args;
  const kwargs = options.kwargs ?? request.kwargs;
  const delivery = request.deliveryInfo;
  const [hard, soft] = request.timelimit;
  const callOptions: ApplyOptions = {
    taskId: request.id ?? uuid(),
    retries: request.retries + 1,
    ...(options.eta ? { eta: options.eta } : { countdown: countdown ?? 0 }),
    ...(request.expires ? { expires: request.expires } : {}),
    ...(options.queue ?? delivery?.queue ? { queue: options.queue ?? delivery?.queue ?? '' } : {}),
    ...(delivery?.priority ? { priority: delivery.priority } : {}),
    ...(hard !== null ? { timeLimit: hard } : {}),
    ...(soft !== null ? { softTimeLimit: soft } : {}),
    ...(request.parentId ? { parentId: request.parentId } : {}),
    ...(request.rootId ? { rootId: request.rootId } : {}),
    ...(request.group ? { groupId: request.group } : {}),
    ...(request.groupIndex !== null ? { groupIndex: request.groupIndex } : {}),
    ...(request.chain ? { chain: request.chain } : {}),
    ...(request.chord ? { chord: request.chord } : {}),
    ...(request.callbacks ? { link: request.callbacks } : {}),
    ...(request.errbacks ? { linkError: request.errbacks } : {}),
    ...(request.replyTo ? { replyTo: request.replyTo } : {}),
    ...(request.shadow ? { shadow: request.shadow } : {}),
    ignoreResult: request.ignoreResult,
    ...options.options,
  };
  const retryOptions = { exc: options.exc, ...(when !== undefined ? { when } : {}) };
  if (request.isEager) {
    const rerun = await applyEager(app, task, args, kwargs, callOptions);
    return new EagerRetry(undefined, retryOptions, rerun);
  }
  await producer.send({ name: task.name, args, kwargs, options: callOptions, task, inheritParent: false });
  return new Retry(undefined, retryOptions);
}
