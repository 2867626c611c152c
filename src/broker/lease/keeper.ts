/**
 * Leases (issue 8): a broker driver keeps every message its consumers hold (reserved, waiting for
 * an ETA, or running) visibly alive, so that redelivery after the visibility timeout happens only
 * for messages whose holder is dead, never for one that is merely slow or long.
 *
 * The renewals run in a worker thread with its own broker connection: a task that blocks the
 * event loop (CPU-bound code on the async pool) cannot stop them, which is what makes a short
 * visibility timeout safe (BullMQ's "stalled" double runs and kombu's ETA redeliveries both come
 * from renewals that never happen). The thread re-stamps the whole held set every `intervalMs`
 * (a fraction of the visibility timeout) through a driver's renewer module. The held set lives
 * in shared memory (./shared-table.ts): holding and releasing send nothing to the thread; only
 * ids too long for the table travel as messages.
 *
 * A renewer module exports `createRenewer(config)` returning a {@link LeaseRenewer}; `config` is
 * whatever the driver needs to open its own connection (structured-cloneable). A renewal must
 * only touch messages still held (e.g. Redis `ZADD XX`, an SQL `UPDATE ... WHERE reserved`), so a
 * renewal racing an ack never resurrects the acked message.
 */
import { once } from 'node:events';
import type { Worker as Thread } from 'node:worker_threads';
import type { Logger } from '../../logging/logger.js';
import { startModuleThread } from '../../utils/threads.js';
import { HeldTableWriter } from './shared-table.js';

/** What a driver's renewer does, inside the lease thread. */
export interface LeaseRenewer {
  /** Marks these held messages as alive now. Only messages still held may be touched. */
  renew(ids: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** The export a renewer module provides. */
export type RenewerFactory = (config: unknown) => Promise<LeaseRenewer>;

/** Options of {@link LeaseKeeper.start}. */
export interface LeaseKeeperOptions {
  /** URL of the module exporting `createRenewer`. */
  module: URL;
  /** Passed to `createRenewer` in the thread (must be structured-cloneable). */
  config: unknown;
  /** Milliseconds between renewals of the held set. */
  intervalMs: number;
  logger: Logger;
}

/**
 * @internal Messages between the keeper and its thread. Ids travel joined by `\n` in one string
 * (message ids never contain one): cloning one string is much cheaper than an array of them.
 */
export type ToLeaseThread =
  | { op: 'hold'; ids: string }
  | { op: 'release'; ids: string }
  | { op: 'table'; buffer: SharedArrayBuffer }
  | { op: 'renew' }
  | { op: 'close' };

/** @internal Separator of the ids in a {@link ToLeaseThread} message. */
export const ID_SEPARATOR = '\n';

/**
 * The shortest visibility timeout for which a keeper starts lazily (see `forVisibility`): its
 * first renewal comes a quarter of the timeout in, and loading a renewer can take a second on a
 * busy machine.
 */
const LAZY_MIN_VISIBILITY_MS = 10_000;

/** How long releases wait to be sent together: a released id renewed meanwhile is harmless. */
const RELEASE_DELAY_MS = 50;

/** @internal */
export type FromLeaseThread = { op: 'ready' } | { op: 'error'; message: string } | { op: 'renewed'; count: number };

const THREAD_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './thread.ts' : './thread.js', import.meta.url);

/** Keeps the leases of held messages alive from a separate thread. */
export class LeaseKeeper {
  private closed = false;
  private renewals = 0;
  /** The held ids that fit the shared table. */
  private readonly table = new HeldTableWriter((buffer) => this.post({ op: 'table', buffer }));
  /** Released ids (of those not in the table) not yet sent to the thread. */
  private released = new Set<string>();
  private releaseTimer: NodeJS.Timeout | undefined;

  /** Settles when the thread's renewer is connected; rejects if it could not start. */
  private readonly ready: Promise<void>;

  private constructor(
    private readonly thread: Thread,
    private readonly logger: Logger,
  ) {
    thread.on('message', (msg: FromLeaseThread) => {
      if (msg.op === 'error') this.logger.warn(`lease renewal failed: ${msg.message}`);
      else if (msg.op === 'renewed') this.renewals++;
    });
    thread.on('error', (err) => this.logger.error({ err }, 'lease thread crashed; held messages may be redelivered after the visibility timeout'));
    this.ready = this.started();
  }

