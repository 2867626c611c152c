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

  /** Drops waiters (worker shutdown). */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.waiters.length = 0;
  }
}

/** The buckets of one worker, by task name; changeable at run time (remote control `rate_limit`). */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket | null>();

  constructor(private readonly disabled: boolean) {}

  /** Sets (or, with null, removes) a task type's limit. */
  set(taskName: string, rate: string | number | null): void {
    const perSecond = parseRate(rate);
    this.buckets.get(taskName)?.clear();
    this.buckets.set(taskName, perSecond === null ? null : new TokenBucket(perSecond));
  }

  /**
   * Takes a token of the task type (configured on first use from `rate`): a promise to wait for
   * when the type has a limit, undefined when it has none.
   */
  acquire(taskName: string, rate: string | number | null | undefined): Promise<void> | undefined {
    if (this.disabled) return undefined;
    if (!this.buckets.has(taskName)) this.set(taskName, rate ?? null);
    return this.buckets.get(taskName)?.take();
  }

  clear(): void {
    for (const b of this.buckets.values()) b?.clear();
  }
}
