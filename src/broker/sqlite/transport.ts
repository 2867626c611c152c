/**
 * SQLite broker: `sqlite:///relative.db`, `sqlite:////absolute.db`, or `sqlite://` for
 * `celeriac.sqlite` in the working directory. The zero-setup default: producers and workers in
 * separate processes on one machine share the file (tables in ./store.ts).
 *
 * Delivery: each consumer reserves up to its free prefetch slots in one atomic statement and hands
 * the rows out. Waking up without busy polling: a publish in this process wakes its consumers at
 * once; for other processes' publishes, an idle consumer checks SQLite's `data_version` (a counter
 * that changes when another connection commits, read without touching any table) every
 * `pollingInterval` (default 10 ms) and only then queries. That keeps cross-process latency at a
 * few milliseconds and an idle worker's cost near zero, with no extra process or socket.
 *
 * Leases (issue 8): a reserved message carries `visible_at`, the end of its lease. A separate
 * thread (src/broker/lease) pushes the lease of every held message forward every quarter of the
 * visibility timeout, so only a dead consumer's messages (process killed, machine lost) become
 * ready again, after `visibilityTimeout` (default 60 s), marked redelivered. A slow task, a long
 * ETA or a blocked event loop never causes a second delivery.
 *
 * File removed or replaced under a running process (issue 17): checked every second by inode; the
 * path is reopened (created again if need be) with one warning, declarations replayed, and the
 * rows held from the old file forgotten.
 *
 * Transport options: `visibilityTimeout` (s, 60), `pollingInterval` (s, 0.01), `leases`
 * (true; false leaves redelivery to the timeout alone, as kombu does), `busyTimeout` (ms, 10000).
 */
import { statSync } from 'node:fs';
import { OperationalError } from '../../errors/index.js';
import { logSafe, silentLogger, type Logger } from '../../logging/logger.js';
import type { TransportMessage } from '../../protocol/message.js';
import { TickBatcher } from '../../utils/batch.js';
import { uuid } from '../../utils/ids.js';
import { LeaseKeeper } from '../lease/keeper.js';
import { numberOption } from '../options.js';
import type {
  ConsumeOptions,
  Consumer,
  Delivery,
  DeliveryHandler,
  ExchangeType,
  QueueSpec,
  Route,
  Transport,
  TransportOptions,
} from '../port.js';
import { openDatabase, sqlitePath, SqliteStore, type MessageRow, type Settlement } from './store.js';

/** Most rows reserved at once by a consumer without a prefetch limit. */
const UNLIMITED_BATCH = 100;
/** How often a connected transport checks that its file is still the one at its path. */
const FILE_CHECK_MS = 1000;

