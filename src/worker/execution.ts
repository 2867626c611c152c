/**
 * One message's execution, after decoding: the revoked / expired checks, the rate limit, the
 * pool run with early acknowledgement, soft and hard time limits, the handling of executions the
 * pool had to stop or lost, and the final ack / reject.
 */
import type { Celeriac } from '../app/celeriac.js';
import type { ResultDestination } from '../backends/port.js';
import type { Delivery } from '../broker/port.js';
import { SoftTimeLimitExceeded, TaskRevokedError, TimeLimitExceeded, WorkerLostError } from '../errors/index.js';
import type { Logger } from '../logging/logger.js';
import type { JobResult, Pool, PoolJob } from '../pool/port.js';
import { serializeError } from '../protocol/exceptions.js';
import { States } from '../result/states.js';
import { buildMeta } from '../task/meta.js';
import type { Request } from '../task/request.js';
import type { Task } from '../task/task.js';
import { destinationOf, recordFailure, type TraceOutcome } from '../task/trace.js';
import { setLongTimeout, type LongTimeout } from '../utils/long-timeout.js';
import type { RateLimiter } from './rate-limit.js';

/** What an execution needs from its worker. */
export interface ExecutionContext {
  app: Celeriac;
  logger: Logger;
  pool: Pool;
  rateLimiter: RateLimiter;
  /** True once a shutdown began: jobs not started by then are left to the broker. */
  closing(): boolean;
  /** Task ids revoked with terminate while running are stopped with this. */
  onStarted(request: Request, task: Task): void;
  onFinished(request: Request, task: Task, outcome: TraceOutcome | null): void;
  /** A task discarded without running (revoked or expired). */
  onDiscarded?(request: Request, reason: 'revoked' | 'expired'): void;
}

/**
 * Stores a final state for a task that never ran (revoked, expired, not registered); `destination`
 * is where its sender waits (rpc://).
 */
export async function storeFinal(
  app: Celeriac,
  task: Task | undefined,
  taskId: string,
  state: string,
  error: Error,
  logger: Logger,
  destination: ResultDestination,
): Promise<void> {
  try {
    const backend = task ? await task.getBackend() : await app.getBackend();
    await backend.storeResult(buildMeta(taskId, state, serializeError(error), error.stack ?? null, null), destination);
  } catch (err) {
    logger.error({ err }, `could not store state ${state} of task ${taskId}`);
  }
}

/** The effective `[hard, soft]` time limits, in seconds: the call's, else the task's, else the app's. */
export function timeLimits(task: Task, request: Request, app: Celeriac): [number | null, number | null] {
  const [hard, soft] = request.timelimit;
  return [hard ?? task.timeLimit ?? app.conf.taskTimeLimit, soft ?? task.softTimeLimit ?? app.conf.taskSoftTimeLimit];
}

type DiscardReason = 'revoked' | 'expired';

/** Why a task must not run now: its id is revoked, or it expired; null to run it. */
function discardReason(app: Celeriac, request: Request): DiscardReason | null {
  if (app.revoked.has(request.id ?? '')) return 'revoked';
  if (request.expires && request.expires.getTime() <= Date.now()) return 'expired';
  return null;
}

/** Records a task that will not run as REVOKED and acknowledges its message. */
async function discard(ctx: ExecutionContext, delivery: Delivery, task: Task, request: Request, reason: DiscardReason): Promise<void> {
  const id = request.id ?? '';
  if (reason === 'revoked') ctx.logger.info(`Discarding revoked task: ${task.name}[${id}]`);
  else ctx.logger.info(`Discarding expired task: ${task.name}[${id}] (expired ${request.expires?.toISOString() ?? '?'})`);
  await storeFinal(ctx.app, task, id, States.REVOKED, new TaskRevokedError(reason), ctx.logger, destinationOf(request));
  await delivery.ack();
  ctx.onDiscarded?.(request, reason);
}

