/**
 * The async pool (default): up to `limit` executions at once on the worker's event loop, for
 * I/O-bound tasks. The limit bounds the tasks' own code: once a task's code has returned and only
 * its result is being written, its slot goes to the next task (at most `limit` runs at a time are
 * in that state; past that a finishing run keeps its slot), so the backend's round trip does not
 * leave the pool idle. A job stopped by force (hard time limit, revoke with terminate) is abandoned:
 * its signal aborts and its slot is freed, but JavaScript cannot stop code that ignores the
 * signal; use the process pool where a hard stop must be real. CPU-bound code blocks the loop and
 * belongs in the process or threads pool too.
 */
import { WorkerLostError } from '../errors/index.js';
import type { Request } from '../task/request.js';
import { deferred, type Deferred } from '../utils/deferred.js';
import type { JobResult, Pool, PoolJob, TraceRunner } from './port.js';

/**
 * A counting semaphore handing out slots in arrival order. A holder may lend its slot out while
 * it finishes (see {@link Slots.lend}); `join()` waits for lent slots to come back too.
 */
export class Slots {
  private used = 0;
  private lent = 0;
  private readonly queue: Array<() => void> = [];
  private idle: Deferred<void> | undefined;

  constructor(private size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`pool size must be a positive integer, got ${size}`);
  }

  get limit(): number {
    return this.size;
  }

  /** Changes the number of slots; growing hands new slots to waiters at once. */
  resize(size: number): void {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`pool size must be a positive integer, got ${size}`);
    this.size = size;
    while (this.used < this.size && this.queue.length > 0) this.queue.shift()!();
  }

  get active(): number {
    return this.used;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Takes a slot if one is free now. */
  tryAcquire(): boolean {
    if (this.used >= this.size) return false;
    this.used++;
    return true;
  }

  /** Resolves when a slot is taken. */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((resolve) => this.queue.push(() => {
      this.used++;
      resolve();
    }));
  }

  release(): void {
    this.used--;
    const next = this.used < this.size ? this.queue.shift() : undefined;
    if (next) next();
    else this.checkIdle();
  }

  /**
   * Frees a held slot for the next waiter while its holder finishes, if fewer than `limit` slots
   * are lent out already; the holder ends with {@link Slots.returnLent} instead of `release()`.
   */
  lend(): boolean {
    if (this.lent >= this.size) return false;
    this.lent++;
    this.release();
    return true;
  }

  /** The end of a holder whose slot was lent out. */
  returnLent(): void {
    this.lent--;
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.used === 0 && this.lent === 0 && this.idle) {
      this.idle.resolve();
      this.idle = undefined;
    }
  }

  /** Resolves when no slot is used or lent and nobody waits. */
  join(): Promise<void> {
    if (this.used === 0 && this.lent === 0 && this.queue.length === 0) return Promise.resolve();
    this.idle ??= deferred<void>();
    return this.idle.promise;
  }
}

interface Running {
  request: Request;
  /** The job's abort controller, made when first needed (most tasks never look at their signal). */
  controller: AbortController | undefined;
  /** Ends the job's `run()` as killed. */
  kill(result: JobResult): void;
}

/** The result of a run that failed outside the trace (which never throws). */
function lost(err: unknown): JobResult {
  return { kind: 'lost', reason: err instanceof Error ? err : new Error(String(err)) };
}

/** The job's abort controller, made on first use. */
function controllerOf(r: Running): AbortController {
  return (r.controller ??= new AbortController());
}

/** Runs jobs on the event loop, `limit` at a time. */
export class AsyncPool implements Pool {
  readonly kind: string = 'async';
  private readonly slots: Slots;
  private readonly running = new Map<string, Running>();

  /** @param lendSlots free a run's slot once its task's code returned (see the file header). */
  constructor(
    limit: number,
    private readonly runner: TraceRunner,
    private readonly lendSlots = true,
  ) {
    this.slots = new Slots(limit);
  }

  get limit(): number {
    return this.slots.limit;
  }

  /** Grows or shrinks the pool (remote control `pool_grow` / `pool_shrink`). */
  resize(size: number): void {
    this.slots.resize(size);
  }

  /** Runs holding a slot (a finishing run whose slot was lent out is not counted). */
  get active(): number {
    return this.slots.active;
  }

  get waiting(): number {
    return this.slots.waiting;
  }

  async start(): Promise<void> {}

  run(job: PoolJob): Promise<JobResult> {
    // A free slot is taken without waiting for a promise job: most jobs find one.
    if (this.slots.tryAcquire()) return this.runInSlot(job);
    return this.slots.acquire().then(() => this.runInSlot(job));
  }

  /** Runs a job that holds a slot; the slot is freed when the job ends (or is killed). */
  private runInSlot(job: PoolJob): Promise<JobResult> {
    const id = job.request.id ?? '';
    let accepted: boolean;
    try {
      accepted = job.accept();
    } catch (err) {
      this.slots.release();
      return Promise.reject(err as Error);
    }
    if (!accepted) {
      this.slots.release();
      return Promise.resolve({ kind: 'skipped' });
    }
    return new Promise<JobResult>((resolve) => {
      let ended = false;
      let lent = false;
      const end = (result: JobResult): void => {
        if (ended) return;
        ended = true;
        this.running.delete(id);
        if (lent) this.slots.returnLent();
        else this.slots.release();
        resolve(result);
      };
      const entry: Running = { request: job.request, controller: undefined, kill: end };
      job.request.lazySignal(() => controllerOf(entry).signal);
      if (this.lendSlots) job.request.whenBodyReturns(() => (lent = !ended && this.slots.lend()));
      this.running.set(id, entry);
      try {
        job.started();
        this.runner(job.task, job.request).then(
          (outcome) => end({ kind: 'done', outcome }),
          (err: unknown) => end(lost(err)),
        );
      } catch (err) {
        end(lost(err));
      }
    });
  }

  abort(taskId: string, reason: Error): void {
    const r = this.running.get(taskId);
    const c = r && controllerOf(r);
    if (c && !c.signal.aborted) c.abort(reason);
  }

  kill(taskId: string, reason: Error): void {
    const r = this.running.get(taskId);
    if (!r) return;
    r.request.abandoned = true; // whatever the run does later is not recorded
    const c = controllerOf(r);
    if (!c.signal.aborted) c.abort(reason);
    r.kill({ kind: 'killed', reason });
  }

  join(): Promise<void> {
    return this.slots.join();
  }

  async close(): Promise<void> {}

  async terminate(): Promise<void> {
    const reason = new WorkerLostError('worker cold shutdown');
    for (const r of [...this.running.values()]) {
      r.request.abandoned = true;
      const c = controllerOf(r);
      if (!c.signal.aborted) c.abort(reason);
      r.kill({ kind: 'abandoned' });
    }
  }
}

/** The solo pool: one execution at a time. */
export class SoloPool extends AsyncPool {
  override readonly kind = 'solo';
  constructor(runner: TraceRunner) {
    super(1, runner, false);
  }
}
