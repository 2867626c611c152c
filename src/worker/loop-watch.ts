/**
 * Blocked event loop detection. On the async pool every task shares the worker's event loop, so a
 * CPU-bound task stops everything else in the process: other tasks, acks, heartbeats, and the
 * worker's own timers. (Broker leases are renewed from a separate thread, so a blocked loop does
 * not cause redelivery; see src/broker/lease/keeper.ts.) The watch ticks on a timer; a tick that
 * arrives much later than scheduled means the loop was blocked, and the worker logs which tasks
 * were running and suggests the process pool.
 */

/** Options of {@link watchEventLoop}. */
export interface LoopWatchOptions {
  /** Milliseconds between ticks. @defaultValue 250 */
  tickMs?: number;
  /** A delay past which the loop counts as blocked. */
  thresholdMs: number;
  /** Called after a blocked period ends, with how long it lasted. */
  onBlocked(blockedMs: number): void;
}

/** Starts watching; returns a function that stops it. */
export function watchEventLoop(options: LoopWatchOptions): () => void {
  const tick = options.tickMs ?? 250;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - last - tick;
    last = now;
    if (late >= options.thresholdMs) options.onBlocked(late);
  }, tick);
  timer.unref();
  return () => clearInterval(timer);
}
