/**
 * Pools of children: `process` (forked Node processes, Celery's prefork) and `threads`
 * (worker_threads). Each child loads the app module once and runs executions one at a time, so
 * CPU-bound tasks never stall the worker's event loop, and a hard stop is real: the child is
 * killed (or the thread terminated) and replaced.
 *
 * Scheduling: by default a child may hold one queued execution besides the running one (Celery's
 * default); with `fair` (`-O fair`) a child gets work only when it is free. A child that dies
 * mid-task turns that execution into a `lost` result (WorkerLostError); executions queued in it
 * go to another child. `maxTasksPerChild` and `maxMemoryPerChild` (KiB) recycle children.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Worker as Thread } from 'node:worker_threads';
import type { Celeriac } from '../../app/celeriac.js';
import { CELERIAC_ERROR_CLASSES, CELERY_ERROR_CLASSES, ImproperlyConfigured, WorkerLostError } from '../../errors/index.js';
import type { Logger } from '../../logging/logger.js';
import type { TransportMessage } from '../../protocol/message.js';
import { deferred, type Deferred } from '../../utils/deferred.js';
import { FROM_SOURCE, startModuleThread } from '../../utils/threads.js';
import type { JobResult, Pool, PoolJob } from '../port.js';
import { toWireError, type FromChild, type ToChild, type WireError } from './messages.js';

/** Options of a {@link ChildPool}. */
export interface ChildPoolOptions {
  kind: 'process' | 'threads';
  size: number;
  /** The app module the children load, `path[:export]`. */
  appSpec: string;
  /** The worker's app: its settings go to the children, and it serves memory:// for them. */
  app: Celeriac;
  logger: Logger;
  /** Log level of the children. @defaultValue `'info'` */
  logLevel?: string;
  /** Give a child work only when it is free. @defaultValue false */
  fair?: boolean;
  /** Replace a child after this many tasks. @defaultValue null (never) */
  maxTasksPerChild?: number | null;
  /** Replace a child whose resident memory exceeds this many KiB after a task. @defaultValue null */
  maxMemoryPerChild?: number | null;
}

interface Job {
  id: number;
  job: PoolJob;
  taskId: string;
  result: Deferred<JobResult>;
  accepted: boolean;
  started: boolean;
}

interface Handle {
  pid: number | undefined;
  send(msg: ToChild): void;
  kill(signal: NodeJS.Signals): void;
}

interface Child {
  index: number;
  handle: Handle;
  ready: Deferred<void>;
  isReady: boolean;
  jobs: Job[];
  done: number;
  /** Executions given to this child so far. */
  assigned: number;
  retiring: boolean;
  exited: boolean;
  killReason: Error | null;
}