/** Device and inode of a file, or undefined when there is none. */
function fileIdentity(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

class SqliteConsumer implements Consumer {
  /** Who holds reserved rows (`reserved_by`); a new one after the file was reopened. */
  id = `${process.pid}-${uuid()}`;
  readonly unacked = new Set<number>();
  private active = true;
  private wakeUp: (() => void) | undefined;
  private lastVersion = -1;

  constructor(
    private readonly transport: SqliteTransport,
    readonly queues: readonly string[],
    private readonly handler: DeliveryHandler,
    private prefetch: number,
  ) {}

  start(): void {
    void this.run();
  }

  setPrefetch(prefetch: number): void {
    this.prefetch = prefetch;
    this.wake();
  }

  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  async cancel(): Promise<void> {
    this.active = false;
    this.wake();
    this.transport.forget(this);
  }

  async close(): Promise<void> {
    await this.cancel();
    if (this.unacked.size === 0) return;
    const ids = [...this.unacked];
    this.unacked.clear();
    this.transport.releaseHeld(this.id, ids);
  }

  /**
   * The file was reopened: rows held in the old one are gone with it. Forgets them under a new
   * holder id, so their late acks cannot touch rows of the new file that reuse their ids.
   */
  forgetHeld(): string[] {
    const old = [...this.unacked].map((id) => `${id}|${this.id}`);
    this.unacked.clear();
    this.id = `${process.pid}-${uuid()}`;
    this.lastVersion = -1;
    return old;
  }

  private capacity(): number {
    if (this.prefetch === 0) return UNLIMITED_BATCH;
    return Math.max(0, this.prefetch - this.unacked.size);
  }

  private async run(): Promise<void> {
    while (this.active) {
      let got = 0;
      const want = this.capacity();
      if (want > 0) {
        try {
          got = this.poll(want);
        } catch (err) {
          this.transport.logger.error({ err }, `sqlite broker: reserve failed: ${(err as Error).message}`);
        }
      }
      if (!this.active) return;
      if (got > 0 && got === want) {
        // More may be waiting: go again, but let I/O and timers run first.
        await new Promise((r) => setImmediate(r));
        continue;
      }
      await this.idle(want > 0);
    }
  }

  /** Sleeps until woken, or until another connection changed the database. */
  private idle(watchOthers: boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      const interval = this.transport.pollingIntervalMs;
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const check = (): void => {
        if (!this.active) return done();
        if (watchOthers) {
          let version = this.lastVersion;
          try {
            version = this.transport.store.dataVersion();
          } catch {
            // The connection is closing; the loop ends on the next turn.
          }
          if (version !== this.lastVersion) {
            this.lastVersion = version;
            return done();
          }
        }
        timer = setTimeout(check, interval);
      };
      this.wakeUp = done;
      timer = setTimeout(check, interval);
    });
  }

  private poll(limit: number): number {
    const { store } = this.transport;
    this.lastVersion = store.dataVersion();
    const rows = store.reserve(this.queues, this.id, limit, Date.now() + this.transport.visibilityMs, this.transport.messageMaxBytes);
    for (const row of rows) this.unacked.add(row.id);
    this.transport.hold(this.id, rows.map((r) => r.id));
    for (const row of rows) this.deliver(row);
    return rows.length;
  }

  private deliver(row: MessageRow): void {
    let settled = false;
    const holder = this.id;
    const settle = (how: Settlement['how']): Promise<void> => {
      if (settled) return Promise.resolve();
      settled = true;
      // Given back by close(), or held in a file since removed (see forgetHeld).
      if (holder !== this.id || !this.unacked.delete(row.id)) return Promise.resolve();
      const written = this.transport.settle(this.id, row.id, how);
      this.wake();
      return written;
    };
    if (row.body === null) {
      this.transport.logger.error(
        `sqlite broker: message ${row.id} in queue ${row.queue} has a body of ${row.body_size} bytes, ` +
          `larger than ${this.transport.messageMaxBytes} (messageMaxBytes); message rejected`,
      );
      settle('drop').catch((e: unknown) => this.transport.logger.error({ err: e }, `sqlite broker: could not drop message ${row.id}`));
      return;
    }
    let message: TransportMessage;
    try {
      message = {
        body: row.body,
        contentType: row.content_type,
        contentEncoding: row.content_encoding,
        headers: JSON.parse(row.headers) as Record<string, unknown>,
        properties: JSON.parse(row.properties) as TransportMessage['properties'],
      };
    } catch (err) {
      this.transport.logger.error(`sqlite broker: message ${row.id} in queue ${row.queue} is unreadable (${logSafe((err as Error).message)}); moved to celeriac.undecodable`);
      settle('park').catch((e: unknown) => this.transport.logger.error({ err: e }, `sqlite broker: could not park message ${row.id}`));
      return;
    }
    const delivery: Delivery = {
      message,
      deliveryTag: String(row.id),
      redelivered: row.redelivered === 1,
      exchange: row.exchange,
      routingKey: row.routing_key,
      queue: row.queue,
      ack: () => settle('ack'),
      reject: (requeue) => settle(requeue ? 'requeue' : 'drop'),
    };
    this.handler(delivery);
  }
}

/** The SQLite broker driver. */
export class SqliteTransport implements Transport {
  readonly driver = 'sqlite';
  readonly path: string;
  readonly visibilityMs: number;
  readonly pollingIntervalMs: number;
  readonly logger: Logger;
  /** Bodies larger than this are rejected without being read (see TransportOptions). */
  readonly messageMaxBytes: number | undefined;
  /** Settlements of this turn, not yet written (see settle). */
  private readonly settlements = new TickBatcher<Settlement>((items) => this.writeSettlements(items));
  private readonly useLeases: boolean;
  private readonly busyTimeoutMs: number;
  private db: SqliteStore | undefined;
  private keeper: LeaseKeeper | undefined;
  private readonly consumers = new Set<SqliteConsumer>();
  private restoreTimer: NodeJS.Timeout | undefined;
  /** Queues declared here with `x-expires`: kept in use while consumed here, declared again if they expired meanwhile. */
  private readonly expiring = new Map<string, QueueSpec>();
  /** The open file's identity, to notice it removed or replaced (see checkFile). */
  private fileId: string | undefined;
  private fileTimer: NodeJS.Timeout | undefined;
  private reopening: Promise<void> | undefined;
  /** What this process declared, declared again in a reopened file. */
  private readonly declared = new Map<string, () => void>();

