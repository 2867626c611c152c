/**
 * Timers for any delay. Node's `setTimeout` takes at most 2^31-1 ms (about 24.8 days) and runs a
 * longer delay after 1 ms instead (with a warning), so a 30-day time limit would fire at once and
 * an ETA a month ahead would run now. A long delay here is a chain of maximal timers, never cut.
 */

/** The longest delay Node's own timers honour, in milliseconds. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A pending {@link setLongTimeout}; `clear()` is idempotent. */
export class LongTimeout {
  private timer: NodeJS.Timeout | undefined;
  private left: number;
  private cleared = false;

  /** @internal Use {@link setLongTimeout}. */
  constructor(
    private readonly fn: () => void,
    ms: number,
    private readonly ref: boolean,
  ) {
    // NaN or negative: as soon as possible, as setTimeout does.
    this.left = Number.isFinite(ms) || ms === Infinity ? Math.max(0, ms) : 0;
    this.arm();
  }

  private arm(): void {
    if (this.left === Infinity) return; // never fires: nothing to hold the event loop for
    const step = Math.min(this.left, MAX_TIMER_MS);
    this.left -= step;
    this.timer = setTimeout(() => {
      if (this.cleared) return;
      if (this.left > 0) this.arm();
      else this.fn();
    }, step);
    if (!this.ref) this.timer.unref();
  }

  /** Cancels the timer; the callback will not run. */
  clear(): void {
    this.cleared = true;
    clearTimeout(this.timer);
  }
}

/**
 * Runs `fn` after `ms` milliseconds, however long that is (`Infinity`: never). `ref: false` lets
 * the process exit while it waits, like `timer.unref()`.
 */
export function setLongTimeout(fn: () => void, ms: number, options: { ref?: boolean } = {}): LongTimeout {
  return new LongTimeout(fn, ms, options.ref ?? true);
}
