/**
 * The worker: consumes task messages from its queues, runs them in a pool, and acknowledges them.
 *
 * Message life: decode (bad messages and unknown tasks are logged and rejected; the worker keeps
 * going) → revoked/expired check → held until its ETA → run in the pool. Early acknowledgement
 * (default) acks when the pool starts the task; `acksLate` acks after it returns, so a worker
 * that dies mid-task leaves the message to be delivered again. Prefetch is
 * `concurrency × prefetchMultiplier`, raised by one for each task waiting for its ETA.
 *
 * Shutdown: `stop()` (first SIGTERM/SIGINT) stops consuming and waits for running tasks; messages
 * prefetched but not started go back to the broker. `stop({ cold: true })` (second signal) gives
 * everything back at once.
 */
import { EventEmitter } from 'node:events';
import type { Celeriac } from '../app/celeriac.js';
import type { Consumer, Delivery } from '../broker/port.js';
import { ContentDisallowed, NotRegistered, TaskRevokedError } from '../errors/index.js';
import type { Logger } from '../logging/logger.js';
import { serializeError } from '../protocol/exceptions.js';
import { decodeTaskMessage, type DecodedTask } from '../protocol/message.js';
import { AsyncPool, SoloPool } from '../pool/async.js';
import type { Pool } from '../pool/port.js';
import { States } from '../result/states.js';
import { buildMeta } from '../task/meta.js';
import type { Request } from '../task/request.js';
import type { Task } from '../task/task.js';
import { traceTask, type TraceOutcome } from '../task/trace.js';
import { expandNodeName } from '../utils/ids.js';
import { deferred, type Deferred } from '../utils/deferred.js';
import { requestFromMessage } from './request-from-message.js';

/** Options of a worker. */
export interface WorkerOptions {
  /** Queues to consume. @defaultValue `[task_default_queue]` */
  queues?: readonly string[];
  /** Tasks at once. @defaultValue `worker_concurrency` */
  concurrency?: number;
  /** @defaultValue `worker_prefetch_multiplier` */
  prefetchMultiplier?: number;
  /** Node name; `%h` is the host name. @defaultValue `celeriac@%h` */
  hostname?: string;
  /** @defaultValue the app's logger */
  logger?: Logger;
  /** Execution pool. @defaultValue `'async'` */
  pool?: 'async' | 'solo';
}

/** A task the worker is running. */
export interface ActiveTask {
  request: Request;
  task: Task;
  startedAt: number;
  controller: AbortController;
}

/** Events a worker emits. */
export interface WorkerEvents {
  'task-received': [request: Request];
  'task-started': [request: Request];
  'task-finished': [request: Request, outcome: TraceOutcome];
  'task-rejected': [reason: Error, delivery: Delivery];
  'worker-ready': [];
  'worker-shutdown': [];
}