/** Runs one received task to the end, acknowledging its message as the task's options say. */
export async function executeTask(ctx: ExecutionContext, delivery: Delivery, task: Task, request: Request): Promise<void> {
  const { app, logger } = ctx;
  const id = request.id ?? '';
  const early = discardReason(app, request);
  if (early) {
    await discard(ctx, delivery, task, request, early);
    return;
  }
  const token = ctx.rateLimiter.acquire(task.name, task.rateLimit ?? app.conf.taskDefaultRateLimit);
  if (token) {
    await token;
    // Revoked or expired while it waited for its token.
    const late = discardReason(app, request);
    if (late) {
      await discard(ctx, delivery, task, request, late);
      return;
    }
  }
  const acksLate = task.acksLate ?? app.conf.taskAcksLate;
  const job = new Execution(ctx, delivery, task, request, acksLate);
  let result: JobResult;
  try {
    result = await ctx.pool.run(job);
  } finally {
    job.clearTimers();
  }
  const started = job.begun;
  if (result.kind === 'skipped') {
    // Revoked or expired while it waited for a slot (Celery checks again as the pool takes it).
    if (job.discarded) await discard(ctx, delivery, task, request, job.discarded);
    return;
  }
  if (result.kind === 'abandoned') {
    // Cold shutdown. An unacknowledged message goes back to the broker when the consumer closes;
    // one acknowledged already will not come back, so its result says what happened.
    try {
      if (!acksLate && started) {
        logger.warn(`Task ${task.name}[${id}] abandoned by a cold shutdown; it was acknowledged and will not run again`);
        await recordFailure(task, request, new WorkerLostError('Worker exited prematurely: cold shutdown.'), { app, logger, store: true });
      }
    } finally {
      if (started) ctx.onFinished(request, task, null);
    }
    return;
  }
  let outcome: TraceOutcome | null = null;
  try {
    if (result.kind === 'done') {
      outcome = result.outcome;
    } else if (result.kind === 'killed') {
      outcome = await recordStopped(ctx, task, request, result.reason);
    } else {
      // The process running it died.
      if (acksLate && (task.rejectOnWorkerLost ?? app.conf.taskRejectOnWorkerLost)) {
        logger.warn(`Task ${task.name}[${id}] lost its worker process (${result.reason.message}): requeued`);
        await delivery.reject(true);
        return;
      }
      outcome = await recordFailure(task, request, result.reason, { app, logger, store: true });
    }
  } finally {
    if (started) ctx.onFinished(request, task, outcome);
  }
  if (!acksLate) {
    // Stopped before it started (revoked with terminate while queued in a pool child): never acked yet.
    if (!started) await delivery.ack();
    return;
  }
  if (outcome.state === States.REJECTED) await delivery.reject(outcome.requeue);
  else if ((outcome.state === States.FAILURE || result.kind === 'killed') && !app.conf.taskAcksOnFailureOrTimeout) {
    await delivery.reject(false);
  } else await delivery.ack();
}

/** The pool's view of one execution: its accept and start hooks (one object, no closures). */
class Execution implements PoolJob {
  begun = false;
  /** Why the pool was told not to run it after all (revoked or expired as its slot came up). */
  discarded: DiscardReason | null = null;
  private timers: LongTimeout[] | undefined;

  constructor(
    private readonly ctx: ExecutionContext,
    private readonly delivery: Delivery,
    readonly task: Task,
    readonly request: Request,
    private readonly acksLate: boolean,
  ) {}

  accept(): boolean {
    // Shutting down: leave the message unacknowledged; closing the consumer gives it back.
    if (this.ctx.closing()) return false;
    // The broker took the message back (a lost AMQP channel) and delivers it again: not here.
    if (this.delivery.withdrawn) {
      this.ctx.logger.info(`Task ${this.task.name}[${this.request.id ?? ''}] not started: the broker took its message back after a lost connection and redelivers it`);
      return false;
    }
    this.discarded = discardReason(this.ctx.app, this.request);
    return this.discarded === null;
  }

  started(): void {
    this.begun = true;
    const { ctx, task, request } = this;
    // Early ack when the task starts (not when a pool child queues it: a worker killed meanwhile
    // must give back what never started). The ack is sent without waiting for the broker's
    // answer (an AMQP ack has none; a Redis one is a batched script call).
    if (!this.acksLate) {
      this.delivery.ack().catch((err: unknown) => ctx.logger.error({ err }, `could not ack task ${task.name}[${request.id ?? ''}]; it may run again`));
    }
    ctx.onStarted(request, task);
    const [hard, soft] = timeLimits(task, request, ctx.app);
    if (hard === null && soft === null) return;
    const id = request.id ?? '';
    this.timers = [];
    if (soft !== null && (hard === null || soft < hard)) {
      this.timers.push(
        setLongTimeout(() => {
          ctx.logger.warn(`Soft time limit (${soft}s) exceeded for ${task.name}[${id}]`);
          ctx.pool.abort(id, new SoftTimeLimitExceeded(`soft time limit (${soft}s) exceeded`));
        }, soft * 1000),
      );
    }
    if (hard !== null) {
      this.timers.push(
        setLongTimeout(() => {
          ctx.logger.error(`Hard time limit (${hard}s) exceeded for ${task.name}[${id}]`);
          ctx.pool.kill(id, new TimeLimitExceeded(`TimeLimitExceeded(${hard})`), 'SIGKILL');
        }, hard * 1000),
      );
    }
  }

  clearTimers(): void {
    if (this.timers) for (const t of this.timers) t.clear();
  }
}

/** Records an execution stopped by force: FAILURE for a time limit, REVOKED for a terminate. */
async function recordStopped(ctx: ExecutionContext, task: Task, request: Request, reason: Error): Promise<TraceOutcome> {
  const state = reason instanceof TaskRevokedError ? States.REVOKED : States.FAILURE;
  return recordFailure(task, request, reason, { app: ctx.app, logger: ctx.logger, store: true }, 0, state);
}