function fromWire(e: WireError | null): Error | null {
  if (!e) return null;
  const Cls = CELERY_ERROR_CLASSES.get(e.name) ?? CELERIAC_ERROR_CLASSES.get(e.name);
  const err = Cls ? new Cls(e.message) : new Error(e.message);
  if (!Cls) err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

const ENTRY = new URL(FROM_SOURCE ? './main.ts' : './main.js', import.meta.url);
const EXEC_ARGV = FROM_SOURCE ? ['--import', 'tsx'] : [];

/** Starts a thread on the child entry. */
function startThread(): Thread {
  return startModuleThread(ENTRY);
}

/** A pool of child processes or threads. */
export class ChildPool implements Pool {
  readonly kind: string;
  private size: number;
  private readonly children: Child[] = [];
  private readonly queue: Job[] = [];
  private seq = 0;
  private closing = false;
  private idle: Deferred<void> | undefined;

  constructor(private readonly options: ChildPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError(`pool size must be a positive integer, got ${options.size}`);
    this.kind = options.kind;
    this.size = options.size;
  }

  /** Children the pool keeps (changed by {@link resize}). */
  get limit(): number {
    return this.size;
  }

  /**
   * Grows or shrinks the pool (`--autoscale`, remote control `pool_grow` / `pool_shrink`). New
   * children start at once; children beyond `size` finish what they hold, then exit, idle ones first.
   */
  resize(size: number): void {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`pool size must be a positive integer, got ${size}`);
    this.size = size;
    if (this.closing) return;
    const live = this.children.filter((c) => !c.retiring && !c.exited);
    if (live.length < size) {
      let next = Math.max(0, ...this.children.map((c) => c.index));
      for (let i = live.length; i < size; i++) this.spawn(++next);
    } else {
      const extra = [...live].sort((a, b) => a.jobs.length - b.jobs.length).slice(0, live.length - size);
      for (const child of extra) {
        child.retiring = true;
        this.shutdownWhenIdle(child);
      }
    }
    this.dispatch();
  }

  /** Asks `child` to exit once it holds no job. */
  private shutdownWhenIdle(child: Child): void {
    if (child.jobs.length === 0) {
      child.handle.send({ type: 'shutdown' });
      return;
    }
    const waitIdle = setInterval(() => {
      if (child.jobs.length === 0 || child.exited) {
        clearInterval(waitIdle);
        if (!child.exited) child.handle.send({ type: 'shutdown' });
      }
    }, 10);
  }

  get active(): number {
    return this.children.reduce((n, c) => n + c.jobs.filter((j) => j.started).length, 0);
  }

  get waiting(): number {
    return this.queue.length + this.children.reduce((n, c) => n + c.jobs.filter((j) => !j.started).length, 0);
  }

  /** Process ids of the children (thread pools report the worker's own pid). */
  get pids(): number[] {
    return this.children.map((c) => c.handle.pid ?? process.pid);
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.limit; i++) this.spawn(i + 1);
    await Promise.all(this.children.map((c) => c.ready.promise));
  }

  private spawn(index: number): Child {
    const child: Child = {
      index,
      handle: undefined as unknown as Handle,
      ready: deferred<void>(),
      isReady: false,
      jobs: [],
      done: 0,
      assigned: 0,
      retiring: false,
      exited: false,
      killReason: null,
    };
    child.ready.promise.catch(() => undefined);
    const onMessage = (msg: FromChild): void => this.onMessage(child, msg);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => this.onExit(child, code, signal);
    if (this.options.kind === 'process') {
      const proc: ChildProcess = fork(ENTRY, [], { serialization: 'advanced', execArgv: EXEC_ARGV, stdio: 'inherit' });
      proc.on('message', (m) => onMessage(m as FromChild));
      proc.on('exit', onExit);
      proc.on('error', (err) => this.options.logger.error({ err }, `pool child ${index} error`));
      child.handle = {
        pid: proc.pid,
        send: (msg) => {
          if (proc.connected) proc.send(msg);
        },
        kill: (signal) => proc.kill(signal),
      };
    } else {
      const thread = startThread();
      thread.on('message', onMessage);
      thread.on('exit', (code) => onExit(code, null));
      thread.on('error', (err) => this.options.logger.error({ err }, `pool thread ${index} crashed`));
      child.handle = {
        pid: undefined,
        send: (msg) => thread.postMessage(msg),
        kill: () => void thread.terminate(),
      };
    }
    const { app } = this.options;
    child.handle.send({
      type: 'init',
      appSpec: this.options.appSpec,
      brokerUrl: app.conf.brokerUrl,
      resultBackend: app.conf.resultBackend,
      logLevel: this.options.logLevel ?? 'info',
      name: `${this.options.kind === 'process' ? 'ForkPoolWorker' : 'ThreadPoolWorker'}-${index}`,
    });
    this.children.push(child);
    return child;
  }

  run(job: PoolJob): Promise<JobResult> {
    const entry: Job = { id: ++this.seq, job, taskId: job.request.id ?? '', result: deferred<JobResult>(), accepted: false, started: false };
    this.queue.push(entry);
    this.dispatch();
    return entry.result.promise;
  }

  private dispatch(): void {
    const perChild = this.options.fair ? 1 : 2;
    const maxTasks = this.options.maxTasksPerChild ?? Infinity;
    while (this.queue.length > 0) {
      const free = this.children
        .filter((c) => c.isReady && !c.retiring && !c.killReason && !c.exited && c.jobs.length < perChild && c.assigned < maxTasks)
        .sort((a, b) => a.jobs.length - b.jobs.length)[0];
      if (!free) return;
      const entry = this.queue.shift()!;
      free.jobs.push(entry);
      free.assigned++;
      void this.assign(free, entry);
    }
  }

  private async assign(child: Child, entry: Job): Promise<void> {
    if (!entry.accepted) {
      let ok = false;
      try {
        ok = entry.job.accept();
      } catch (err) {
        this.options.logger.error({ err }, `could not accept task ${entry.taskId}`);
      }
      if (!ok) {
        this.remove(child, entry);
        entry.result.resolve({ kind: 'skipped' });
        this.dispatch();
        return;
      }
      entry.accepted = true;
    }
    if (child.exited) return; // onExit has put it back in the queue
    const { signal: _signal, ...request } = entry.job.request;
    child.handle.send({ type: 'run', job: entry.id, task: entry.job.task.name, request: { ...request } });
  }

  private remove(child: Child, entry: Job): void {
    child.jobs = child.jobs.filter((j) => j !== entry);
    this.checkIdle();
  }

  private onMessage(child: Child, msg: FromChild): void {
    switch (msg.type) {
      case 'ready':
        child.isReady = true;
        child.handle.pid = msg.pid;
        child.ready.resolve();
        this.dispatch();
        break;
      case 'init-failed': {
        const err = new ImproperlyConfigured(`pool child could not load the app '${this.options.appSpec}': ${msg.error.message}`);
        child.ready.reject(err);
        child.retiring = true;
        child.handle.kill('SIGKILL');
        break;
      }
      case 'started': {
        const entry = child.jobs.find((j) => j.id === msg.job);
        if (entry) {
          entry.started = true;
          entry.job.started();
        }
        break;
      }
      case 'done': {
        const entry = child.jobs.find((j) => j.id === msg.job);
        if (!entry) break;
        this.remove(child, entry);
        child.done++;
        const error = fromWire(msg.outcome.error);
        entry.result.resolve({
          kind: 'done',
          outcome: { state: msg.outcome.state, retval: error, error, requeue: msg.outcome.requeue, runtime: msg.outcome.runtime },
        });
        const { maxTasksPerChild, maxMemoryPerChild } = this.options;
        if (maxTasksPerChild && child.done >= maxTasksPerChild) this.retire(child, `${child.done} tasks done`);
        else if (maxMemoryPerChild && msg.rss > maxMemoryPerChild * 1024) this.retire(child, `memory ${Math.round(msg.rss / 1024)} KiB`);
        this.dispatch();
        break;
      }
      case 'rpc':
        void this.serveRpc(child, msg);
        break;
    }
  }

  private async serveRpc(child: Child, msg: Extract<FromChild, { type: 'rpc' }>): Promise<void> {
    try {
      const { app } = this.options;
      const target = (
        msg.target === 'transport' ? await app.getTransport() : msg.target === 'chords' ? (await app.getBackend()).chords : await app.getBackend()
      ) as unknown as Record<
        string,
        (...args: unknown[]) => Promise<unknown>
      >;
      const method = target?.[msg.method];
      if (typeof method !== 'function') throw new ImproperlyConfigured(`no ${msg.target} method '${msg.method}'`);
      const args = msg.args;
      if (msg.target === 'transport' && msg.method === 'publish') {
        const m = args[0] as TransportMessage;
        args[0] = { ...m, body: Buffer.from(m.body) };
      }
      const value = await method.apply(target, args);
      child.handle.send({ type: 'rpc-result', id: msg.id, ok: true, value });
    } catch (err) {
      child.handle.send({ type: 'rpc-result', id: msg.id, ok: false, error: toWireError(err) });
    }
  }

  private retire(child: Child, why: string): void {
    if (child.retiring || this.closing) return;
    child.retiring = true;
    this.options.logger.info(`replacing pool child ${child.index} (${why})`);
    this.spawn(child.index);
    this.shutdownWhenIdle(child);
  }

  private onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    child.exited = true;
    const i = this.children.indexOf(child);
    if (i >= 0) this.children.splice(i, 1);
    child.ready.reject(new ImproperlyConfigured(`pool child ${child.index} exited before it was ready (code ${code}, signal ${signal})`));
    const requeue: Job[] = [];
    for (const entry of child.jobs) {
      if (entry.started) {
        if (child.killReason) entry.result.resolve({ kind: 'killed', reason: child.killReason });
        else {
          const how = signal ? `signal ${signal}` : `exitcode ${code}`;
          this.options.logger.error(`pool child ${child.index} (pid ${child.handle.pid}) exited prematurely: ${how}`);
          entry.result.resolve({ kind: 'lost', reason: new WorkerLostError(`Worker exited prematurely: ${how}.`) });
        }
      } else requeue.push(entry);
    }
    child.jobs = [];
    this.queue.unshift(...requeue);
    if (!this.closing && !child.retiring) this.spawn(child.index);
    this.checkIdle();
    this.dispatch();
  }

  private runningChild(taskId: string): { child: Child; entry: Job } | undefined {
    for (const child of this.children) {
      const entry = child.jobs.find((j) => j.taskId === taskId);
      if (entry) return { child, entry };
    }
    return undefined;
  }

  abort(taskId: string, reason: Error): void {
    const found = this.runningChild(taskId);
    if (found?.entry.started) found.child.handle.send({ type: 'abort', taskId, reason: toWireError(reason) });
  }

  kill(taskId: string, reason: Error, signal: NodeJS.Signals = 'SIGTERM'): void {
    const found = this.runningChild(taskId);
    if (!found) return;
    const { child, entry } = found;
    if (!entry.started) {
      // Still queued in the child: it will never run it (the child is replaced).
      this.remove(child, entry);
      entry.result.resolve({ kind: 'killed', reason });
    }
    child.killReason = reason;
    child.handle.kill(signal);
  }

  private checkIdle(): void {
    if (this.idle && this.queue.length === 0 && this.children.every((c) => c.jobs.length === 0)) {
      this.idle.resolve();
      this.idle = undefined;
    }
  }

  join(): Promise<void> {
    if (this.queue.length === 0 && this.children.every((c) => c.jobs.length === 0)) return Promise.resolve();
    this.idle ??= deferred<void>();
    return this.idle.promise;
  }

  async terminate(): Promise<void> {
    this.closing = true;
    for (const entry of this.queue.splice(0)) entry.result.resolve({ kind: 'skipped' });
    const exits: Array<Promise<void>> = [];
    for (const child of [...this.children]) {
      const jobs = child.jobs;
      child.jobs = [];
      for (const entry of jobs) entry.result.resolve(entry.accepted ? { kind: 'abandoned' } : { kind: 'skipped' });
      if (child.exited) continue;
      exits.push(this.exited(child, 2000));
      child.handle.kill('SIGKILL');
    }
    await Promise.all(exits);
    this.checkIdle();
  }

  /** Resolves when `child` has exited, or after `ms` (`Infinity`: only when it has exited). */
  private exited(child: Child, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const started = Date.now();
      const check = setInterval(() => {
        if (child.exited || Date.now() - started > ms) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const entry of this.queue.splice(0)) entry.result.resolve({ kind: 'skipped' });
    const exits = this.children.map(async (c) => {
      if (c.exited) return;
      c.handle.send({ type: 'shutdown' });
      await this.exited(c, 5000);
      if (c.exited) return;
      c.handle.kill('SIGKILL');
      await this.exited(c, Infinity);
    });
    await Promise.all(exits);
  }
}
