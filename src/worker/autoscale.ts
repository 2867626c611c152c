/**
 * Celery's autoscaler (`--autoscale=max,min`): grows the pool at once when more tasks are waiting
 * than it has slots (up to `max`), and shrinks it back toward `min` once the load has stayed lower
 * for `keepalive` seconds since the last change.
 */
import type { Logger } from '../logging/logger.js';
import type { Pool } from '../pool/port.js';

/** Options of an {@link Autoscaler}. */
export interface AutoscaleOptions {
  max: number;
  min: number;
  /** Seconds after a change before the pool may shrink. @defaultValue 30 */
  keepalive?: number;
  /** Milliseconds between checks. @defaultValue 1000 */
  intervalMs?: number;
}

/** Resizes a pool with the load. */
export class Autoscaler {
  private timer: NodeJS.Timeout | undefined;
  private lastChange = Date.now();
  private readonly keepaliveMs: number;

  /**
   * @param load tasks the worker holds (waiting or running)
   * @param onResize called after each change (the worker adjusts its prefetch)
   */
  constructor(
    private readonly pool: Pool,
    private readonly load: () => number,
    private readonly logger: Logger,
    private readonly options: AutoscaleOptions,
    private readonly onResize: () => void = () => undefined,
  ) {
    if (!pool.resize) throw new RangeError(`the ${pool.kind} pool cannot be autoscaled`);
    this.keepaliveMs = (options.keepalive ?? 30) * 1000;
  }

  start(): void {
    this.timer = setInterval(() => this.check(), this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One decision; returns the pool size after it. */
  check(now = Date.now()): number {
    const { max, min } = this.options;
    const current = this.pool.limit;
    const wanted = Math.max(min, Math.min(max, this.load()));
    if (wanted > current) this.scale(wanted, 'grow', now);
    else if (wanted < current && now - this.lastChange >= this.keepaliveMs) this.scale(wanted, 'shrink', now);
    return this.pool.limit;
  }

  private scale(size: number, how: 'grow' | 'shrink', now: number): void {
    const from = this.pool.limit;
    this.pool.resize?.(size);
    this.lastChange = now;
    this.logger.info(`autoscaler: ${how} pool from ${from} to ${size}`);
    this.onResize();
  }
}