  constructor(options: TransportOptions) {
    this.path = sqlitePath(options.url);
    const o = options.transportOptions;
    this.visibilityMs = numberOption(o, 'visibilityTimeout', 60, true) * 1000;
    this.pollingIntervalMs = Math.max(1, numberOption(o, 'pollingInterval', 0.01, true) * 1000);
    this.busyTimeoutMs = numberOption(o, 'busyTimeout', 10_000, true);
    this.useLeases = o['leases'] !== false;
    this.logger = options.logger ?? silentLogger;
    this.messageMaxBytes = options.messageMaxBytes;
  }

  /** @internal The open store. */
  get store(): SqliteStore {
    if (!this.db) throw new OperationalError(`sqlite broker ${this.path} is not connected`);
    return this.db;
  }

  async connect(): Promise<void> {
    if (this.db) return;
    this.db = new SqliteStore(await openDatabase(this.path, this.busyTimeoutMs));
    this.fileId = fileIdentity(this.path);
    this.fileTimer = setInterval(() => this.checkFile(), FILE_CHECK_MS);
    this.fileTimer.unref();
  }

  /**
   * Notices the database file removed or replaced under this process (SQLite would go on using
   * the deleted file, unseen by everyone else, forever) and reopens the path with one warning.
   */
  private checkFile(): void {
    if (!this.db || this.reopening) return;
    const now = fileIdentity(this.path);
    if (now === this.fileId) return;
    const what = now === undefined ? 'was removed' : 'was replaced by another file';
    this.reopening = this.reopen(what).finally(() => (this.reopening = undefined));
  }

  private async reopen(what: string): Promise<void> {
    const held = [...this.consumers].reduce((n, c) => n + c.unacked.size, 0);
    this.logger.warn(
      `sqlite broker: the database file ${this.path} ${what} while in use; reopening it` +
        (held > 0 ? ` (${held} message(s) held from the old file are lost with it)` : ''),
    );
    try {
      const store = new SqliteStore(await openDatabase(this.path, this.busyTimeoutMs));
      const old = this.db;
      this.db = store;
      this.fileId = fileIdentity(this.path);
      old?.db.close();
      for (const declare of this.declared.values()) declare();
      const forgotten = [...this.consumers].flatMap((c) => c.forgetHeld());
      this.keeper?.release(...forgotten);
      if (this.keeper) {
        // Its own connection still points at the removed file.
        await this.keeper.close();
        this.keeper = undefined;
        await this.startLeases();
      }
      for (const c of this.consumers) c.wake();
    } catch (err) {
      this.logger.error(`sqlite broker: cannot reopen ${this.path} (${(err as Error).message}); retrying in ${FILE_CHECK_MS / 1000} s`);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.fileTimer);
    this.fileTimer = undefined;
    await this.reopening;
    for (const c of [...this.consumers]) await c.close();
    await this.settlements.flush().catch(() => undefined);
    clearInterval(this.restoreTimer);
    this.restoreTimer = undefined;
    await this.keeper?.close();
    this.keeper = undefined;
    this.db?.db.close();
    this.db = undefined;
  }

  async declareExchange(name: string, type: ExchangeType): Promise<void> {
    const declare = (): void => this.write(() => this.store.declareExchange(name, type));
    declare();
    this.declared.set(`exchange ${name}`, declare);
  }

  async declareQueue(spec: QueueSpec): Promise<void> {
    const declare = (): void => {
      const ttl = spec.arguments?.['x-message-ttl'];
      const expires = spec.arguments?.['x-expires'];
      const autoDelete = spec.autoDelete ?? false;
      if (typeof expires === 'number') this.expiring.set(spec.name, spec);
      if (autoDelete || typeof ttl === 'number' || typeof expires === 'number') {
        this.write(() => this.store.declareQueue(spec.name, autoDelete, typeof ttl === 'number' ? ttl : null, typeof expires === 'number' ? expires : null));
      }
      if (spec.exchange !== undefined && spec.exchange !== '') {
        const { exchange } = spec;
        this.write(() => this.store.bind(exchange, spec.exchangeType ?? 'direct', spec.name, spec.routingKey ?? spec.name));
      }
    };
    declare();
    this.declared.set(`queue ${spec.name}`, declare);
  }

  async publish(message: TransportMessage, route: Route): Promise<void> {
    const raw = message.properties.priority;
    const priority = typeof raw === 'number' ? Math.max(0, Math.min(255, Math.trunc(raw))) : 0;
    this.write(() => this.store.publish(message, route, priority));
    for (const c of this.consumers) c.wake();
  }