  private async started(): Promise<void> {
    const [first] = (await Promise.race([once(this.thread, 'message'), once(this.thread, 'error').then(([e]) => Promise.reject(e as Error))])) as [FromLeaseThread];
    if (first.op === 'error') {
      this.closed = true;
      await this.thread.terminate();
      throw new Error(first.message);
    }
    // Running, the thread must not keep the process alive on its own.
    this.thread.unref();
  }

  private static thread(options: LeaseKeeperOptions, eager: boolean): Thread {
    return startModuleThread(THREAD_ENTRY, {
      workerData: { module: options.module.href, config: options.config, intervalMs: options.intervalMs, eager },
    });
  }

  /** Starts the thread and waits until its renewer is connected (rejects if it cannot be). */
  static async start(options: LeaseKeeperOptions): Promise<LeaseKeeper> {
    const keeper = new LeaseKeeper(LeaseKeeper.thread(options, true), options.logger);
    await keeper.ready;
    return keeper;
  }

  /**
   * Starts the keeper of a consumer whose broker restores messages after `visibilityMs`: at once
   * with {@link launch} when the timeout leaves room for the thread to load its renewer when the
   * first renewal is due; otherwise (a timeout of seconds, as tests use) with {@link start},
   * waiting until it can renew.
   */
  static async forVisibility(options: LeaseKeeperOptions, visibilityMs: number): Promise<LeaseKeeper> {
    return visibilityMs >= LAZY_MIN_VISIBILITY_MS ? LeaseKeeper.launch(options) : LeaseKeeper.start(options);
  }

  /**
   * Starts the thread without waiting for it, and lets it load the renewer module only when the
   * first renewal is due: loading a client library and connecting take a tenth of a second of
   * CPU, which a worker that just started has better uses for, and a fresh reservation is far
   * from its visibility timeout. A renewer that cannot load or connect is logged as a renewal
   * failure (and tried again next round); a thread that cannot start, as an error.
   */
  static launch(options: LeaseKeeperOptions): LeaseKeeper {
    const keeper = new LeaseKeeper(LeaseKeeper.thread(options, false), options.logger);
    keeper.ready.catch((err: unknown) =>
      options.logger.error({ err }, 'lease thread could not start: held messages are not renewed and return to the queue after the visibility timeout'),
    );
    return keeper;
  }

  /** How many renewal rounds the thread has completed (for tests and stats). */
  get renewalRounds(): number {
    return this.renewals;
  }

  /**
   * Starts keeping these messages alive, at once: a task that blocks the event loop right after
   * being handed out must already be covered (pass a reserved batch in one call).
   */
  hold(...ids: string[]): void {
    if (this.closed) return;
    const others: string[] = [];
    for (const id of ids) {
      if (this.table.hold(id)) continue;
      // An id released and held again (a message given back and redelivered) stays held.
      this.released.delete(id);
      others.push(id);
    }
    if (others.length > 0) this.post({ op: 'hold', ids: others.join(ID_SEPARATOR) });
  }

  /** Stops keeping these messages alive (after ack, reject, or giving them back). */
  release(...ids: string[]): void {
    if (this.closed) return;
    let queued = false;
    for (const id of ids) {
      if (this.table.release(id)) continue;
      this.released.add(id);
      queued = true;
    }
    if (queued && !this.releaseTimer) {
      this.releaseTimer = setTimeout(() => this.flush(), RELEASE_DELAY_MS);
      this.releaseTimer.unref();
    }
  }

  private flush(): void {
    clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    if (this.released.size === 0) return;
    const ids = [...this.released];
    this.released.clear();
    this.post({ op: 'release', ids: ids.join(ID_SEPARATOR) });
  }

  /** Renews the held set now. */
  renewNow(): void {
    this.flush();
    if (!this.closed) this.post({ op: 'renew' });
  }

  /** Stops renewing and closes the thread's connection. */
  async close(): Promise<void> {
    await this.ready.catch(() => undefined);
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.thread.ref();
    const exited = once(this.thread, 'exit');
    this.post({ op: 'close' });
    const timer = setTimeout(() => void this.thread.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }

  private post(msg: ToLeaseThread): void {
    this.thread.postMessage(msg);
  }
}
