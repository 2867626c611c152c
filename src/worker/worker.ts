/**
 * The worker: consumes task messages from its queues, runs them in a pool, and acknowledges them.
 *
 * Message life: decode (bad messages and unknown tasks are logged and rejected; the worker keeps
 * going) → held until its ETA → revoked/expired check → rate limit → run in the pool (see
 * `execution.ts`). Early acknowledgement (default) acks when the pool starts the task; `acksLate`
 * acks after it returns, so a worker that dies mid-task leaves the message to be delivered again.
 * Prefetch is `concurrency × prefetchMultiplier`, raised by one for each task waiting for its ETA.
 *
 * Shutdown: `stop()` (SIGTERM, first Ctrl-C) stops consuming and waits for running tasks; messages
 * prefetched but not started go back to the broker. `stop({ cold: true })` (second Ctrl-C, SIGQUIT)
 * aborts running tasks, abandons those still running after `coldShutdownGrace`, and gives
 * everything unacknowledged back. Signal handling is in `signals.ts`.
 */
import { EventEmitter } from 'node:events';
import type { Celeriac } from '../app/celeriac.js';
import type { Consumer, Delivery, QueueSpec, Transport } from '../broker/port.js';
import { describeUrl } from '../broker/registry.js';
import { ContentDisallowed, ImproperlyConfigured, MessageTooLarge, NotRegistered, SecurityError, TaskRevokedError } from '../errors/index.js';
import { levelEnabled, logSafe, type Logger } from '../logging/logger.js';
import { decodeTaskMessage, inflateBody, type Codecs, type DecodedTask, type TransportMessage } from '../protocol/message.js';
import { AsyncPool, SoloPool } from '../pool/async.js';
import { ChildPool } from '../pool/child/pool.js';
import type { Pool, TraceRunner } from '../pool/port.js';
import { States } from '../result/states.js';
import { NEVER_ABORTED, type Request } from '../task/request.js';
import type { Task } from '../task/task.js';
import { traceTask, type TraceOutcome } from '../task/trace.js';
import { deferred, type Deferred } from '../utils/deferred.js';
import { setLongTimeout, type LongTimeout } from '../utils/long-timeout.js';
import { expandNodeName } from '../utils/ids.js';
import { executeTask, storeFinal, type ExecutionContext } from './execution.js';
import { queueDefinition, queueSpec } from '../app/queues.js';
import { Beat, type BeatOptions } from '../beat/beat.js';
import { WorkerMailbox } from '../control/mailbox.js';
import { WorkerEventDispatcher } from '../events/worker-events.js';
import { watchEventLoop } from './loop-watch.js';
import { RateLimiter } from './rate-limit.js';
import { requestFromMessage } from './request-from-message.js';
import { connectOnStartup, handleWorkerSignals } from './signals.js';
import { Autoscaler, type AutoscaleOptions } from './autoscale.js';
import { Gossip } from './gossip.js';
import { waitAtMost } from '../utils/time.js';