/** A celeriac worker. */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly hostname: string;
  readonly queues: readonly string[];
  readonly concurrency: number;
  readonly prefetchMultiplier: number;
  readonly logger: Logger;
  readonly pool: Pool;
  /** Tasks running now, by id. */
  readonly active = new Map<string, ActiveTask>();
  /** Tasks processed, by name. */
  readonly processed = new Map<string, number>();
  private consumer: Consumer | undefined;
  private readonly etaTimers = new Map<string, NodeJS.Timeout>();
  private inFlight = 0;
  private drained: Deferred<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** Set once a shutdown begins: tasks not started by then are left for the broker. */
  private closing = false;
  private unsubscribeRevoke: (() => void) | undefined;
  private stopped = deferred<void>();

  constructor(readonly app: Celeriac, options: WorkerOptions = {}) {
    super();
    this.hostname = expandNodeName(options.hostname ?? 'celeriac@%h');
    this.queues = options.queues && options.queues.length > 0 ? [...options.queues] : [app.conf.taskDefaultQueue];
    this.concurrency = options.concurrency ?? app.conf.workerConcurrency;
    this.prefetchMultiplier = options.prefetchMultiplier ?? app.conf.workerPrefetchMultiplier;
    this.logger = (options.logger ?? app.logger).child({ component: 'worker' });
    this.pool = options.pool === 'solo' ? new SoloPool() : new AsyncPool(this.concurrency);
  }

  /** The prefetch limit: concurrency × multiplier, plus tasks held for their ETA. */
  get prefetch(): number {
    if (this.prefetchMultiplier === 0) return 0;
    return this.pool.limit * this.prefetchMultiplier + this.etaTimers.size;
  }

  /** Connects and starts consuming. Resolves once the worker is consuming. */
  async start(): Promise<void> {
    const transport = await this.app.getTransport();
    for (const name of this.queues) {
      const router = this.app.conf.taskQueues?.find((q) => q.name === name);
      await transport.declareQueue({
        name,
        exchange: router?.exchange ?? (name === this.app.conf.taskDefaultQueue ? this.app.conf.taskDefaultExchange : name),
        exchangeType: router?.exchangeType ?? 'direct',
        routingKey: router?.routingKey ?? (name === this.app.conf.taskDefaultQueue ? this.app.conf.taskDefaultRoutingKey : name),
        ...(router?.maxPriority !== undefined ? { maxPriority: router.maxPriority } : {}),
      });
    }
    this.unsubscribeRevoke = this.app.onRevoke((id, opts) => this.onRevoke(id, opts.terminate ?? false));
    this.consumer = await transport.consume(this.queues, (d) => this.onDelivery(d), { prefetch: this.prefetch });
    this.logger.info(
      `${this.hostname} ready: ${this.pool.kind} pool, concurrency ${this.pool.limit}, queues ${this.queues.join(', ')}, ` +
        `broker ${transport.driver}, tasks: ${this.app.tasks.userNames().join(', ') || '(none)'}`,
    );
    this.emit('worker-ready');
  }

  /** Resolves when the worker has stopped. */
  get done(): Promise<void> {
    return this.stopped.promise;
  }

  /**
   * Stops the worker. Warm (default): no new tasks, running ones finish, prefetched ones go back
   * to the broker. Cold: everything unacknowledged goes back at once.
   */
  stop(options: { cold?: boolean } = {}): Promise<void> {
    if (options.cold) return this.shutdown(true);
    this.stopping ??= this.shutdown(false);
    return this.stopping;
  }

  private async shutdown(cold: boolean): Promise<void> {
    this.closing = true;
    this.logger.info(cold ? `${this.hostname}: cold shutdown` : `${this.hostname}: warm shutdown (waiting for ${this.active.size} running tasks)`);
    this.unsubscribeRevoke?.();
    for (const timer of this.etaTimers.values()) clearTimeout(timer);
    this.etaTimers.clear();
    const consumer = this.consumer;
    if (!cold) {
      await consumer?.cancel();
      await this.waitForRunning();
    } else {
      for (const a of this.active.values()) a.controller.abort(new TaskRevokedError('worker cold shutdown'));
    }
    await consumer?.close();
    this.consumer = undefined;
    this.emit('worker-shutdown');
    this.stopped.resolve();
  }

  private async waitForRunning(): Promise<void> {
    if (this.active.size === 0) return;
    this.drained ??= deferred<void>();
    const timeout = this.app.conf.workerShutdownTimeout;
    if (timeout === null) return this.drained.promise;
    await Promise.race([this.drained.promise, new Promise((r) => setTimeout(r, timeout * 1000).unref())]);
  }

  /**
   * Stops on SIGTERM / SIGINT (warm; a second signal is cold). Returns a function that removes
   * the handlers.
   */
  installSignalHandlers(): () => void {
    let count = 0;
    const handler = (signal: NodeJS.Signals): void => {
      count++;
      this.logger.info(`${signal} received`);
      void this.stop({ cold: count > 1 });
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
    return () => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    };
  }

  private onRevoke(taskId: string, terminate: boolean): void {
    const timer = this.etaTimers.get(taskId);
    if (timer) this.logger.info(`revoked task ${taskId} is waiting for its ETA: it will not run`);
    if (terminate) {
      const active = this.active.get(taskId);
      if (active) {
        this.logger.info(`terminating revoked task ${taskId}`);
        active.controller.abort(new TaskRevokedError(`task ${taskId} was revoked`));
      }
    }
  }

  private onDelivery(delivery: Delivery): void {
    this.inFlight++;
    this.handle(delivery)
      .catch((err: unknown) => {
        // handle() deals with every expected failure; reaching here is a bug, never a crash.
        this.logger.error({ err }, `internal error handling message ${delivery.deliveryTag}`);
        return delivery.reject(false).catch(() => undefined);
      })
      .finally(() => this.inFlight--);
  }

  private async handle(delivery: Delivery): Promise<void> {
    let decoded: DecodedTask;
    try {
      decoded = decodeTaskMessage(delivery.message, this.app.codecs);
    } catch (err) {
      const what = err instanceof ContentDisallowed ? 'refused' : "can't decode";
      this.logger.error({ err }, `${what} message (delivery tag ${delivery.deliveryTag}, queue ${delivery.queue}): ${(err as Error).message}; message rejected`);
      this.emit('task-rejected', err as Error, delivery);
      await delivery.reject(false);
      return;
    }
    const task = this.app.tasks.get(decoded.task);
    if (!task) {
      const err = new NotRegistered(decoded.task);
      this.logger.error(
        `Received unregistered task of type '${decoded.task}' (id ${decoded.id}). The message has been rejected. ` +
          `Did you forget to register it in the app the worker loads? Registered: ${this.app.tasks.userNames().join(', ') || '(none)'}`,
      );
      await this.storeFinal(decoded, States.FAILURE, err);
      this.emit('task-rejected', err, delivery);
      await delivery.reject(false);
      return;
    }
    const controller = new AbortController();
    const request = requestFromMessage(decoded, delivery, this.hostname, controller.signal);
    this.logger.info(`Task ${task.name}[${decoded.id}] received`);
    this.emit('task-received', request);
    if (decoded.eta && decoded.eta.getTime() > Date.now()) {
      await this.holdUntilEta(decoded, delivery, task, request, controller);
      return;
    }
    await this.execute(decoded, delivery, task, request, controller);
  }

  private holdUntilEta(decoded: DecodedTask, delivery: Delivery, task: Task, request: Request, controller: AbortController): Promise<void> {
    return new Promise<void>((resolve) => {
      const delay = Math.min(decoded.eta!.getTime() - Date.now(), 2 ** 31 - 1);
      const timer = setTimeout(() => {
        this.etaTimers.delete(decoded.id);
        this.consumer?.setPrefetch(this.prefetch);
        this.execute(decoded, delivery, task, request, controller).then(resolve, (err: unknown) => {
          this.logger.error({ err }, `internal error running task ${decoded.id}`);
          resolve();
        });
      }, delay);
      this.etaTimers.set(decoded.id, timer);
      this.consumer?.setPrefetch(this.prefetch);
    });
  }

  private async storeFinal(decoded: DecodedTask, state: string, error: Error): Promise<void> {
    try {
      const task = this.app.tasks.get(decoded.task);
      const backend = task ? await task.getBackend() : await this.app.getBackend();
      await backend.storeResult(buildMeta(decoded.id, state, serializeError(error), error.stack ?? null, null));
    } catch (err) {
      this.logger.error({ err }, `could not store state ${state} of task ${decoded.id}`);
    }
  }

  private async execute(decoded: DecodedTask, delivery: Delivery, task: Task, request: Request, controller: AbortController): Promise<void> {
    if (this.app.revoked.has(decoded.id)) {
      this.logger.info(`Discarding revoked task: ${task.name}[${decoded.id}]`);
      await this.storeFinal(decoded, States.REVOKED, new TaskRevokedError('revoked'));
      await delivery.ack();
      return;
    }
    if (decoded.expires && decoded.expires.getTime() <= Date.now()) {
      this.logger.info(`Discarding expired task: ${task.name}[${decoded.id}] (expired ${decoded.expires.toISOString()})`);
      await this.storeFinal(decoded, States.REVOKED, new TaskRevokedError('expired'));
      await delivery.ack();
      return;
    }
    const acksLate = task.acksLate ?? this.app.conf.taskAcksLate;
    const outcome = await this.pool.run(async () => {
      // Shutting down: leave the message unacknowledged; closing the consumer gives it back.
      if (this.closing) return null;
      if (!acksLate) await delivery.ack();
      this.active.set(decoded.id, { request, task, startedAt: Date.now(), controller });
      this.emit('task-started', request);
      try {
        return await traceTask(task, request, { app: this.app, logger: this.logger, store: true });
      } finally {
        this.active.delete(decoded.id);
        if (this.active.size === 0 && this.drained) {
          this.drained.resolve();
          this.drained = undefined;
        }
      }
    });
    if (!outcome) return;
    this.processed.set(task.name, (this.processed.get(task.name) ?? 0) + 1);
    if (acksLate) {
      if (outcome.state === States.REJECTED) await delivery.reject(outcome.requeue);
      else if (outcome.state === States.FAILURE && !this.app.conf.taskAcksOnFailureOrTimeout) await delivery.reject(false);
      else await delivery.ack();
    }
    this.emit('task-finished', request, outcome);
  }
}