  async consume(queues: readonly string[], handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer> {
    void this.store; // throws unless connected
    await this.startLeases();
    const consumer = new SqliteConsumer(this, [...queues], handler, options.prefetch);
    this.consumers.add(consumer);
    this.restoreTimer ??= setInterval(() => this.restore(), Math.min(5000, Math.max(100, this.visibilityMs / 4)));
    this.restoreTimer.unref();
    this.restore();
    consumer.start();
    return consumer;
  }

  async purge(queue: string): Promise<number> {
    await this.settlements.flush(); // reads and purges see this turn's acks
    return this.write(() => this.store.purge(queue));
  }

  async size(queue: string): Promise<number> {
    await this.settlements.flush();
    return this.store.size(queue);
  }

  /** @internal A consumer stopped: auto-delete queues nobody here consumes any more go away. */
  forget(consumer: SqliteConsumer): void {
    this.consumers.delete(consumer);
    if (!this.db) return;
    for (const queue of consumer.queues) {
      if ([...this.consumers].some((c) => c.queues.includes(queue))) continue;
      try {
        this.store.dropIfAutoDelete(queue);
      } catch (err) {
        this.logger.warn(`sqlite broker: could not delete auto-delete queue ${queue}: ${(err as Error).message}`);
      }
    }
  }

  /** @internal Starts keeping the leases of reserved messages alive. */
  hold(consumerId: string, ids: readonly number[]): void {
    if (ids.length > 0) this.keeper?.hold(...ids.map((id) => `${id}|${consumerId}`));
  }

  /**
   * @internal Acks, requeues or drops a held message; resolves once written. Settlements of one
   * turn are written together in one transaction (one commit for a whole batch of tasks).
   */
  settle(consumerId: string, id: number, how: Settlement['how']): Promise<void> {
    this.keeper?.release(`${id}|${consumerId}`);
    if (!this.db) return Promise.resolve(); // closed: the lease runs out and the message comes back
    return this.settlements.add({ id, consumer: consumerId, how });
  }

  private async writeSettlements(items: Settlement[]): Promise<void> {
    if (!this.db) return;
    this.write(() => this.store.settleMany(items));
    if (items.some((i) => i.how === 'requeue')) for (const c of this.consumers) c.wake();
  }

  /** @internal Gives back what a closing consumer held. */
  releaseHeld(consumerId: string, ids: number[]): void {
    this.keeper?.release(...ids.map((id) => `${id}|${consumerId}`));
    if (!this.db) return;
    void this.settlements.flush().catch(() => undefined); // acks of this turn first: an acked message must not come back
    this.write(() => this.store.release(consumerId));
    for (const c of this.consumers) c.wake();
  }

  private restore(): void {
    if (!this.db) return;
    try {
      this.expireQueues();
      this.store.expireMessages(Date.now());
      const n = this.store.restoreExpired(Date.now());
      if (n > 0) {
        this.logger.warn(`sqlite broker: ${n} message(s) whose holder stopped renewing its lease are ready again (redelivered)`);
        for (const c of this.consumers) c.wake();
      }
    } catch (err) {
      this.logger.error({ err }, `sqlite broker: restoring expired messages failed: ${(err as Error).message}`);
    }
  }

  /**
   * Marks the expiring queues consumed here as in use (declaring again one that expired while this
   * process could not touch it, e.g. a blocked event loop), then deletes those nobody used for
   * longer than their `x-expires` (the pidbox queues of dead workers and clients).
   */
  private expireQueues(): void {
    const now = Date.now();
    for (const queue of new Set([...this.consumers].flatMap((c) => c.queues))) {
      const spec = this.expiring.get(queue);
      if (!spec || this.store.touchQueue(queue, now)) continue;
      this.logger.warn(`sqlite broker: queue ${queue} expired while consumed here (unused past its x-expires); declared again`);
      this.declareQueue(spec).catch((err: unknown) => this.logger.error({ err }, `sqlite broker: could not declare ${queue} again: ${(err as Error).message}`));
    }
    const gone = this.store.expireQueues(now);
    if (gone.length > 0) {
      const shown = gone.slice(0, 5).join(', ') + (gone.length > 5 ? `, and ${gone.length - 5} more` : '');
      this.logger.info(`sqlite broker: removed ${gone.length} queue(s) unused for longer than their x-expires: ${shown}`);
    }
  }

  private async startLeases(): Promise<void> {
    if (!this.useLeases || this.keeper) return;
    this.keeper = await LeaseKeeper.forVisibility({
      module: new URL(import.meta.url.endsWith('.ts') ? '../lease/sqlite-renewer.ts' : '../lease/sqlite-renewer.js', import.meta.url),
      config: { path: this.path, visibilityMs: this.visibilityMs },
      intervalMs: Math.max(50, this.visibilityMs / 4),
      logger: this.logger,
    }, this.visibilityMs);
  }

  private write<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new OperationalError(`sqlite broker ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }
}
