/**
 * Rate limits per task type per worker (Celery's `rate_limit`): a token bucket. Tasks over the
 * rate wait in the worker until a token is free; they are never rejected.
 */

/** Parses `'100/m'`, `'10/s'`, `'2/h'` or a number (per second) into tasks per second; null = none. */
export function parseRate(rate: string | number | null | undefined): number | null {
  if (rate === null || rate === undefined || rate === '' || rate === 0 || rate === '0') return null;
  if (typeof rate === 'number') {
    if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate limit must be a positive number, got ${rate}`);
    return rate;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*([smh]))?\s*$/.exec(rate);
  if (!m) throw new RangeError(`bad rate limit '${rate}': expected a number, or N/s, N/m, N/h`);
  const n = Number(m[1]);
  if (n === 0) return null;
  const per = m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1;
  return n / per;
}

/** A token bucket: `rate` tokens per second, holding at most `capacity`. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly waiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly rate: number,
    readonly capacity = 1,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }

  /** Takes a token now if one is free. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens >= 1 && this.waiters.length === 0) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Milliseconds until the next token. */
  private wait(): number {
    return Math.max(0, ((1 - this.tokens) / this.rate) * 1000);
  }

  /** Resolves when a token has been taken (first come, first served). */
  take(): Promise<void> {
    if (this.tryTake()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      this.pump();
    });
  }

  private pump(): void {
    if (this.timer) return;
    this.refill();
    while (this.waiters.length > 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.waiters.shift()!();
    }
    if (this.waiters.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(1, Math.ceil(this.wait())));
  }

  /** Removes the waiters, first come first, to hand them to another bucket (a rate change). */
  detachWaiters(): Array<() => void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return this.waiters.splice(0);
  }

  /** Drops waiters (worker shutdown). */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.waiters.length = 0;
  }
}

/** The buckets of one worker, by task name; changeable at run time (remote control `rate_limit`). */
export class RateLimiter {
  /** Each task type's bucket (null: no limit) and the rate it was made from. */
  private readonly buckets = new Map<string, { rate: string | number | null; bucket: TokenBucket | null }>();

  constructor(private readonly disabled: boolean) {}

  /**
   * Sets (or, with null, removes) a task type's limit. Tasks waiting for a token follow the change
   * in their order: they wait at the new rate, or go at once when the limit is removed. Throws
   * RangeError for a rate that does not parse (nothing changes then).
   */
  set(taskName: string, rate: string | number | null): void {
    const perSecond = parseRate(rate);
    const bucket = perSecond === null ? null : new TokenBucket(perSecond);
    const waiters = this.buckets.get(taskName)?.bucket?.detachWaiters() ?? [];
    this.buckets.set(taskName, { rate, bucket });
    for (const release of waiters) {
      if (bucket) void bucket.take().then(release);
      else release();
    }
  }

  /**
   * Takes a token of the task type at `rate`, the type's current limit: a promise to wait for when
   * the type has a limit, undefined when it has none. A rate different from the bucket's (changed
   * at run time) replaces the bucket first.
   */
  acquire(taskName: string, rate: string | number | null | undefined): Promise<void> | undefined {
    if (this.disabled) return undefined;
    const wanted = rate ?? null;
    let entry = this.buckets.get(taskName);
    if (!entry || entry.rate !== wanted) {
      this.set(taskName, wanted);
      entry = this.buckets.get(taskName)!;
    }
    return entry.bucket?.take();
  }

  clear(): void {
    for (const b of this.buckets.values()) b.bucket?.clear();
  }
}
