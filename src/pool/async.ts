/**
 * The async pool (default): up to `limit` task executions at once on the event loop. Suited to
 * I/O-bound tasks; CPU-bound code blocks the loop and belongs in the process pool.
 */
import { deferred, type Deferred } from '../utils/deferred.js';
import type { Pool } from './port.js';

/** Runs jobs concurrently on the event loop, `limit` at a time, in arrival order. */
export class AsyncPool implements Pool {
  readonly kind: string = 'async';
  private running = 0;
  private readonly queue: Array<() => void> = [];
  private idle: Deferred<void> | undefined;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`pool size must be a positive integer, got ${limit}`);
  }

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }

  run<T>(job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.running++;
        let promise: Promise<T>;
        try {
          promise = job();
        } catch (err) {
          promise = Promise.reject(err);
        }
        promise.then(resolve, reject).finally(() => {
          this.running--;
          const next = this.queue.shift();
          if (next) next();
          else if (this.running === 0 && this.idle) {
            this.idle.resolve();
            this.idle = undefined;
          }
        });
      };
      if (this.running < this.limit) start();
      else this.queue.push(start);
    });
  }

  join(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    this.idle ??= deferred<void>();
    return this.idle.promise;
  }
}

/** The solo pool: one execution at a time. */
export class SoloPool extends AsyncPool {
  override readonly kind = 'solo';
  constructor() {
    super(1);
  }
}