/** Options of a worker. */
export interface WorkerOptions {
  /** Queues to consume. @defaultValue `[task_default_queue]` */
  queues?: readonly string[];
  /** Tasks at once (on the async pool: tasks whose own code runs, see src/pool/async.ts). @defaultValue `worker_concurrency` */
  concurrency?: number;
  /** @defaultValue `worker_prefetch_multiplier` */
  prefetchMultiplier?: number;
  /** Node name; `%h` is the host name. @defaultValue `celeriac@%h` */
  hostname?: string;
  /** @defaultValue the app's logger */
  logger?: Logger;
  /** Execution pool, or a pool instance. @defaultValue `'async'` */
  pool?: PoolKind | Pool;
  /**
   * The module the `process` / `threads` pool children load the app from, `path[:export]`
   * (the CLI passes its `-A`).
   */
  appModule?: string;
  /** `-O fair`: give a pool child work only when it is free. @defaultValue false */
  fair?: boolean;
  /** @defaultValue `worker_max_tasks_per_child` */
  maxTasksPerChild?: number | null;
  /** KiB. @defaultValue `worker_max_memory_per_child` */
  maxMemoryPerChild?: number | null;
  /** Log level of pool children. @defaultValue `'info'` */
  logLevel?: string;
  /**
   * Warn when the event loop was blocked this many seconds (a CPU-bound task on the async pool);
   * null disables the check. @defaultValue 2
   */
  blockedLoopWarning?: number | null;
  /** Also run the beat service in this worker (`-B`), with these options. @defaultValue false */
  beat?: boolean | BeatOptions;
  /** Answer remote control (`celery inspect`, `app.control`). @defaultValue true */
  remoteControl?: boolean;
  /** File keeping revoked ids across restarts (`--statedb`). */
  statedb?: string;
  /** At start, learn revoked ids from the running workers. @defaultValue true, except on memory:// */
  mingle?: boolean;
  /** Publish task events (`-E`). @defaultValue `worker_send_task_events` */
  sendEvents?: boolean;
  /** Send worker-heartbeat events every 2 s (off: `--without-heartbeat`). @defaultValue true */
  heartbeat?: boolean;
  /** Follow the other workers' events (off: `--without-gossip`); see `gossip.ts`. @defaultValue true, except on memory:// */
  gossip?: boolean;
  /**
   * Grow and shrink the pool with the load (`--autoscale=max,min`): the pool starts with `min`
   * slots, prefetch is sized for `max`. Not for the solo pool.
   */
  autoscale?: AutoscaleOptions;
  /**
   * Install Celery's signal handling when started: SIGTERM and the first Ctrl-C stop warm, a second
   * Ctrl-C or SIGQUIT cold, a third exits at once; once stopped by a signal the app is closed and
   * the process exits (0 after a warm shutdown, 128 + signal number after a cold one). Pass false
   * to manage the process yourself. @defaultValue true
   */
  handleSignals?: boolean;
  /** Seconds a cold shutdown lets aborted tasks end before abandoning them. @defaultValue 1 */
  coldShutdownGrace?: number;
}

/** The pools a worker can be started with. */
export type PoolKind = 'async' | 'solo' | 'process' | 'threads';

/** A task the worker is running. */
export interface ActiveTask {
  request: Request;
  task: Task;
  /** Epoch milliseconds. */
  startedAt: number;
}

/** Events a worker emits. */
export interface WorkerEvents {
  'task-received': [request: Request];
  'task-started': [request: Request];
  'task-finished': [request: Request, outcome: TraceOutcome | null];
  'task-rejected': [reason: Error, delivery: Delivery];
  /** A task discarded without running: revoked before it started, or expired. */
  'task-revoked': [request: Request, reason: 'revoked' | 'expired'];
  'worker-ready': [];
  'worker-shutdown': [];
}

