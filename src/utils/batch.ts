/**
 * Collects the items added while one callback and its promise jobs run, and hands them to a write
 * function together: many tasks finishing in the same turn cost one Redis script call instead of
 * one command each. The batch is written on `process.nextTick` (ioredis's own pipelining point),
 * so it never waits for a later event-loop phase: batching adds no latency.
 */
import { deferred, type Deferred } from './deferred.js';

interface Batch<T> {
  items: T[];
  done: Deferred<void>;
}

/** Batches items added during one turn (written on `process.nextTick`). */
export class TickBatcher<T> {
  private current: Batch<T> | undefined;

  /**
   * @param write writes a batch; its rejection rejects every `add` of that batch.
   * @param maxItems a batch this large is written at once, without waiting for the turn to end.
   */
  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly maxItems = 1000,
  ) {}

  /** Queues an item; resolves once the batch holding it is written. */
  add(item: T): Promise<void> {
    let batch = this.current;
    if (!batch) {
      batch = { items: [], done: deferred<void>() };
      this.current = batch;
      const scheduled = batch;
      process.nextTick(() => {
        if (this.current === scheduled) void this.flush();
      });
    }
    batch.items.push(item);
    const { promise } = batch.done;
    if (batch.items.length >= this.maxItems) this.flush();
    return promise;
  }

  /** Writes what is queued now (what a closing owner calls); resolves when it is written. */
  flush(): Promise<void> {
    const batch = this.current;
    if (!batch) return Promise.resolve();
    this.current = undefined;
    this.write(batch.items).then(batch.done.resolve, batch.done.reject);
    return batch.done.promise;
  }
}