/** A celeriac worker. */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly hostname: string;
  /** Queues consumed (remote control can add and cancel them). */
  readonly queues: string[];
  readonly prefetchMultiplier: number;
  readonly logger: Logger;
  readonly pool: Pool;
  readonly rateLimiter: RateLimiter;
  /** Tasks running now, by id. */
  readonly active = new Map<string, ActiveTask>();
  /** Tasks processed, by name. */
  readonly processed = new Map<string, number>();
  /** Tasks received and not finished yet (waiting for an ETA, a pool slot, or running), by id. */
  readonly received = new Map<string, { request: Request; task: Task; receivedAt: number }>();
  /** When the worker started consuming (epoch ms). */
  startedAt = 0;
  private consumer: Consumer | undefined;
  /** Consumers replaced by add/cancel consumer: their held deliveries still settle. */
  private readonly retired: Consumer[] = [];
  private onDeliveryBound = (d: Delivery): void => this.onDelivery(d);
  private readonly etaTimers = new Map<string, { timer: LongTimeout; release(): void }>();
  private drained: Deferred<void> | undefined;
  private stopping: Promise<void> | undefined;
  private cold: Promise<void> | undefined;
  private readonly coldAsked = deferred<void>();
  /** The compressed body being inflated (see {@link inflate}). */
  private inflating: Promise<unknown> = Promise.resolve();
  /** Aborts the wait for the broker at startup when the worker is stopped meanwhile. */
  private readonly startAbort = new AbortController();
  private readonly coldShutdownGrace: number;
  private readonly handleSignals: boolean;
  private removeSignalHandlers: (() => void) | undefined;
  /** Set once a shutdown begins: tasks not started by then are left for the broker. */
  private closing = false;
  private unsubscribeRevoke: (() => void) | undefined;
  private readonly stopped = deferred<void>();
  private readonly execution: ExecutionContext;
  private readonly blockedLoopWarning: number | null;
  private stopLoopWatch: (() => void) | undefined;
  /** The embedded beat service (`-B`), if any. */
  readonly beat: Beat | undefined;
  private readonly mailbox: WorkerMailbox | undefined;
  private readonly events: WorkerEventDispatcher | undefined;
  /** What this worker knows of the others (undefined with `--without-gossip`). */
  readonly gossip: Gossip | undefined;
  private readonly autoscaler: Autoscaler | undefined;
  private readonly maxConcurrency: number | undefined;
  /** Recently finished tasks, to name the one that blocked the loop after it returned. */
  private readonly recentlyFinished: Array<{ active: ActiveTask; finishedAt: number }> = [];

  constructor(
    readonly app: Celeriac,
    options: WorkerOptions = {},
  ) {
    super();
    this.hostname = expandNodeName(options.hostname ?? 'celeriac@%h');
    this.queues = options.queues && options.queues.length > 0 ? [...options.queues] : [app.conf.taskDefaultQueue];
    this.prefetchMultiplier = options.prefetchMultiplier ?? app.conf.workerPrefetchMultiplier;
    this.logger = (options.logger ?? app.logger).child({ component: 'worker' });
    const concurrency = options.autoscale ? options.autoscale.min : (options.concurrency ?? app.conf.workerConcurrency);
    const runner = (task: Task, request: Request): Promise<TraceOutcome> =>
      traceTask(task, request, { app: this.app, logger: this.logger, store: true });
    this.pool = this.makePool(options, concurrency, runner);
    this.rateLimiter = new RateLimiter(app.conf.workerDisableRateLimits);
    this.blockedLoopWarning = options.blockedLoopWarning === undefined ? 2 : options.blockedLoopWarning;
    this.coldShutdownGrace = options.coldShutdownGrace ?? 1;
    this.handleSignals = options.handleSignals ?? true;
    if (options.beat) this.beat = new Beat(app, { logger: this.logger, ...(options.beat === true ? {} : options.beat) });
    const clustered = !app.conf.brokerUrl.startsWith('memory:');
    if (options.remoteControl !== false) {
      this.mailbox = new WorkerMailbox(this, { statedb: options.statedb, mingle: options.mingle ?? clustered });
    }
    const taskEvents = options.sendEvents ?? app.conf.workerSendTaskEvents;
    const heartbeat = options.heartbeat ?? true;
    if (options.gossip ?? clustered) this.gossip = new Gossip(app, this.hostname, this.logger);
    if (taskEvents || heartbeat || this.gossip) this.events = new WorkerEventDispatcher(this, { taskEvents, heartbeat });
    if (options.autoscale) {
      this.maxConcurrency = options.autoscale.max;
      this.autoscaler = new Autoscaler(this.pool, () => this.received.size, this.logger, options.autoscale, () => this.consumer?.setPrefetch(this.prefetch));
    }
    this.execution = {
      app,
      logger: this.logger,
      pool: this.pool,
      rateLimiter: this.rateLimiter,
      closing: () => this.closing,
      onStarted: (request, task) => {
        const id = request.id ?? '';
        this.active.set(id, { request, task, startedAt: Date.now() });
        this.emit('task-started', request);
        // A terminate that arrived after the revoked check but before the pool reported the start
        // (the process pool's window between sending the job and the child's "started") is
        // recorded in the revoked set: acting on it here means none is ever lost.
        const signal = this.app.revoked.terminateSignal(id);
        if (signal) this.terminate(id, signal);
      },
      onDiscarded: (request, reason) => this.emit('task-revoked', request, reason),
      onFinished: (request, task, outcome) => {
        const started = this.active.get(request.id ?? '');
        // Only the blocked-loop warning reads these (to name a task that blocked, then returned).
        if (started && this.blockedLoopWarning !== null) {
          this.recentlyFinished.push({ active: started, finishedAt: Date.now() });
          if (this.recentlyFinished.length > 32) this.recentlyFinished.shift();
        }
        this.active.delete(request.id ?? '');
        this.processed.set(task.name, (this.processed.get(task.name) ?? 0) + 1);
        if (this.active.size === 0 && this.drained) {
          this.drained.resolve();
          this.drained = undefined;
        }
        this.emit('task-finished', request, outcome);
      },
    };
  }

  private makePool(options: WorkerOptions, concurrency: number, runner: TraceRunner): Pool {
    const kind = options.pool ?? 'async';
    if (typeof kind === 'object') return kind;
    if (kind === 'solo') return new SoloPool(runner);
    if (kind === 'async') return new AsyncPool(concurrency, runner);
    if (kind !== 'process' && kind !== 'threads') {
      throw new ImproperlyConfigured(`unknown pool '${String(kind)}' (expected async, solo, process or threads)`);
    }
    if (!options.appModule) {
      throw new ImproperlyConfigured(`the ${kind} pool needs the app's module: pass { appModule: 'path/to/tasks.ts' } (the CLI passes -A)`);
    }
    return new ChildPool({
      kind,
      size: concurrency,
      appSpec: options.appModule,
      app: this.app,
      logger: this.logger,
      logLevel: options.logLevel ?? 'info',
      fair: options.fair ?? false,
      maxTasksPerChild: options.maxTasksPerChild ?? this.app.conf.workerMaxTasksPerChild,
      maxMemoryPerChild: options.maxMemoryPerChild ?? this.app.conf.workerMaxMemoryPerChild,
    });
  }

  /** Tasks at once (the pool's size). */
  get concurrency(): number {
    return this.pool.limit;
  }

  /** The prefetch limit: concurrency × multiplier, plus tasks held for their ETA. */
  get prefetch(): number {
    if (this.prefetchMultiplier === 0) return 0;
    return (this.maxConcurrency ?? this.pool.limit) * this.prefetchMultiplier + this.etaTimers.size;
  }

  /** Connects and starts consuming. Resolves once the worker is consuming. */
  async start(): Promise<void> {
    if (this.handleSignals) this.removeSignalHandlers ??= handleWorkerSignals(this);
    let transport: Transport;
    try {
      transport = await connectOnStartup(this.app, this.logger, this.startAbort.signal);
    } catch (err) {
      if (this.closing) return; // stopped while waiting for the broker
      throw err;
    }
    for (const name of this.queues) await transport.declareQueue(this.queueSpec(name));
    await this.pool.start();
    this.unsubscribeRevoke = this.app.onRevoke((id, opts) => this.onRevoke(id, opts.terminate ?? false, opts.signal));
    this.consumer = await transport.consume(this.queues, this.onDeliveryBound, { prefetch: this.prefetch });
    this.startedAt = Date.now();
    await this.mailbox?.start();
    await this.events?.start();
    await this.gossip?.start();
    this.autoscaler?.start();
    this.beat?.start();
    if (this.blockedLoopWarning !== null) {
      this.stopLoopWatch = watchEventLoop({ thresholdMs: this.blockedLoopWarning * 1000, onBlocked: (ms) => this.onLoopBlocked(ms) });
    }
    this.logger.info(
      `${this.hostname} ready: ${this.pool.kind} pool, concurrency ${this.maxConcurrency !== undefined ? `${this.pool.limit} (autoscale up to ${this.maxConcurrency})` : this.pool.limit}, queues ${this.queues.join(', ')}, ` +
        `broker ${describeUrl(this.app.conf.brokerUrl)}, results ${this.app.conf.resultBackend === null ? 'disabled' : describeUrl(this.app.conf.resultBackend)}, ` +
        `tasks: ${this.app.tasks.userNames().join(', ') || '(none)'}`,
    );
    this.emit('worker-ready');
  }

  /** Resolves when the worker has stopped. */
  get done(): Promise<void> {
    return this.stopped.promise;
  }

  /**
   * Stops the worker. Warm (default): no new tasks, running ones finish, prefetched ones go back
   * to the broker. Cold: running tasks are stopped and everything unacknowledged goes back.
   */
  stop(options: { cold?: boolean } = {}): Promise<void> {
    if (options.cold && !this.cold) {
      this.cold = this.goCold();
      this.coldAsked.resolve();
    }
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** Whether a cold shutdown was asked for. */
  get coldShutdown(): boolean {
    return this.cold !== undefined;
  }

  /** Aborts running tasks, waits `coldShutdownGrace`, then abandons what still runs. */
  private async goCold(): Promise<void> {
    this.closing = true;
    this.logger.warn(`${this.hostname}: cold shutdown (stopping ${this.active.size} running task(s))`);
    for (const id of this.active.keys()) this.pool.abort(id, new TaskRevokedError('worker cold shutdown'));
    if (this.active.size > 0) {
      this.drained ??= deferred<void>();
      await waitAtMost(this.drained.promise, this.coldShutdownGrace * 1000);
    }
    if (this.active.size > 0) {
      const names = [...this.active.values()].map((a) => `${a.task.name}[${a.request.id ?? '?'}]`);
      this.logger.warn(`${this.hostname}: abandoning ${names.length} task(s) still running after ${this.coldShutdownGrace}s: ${names.join(', ')}`);
    }
    await this.pool.terminate();
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.startAbort.abort(new TaskRevokedError('worker stopped'));
    if (!this.cold) this.logger.info(`${this.hostname}: warm shutdown (waiting for ${this.active.size} running tasks)`);
    this.unsubscribeRevoke?.();
    this.stopLoopWatch?.();
    this.autoscaler?.stop();
    await this.gossip?.stop().catch(() => undefined);
    await this.beat?.stop();
    await this.mailbox?.stop().catch((err: unknown) => this.logger.warn(`remote control: ${(err as Error).message}`));
    this.rateLimiter.clear();
    // Tasks waiting for their ETA stay unacknowledged: closing the consumer gives them back.
    for (const { timer, release } of this.etaTimers.values()) {
      timer.clear();
      release();
    }
    this.etaTimers.clear();
    const consumer = this.consumer;
    this.consumer = undefined;
    await consumer?.cancel();
    // A cold shutdown, asked for now or while waiting, ends the wait: it empties the pool, then
    // gives abandoned tasks a moment to record what happened to them.
    if (!this.cold) await Promise.race([this.waitForRunning(), this.coldAsked.promise]);
    if (this.cold) {
      await this.cold;
      await waitAtMost(this.waitForRunning(), 2000);
    }
    if (consumer) {
      // Closing gives unacknowledged messages back; with the broker away it cannot, and the broker
      // restores them by itself later (visibility timeout, connection loss): don't wait forever.
      let closed = false;
      await waitAtMost(consumer.close().then(() => (closed = true), () => (closed = true)), 10_000);
      if (!closed) this.logger.warn(`${this.hostname}: the broker did not answer while closing; unacknowledged messages come back when it restores them`);
    }
    for (const c of this.retired.splice(0)) await c.close();
    await this.pool.close();
    await this.events?.stop().catch(() => undefined);
    this.removeSignalHandlers?.();
    this.emit('worker-shutdown');
    this.stopped.resolve();
  }

  /** Starts consuming one more queue (remote control `add_consumer`). */
  async addQueue(name: string): Promise<void> {
    if (this.queues.includes(name)) return;
    const transport = await this.app.getTransport();
    await transport.declareQueue(this.queueSpec(name));
    this.queues.push(name);
    await this.resubscribe();
  }

  /** How a consumed queue is declared (the one queue-definition rule, see `queueDefinition`). */
  private queueSpec(name: string): QueueSpec {
    return queueSpec(queueDefinition(this.app.conf, name, true));
  }

  /** Stops consuming a queue (remote control `cancel_consumer`); tasks already received finish. */
  async cancelQueue(name: string): Promise<void> {
    const i = this.queues.indexOf(name);
    if (i < 0) return;
    this.queues.splice(i, 1);
    await this.resubscribe();
  }

  private async resubscribe(): Promise<void> {
    if (!this.consumer || this.closing) return;
    const old = this.consumer;
    await old.cancel();
    this.retired.push(old);
    this.consumer = this.queues.length > 0 ? await (await this.app.getTransport()).consume(this.queues, this.onDeliveryBound, { prefetch: this.prefetch }) : undefined;
  }

  /**
   * Changes a task type's rate limit in this worker at once, tasks waiting for a token included
   * (remote control `rate_limit`). Throws RangeError for a rate that does not parse.
   */
  setRateLimit(taskName: string, rate: string | number | null): void {
    this.rateLimiter.set(taskName, rate);
  }

  /** Changes the pool size where the pool allows it (remote control `pool_grow` / `pool_shrink`). */
  resizePool(size: number): void {
    if (!this.pool.resize) {
      this.logger.warn(`the ${this.pool.kind} pool cannot be resized`);
      return;
    }
    this.pool.resize(size);
    this.consumer?.setPrefetch(this.prefetch);
  }

  private onLoopBlocked(ms: number): void {
    const since = Date.now() - ms;
    const label = (a: ActiveTask): string => `${a.task.name}[${a.request.id ?? '?'}]`;
    const running = [...this.recentlyFinished.filter((f) => f.finishedAt >= since).map((f) => label(f.active)), ...[...this.active.values()].map(label)];
    const advice =
      this.pool.kind === 'async' || this.pool.kind === 'solo'
        ? '; CPU-bound tasks belong on the process pool (-P process) or threads pool (-P threads)'
        : '';
    this.logger.warn(
      `event loop blocked for ${(ms / 1000).toFixed(1)}s` +
        (running.length > 0 ? ` while running ${running.join(', ')}` : '') +
        `: other tasks, acks and heartbeats waited${advice}`,
    );
  }

  private async waitForRunning(): Promise<void> {
    if (this.active.size === 0) return;
    this.drained ??= deferred<void>();
    const timeout = this.app.conf.workerShutdownTimeout;
    if (timeout === null) return this.drained.promise;
    await Promise.race([this.drained.promise, new Promise((r) => setTimeout(r, timeout * 1000).unref())]);
  }

  private onRevoke(taskId: string, terminate: boolean, signal: NodeJS.Signals | undefined): void {
    if (this.etaTimers.has(taskId)) this.logger.info(`revoked task ${taskId} is waiting for its ETA: it will not run`);
    if (terminate && this.active.has(taskId)) this.terminate(taskId, signal ?? 'SIGTERM');
  }

  private terminate(taskId: string, signal: NodeJS.Signals): void {
    this.logger.info(`terminating revoked task ${taskId} with ${signal}`);
    this.pool.kill(taskId, new TaskRevokedError('terminated'), signal);
  }

  private onDelivery(delivery: Delivery): void {
    this.handle(delivery).catch((err: unknown) => {
      // handle() deals with every expected failure; reaching here is a bug, never a crash.
      this.logger.error({ err }, `internal error handling message ${delivery.deliveryTag}`);
      return delivery.reject(false).catch(() => undefined);
    });
  }

  /**
   * Inflates compressed bodies one at a time: each may take up to `messageMaxBytes` while it runs,
   * so a prefetch window of compression bombs costs one limit of memory, not window × limit.
   */
  private inflate(message: TransportMessage, codecs: Codecs): Promise<Buffer | undefined> {
    const run = this.inflating.then(() => inflateBody(message, codecs));
    this.inflating = run.catch(() => undefined);
    return run;
  }

  private async handle(delivery: Delivery): Promise<void> {
    let decoded: DecodedTask;
    try {
      const codecs = this.app.codecs;
      // Only compressed bodies pay for the trip to the thread pool.
      const plain = delivery.message.headers['compression'] ? await this.inflate(delivery.message, codecs) : undefined;
      decoded = decodeTaskMessage(delivery.message, codecs, plain);
    } catch (err) {
      const refused = err instanceof ContentDisallowed || err instanceof SecurityError;
      const what = refused ? 'refused' : err instanceof MessageTooLarge ? 'oversized' : "can't decode";
      await this.refuse(delivery, err as Error, `${what} message (delivery tag ${delivery.deliveryTag}, queue ${delivery.queue}): ${(err as Error).message}`, refused);
      return;
    }
    const task = this.app.tasks.get(decoded.task);
    if (!task) {
      const err = new NotRegistered(decoded.task);
      // Its sender may wait on rpc://: tell it, as Celery's worker does.
      const replyTo = decoded.properties.reply_to;
      await storeFinal(this.app, undefined, decoded.id, States.FAILURE, err, this.logger, { replyTo: replyTo ?? null, correlationId: decoded.id });
      await this.refuse(
        delivery,
        err,
        `Received unregistered task of type '${decoded.task}' (id ${decoded.id}). ` +
          `Did you forget to register it in the app the worker loads? Registered: ${this.app.tasks.userNames().join(', ') || '(none)'}`,
      );
      return;
    }
    const request = requestFromMessage(decoded, delivery, this.hostname, NEVER_ABORTED);
    if (levelEnabled(this.logger, 'info')) this.logger.info(`Task ${task.name}[${decoded.id}] received`);
    this.emit('task-received', request);
    this.received.set(decoded.id, { request, task, receivedAt: Date.now() });
    try {
      if (decoded.eta && decoded.eta.getTime() > Date.now()) await this.waitForEta(decoded.id, decoded.eta);
      if (this.closing) return;
      await executeTask(this.execution, delivery, task, request);
    } finally {
      this.received.delete(decoded.id);
    }
  }

  /**
   * Rejects a message that will never run (dropped, or dead-lettered where the queue has a
   * dead-letter exchange) with one log line giving the reason; the stack only at debug level.
   */
  private async refuse(delivery: Delivery, err: Error, line: string, refusal = false): Promise<void> {
    // A refusal (content type, signature) is a verdict on the sender, not a fault here: no stack.
    this.logger.error(`${logSafe(line)}; message rejected${refusal ? ', not run' : ''}`);
    if (!refusal && levelEnabled(this.logger, 'debug')) this.logger.debug({ err }, `why message ${logSafe(delivery.deliveryTag)} was rejected`);
    this.emit('task-rejected', err, delivery);
    await delivery.reject(false);
  }

  /** Holds a task until its ETA, raising the prefetch limit meanwhile so others keep flowing. */
  private waitForEta(id: string, eta: Date): Promise<void> {
    return new Promise<void>((resolve) => {
      // Chained past Node's 2^31-1 ms timer limit: an ETA months ahead waits that long.
      const timer = setLongTimeout(() => {
        this.etaTimers.delete(id);
        this.consumer?.setPrefetch(this.prefetch);
        resolve();
      }, eta.getTime() - Date.now());
      this.etaTimers.set(id, { timer, release: resolve });
      this.consumer?.setPrefetch(this.prefetch);
    });
  }
}
