/**
 * Redis broker: `redis://[:password@]host:port/db`, `rediss://` (TLS). Wire-compatible with
 * kombu's Redis transport, so Python Celery and celeriac share queues (formats in ./envelope.ts):
 * LPUSH to publish; priority sub-queues (lower number first, as kombu); `_kombu.binding.*` sets;
 * the `unacked` hash and `unacked_index` zset for every reserved message; reject-requeue and
 * restore as kombu does them (marked redelivered); fanout exchanges over pub/sub on
 * `/<db>.<exchange>[/<routing key>]`.
 *
 * Reserving: a Lua script pops up to the free prefetch slots and records them as unacked in one
 * atomic step, the only way a message leaves its list; an idle consumer learns of new messages
 * through change notices that move nothing (./waker.ts), never by BRPOP, so a worker killed at
 * any moment leaves every message either in its list or in `unacked` (issue 17). Acks of one
 * tick go to Redis in one script call.
 *
 * Leases (issue 8): celeriac consumers put the tags they hold in `celeriac.leased` and a lease
 * thread (src/broker/lease) keeps their `unacked_index` scores fresh, so Python workers (which
 * restore by that score) never steal them. Restores: a tag in `celeriac.leased` whose score is
 * older than `visibilityTimeout` (default 60 s) belonged to a dead celeriac worker; any other tag
 * is restored only after `foreignVisibilityTimeout` (default 3600 s, kombu's default), so a long
 * task of a Python worker is never run twice by us.
 *
 * Options (`broker_transport_options`): visibilityTimeout, foreignVisibilityTimeout,
 * connectTimeout (s, 10), publishTimeout (s, 30: how long a publish waits for an unreachable
 * Redis before failing with OperationalError; a publish that fails is never delivered later, see
 * ./publisher.ts), leases (true).
 */
import type { Redis as RedisClient } from 'ioredis';
import { OperationalError } from '../../errors/index.js';
import { silentLogger, type Logger } from '../../logging/logger.js';
import type { TransportMessage } from '../../protocol/message.js';
import { TickBatcher } from '../../utils/batch.js';
import { uuid } from '../../utils/ids.js';
import { LeaseKeeper } from '../lease/keeper.js';
import type { ConsumeOptions, Consumer, DeliveryHandler, ExchangeType, QueueSpec, Route, Transport, TransportOptions } from '../port.js';
import { numberOption } from '../options.js';
import { redactUrl } from '../registry.js';
import { matchBindings } from '../virtual/exchange.js';
import { RedisConsumer } from './consumer.js';
import { RedisPublisher, type PublishTarget } from './publisher.js';
import { connectRedis, redisDb, runScript, withTimeout } from './connection.js';
import {
  bindingEntry,
  bindingKey,
  fanoutChannel,
  LEASED_KEY,
  parseBinding,
  priorityStep,
  queueKey,
  queueKeys,
  SEP,
  toEnvelope,
  UNACKED_INDEX_KEY,
  UNACKED_KEY,
  UNACKED_MUTEX_KEY,
} from './envelope.js';
import { ACK_SCRIPT, RESERVE_SCRIPT } from './scripts.js';

/** The Redis broker driver. */
export class RedisTransport implements Transport {
  readonly driver = 'redis';
  readonly url: string;
  readonly db: number;
  readonly logger: Logger;
  readonly messageMaxBytes: number | undefined;
  /**
   * Longest envelope the reserve script hands out: the body limit in base64 plus 1 MiB for headers
   * and properties. A longer one is dropped inside Redis (see TransportOptions.messageMaxBytes).
   */
  private readonly maxPayloadChars: number | undefined;
  readonly visibilityMs: number;
  private readonly foreignVisibilityMs: number;
  readonly connectTimeoutMs: number;
  private readonly publishTimeoutMs: number;
  private readonly useLeases: boolean;
  private redis: RedisClient | undefined;
  private publisher: RedisPublisher | undefined;
  private keeper: LeaseKeeper | undefined;
  private readonly exchangeTypes = new Map<string, ExchangeType>();
  /** Queues bound to fanout exchanges: consumed through pub/sub. */
  readonly fanoutQueues = new Map<string, { exchange: string; pattern: string }>();
  private readonly consumers = new Set<RedisConsumer>();
  /** Acks of one turn, sent in one script call. */
  private readonly acks = new TickBatcher<string>((tags) => this.writeAcks(tags));
  private restoreTimer: NodeJS.Timeout | undefined;
  private restoring: Promise<void> | undefined;
  /**
   * When contact with Redis was last regained after losing it (a reconnect, or a command that
   * hung): no restore sweep runs until a visibility timeout later (see {@link restoreExpired}).
   */
  private regainedAt = 0;
  /** When the command connection dropped (0 while connected): one line when lost, one when back. */
  private lostAt = 0;

  constructor(options: TransportOptions) {
    this.url = options.url;
    this.db = redisDb(options.url);
    const o = options.transportOptions;
    this.visibilityMs = numberOption(o, 'visibilityTimeout', 60) * 1000;
    this.foreignVisibilityMs = numberOption(o, 'foreignVisibilityTimeout', 3600) * 1000;
    this.connectTimeoutMs = numberOption(o, 'connectTimeout', 10) * 1000;
    this.publishTimeoutMs = numberOption(o, 'publishTimeout', 30) * 1000;
    this.useLeases = o['leases'] !== false;
    this.logger = options.logger ?? silentLogger;
    this.messageMaxBytes = options.messageMaxBytes;
    this.maxPayloadChars = options.messageMaxBytes === undefined ? undefined : Math.ceil(options.messageMaxBytes / 3) * 4 + 1024 * 1024;
  }

  /** @internal The command connection. */
  get client(): RedisClient {
    if (!this.redis) throw new OperationalError(`redis broker ${redactUrl(this.url)} is not connected`);
    return this.redis;
  }

  async connect(): Promise<void> {
    if (this.redis) return;
    const client = await connectRedis(this.url, this.connectTimeoutMs);
    this.redis = client;
    // Every later 'ready' is a reconnect: leases could not be renewed while Redis was away.
    client.on('ready', () => {
      if (this.lostAt > 0) {
        this.logger.warn(`redis broker: connection to ${redactUrl(this.url)} restored after ${((Date.now() - this.lostAt) / 1000).toFixed(1)} s`);
        this.lostAt = 0;
      }
      this.regained();
    });
    client.on('close', () => {
      if (this.redis !== client || this.lostAt > 0) return; // closed by close(), or already reported
      this.lostAt = Date.now();
      this.logger.warn(`redis broker: connection to ${redactUrl(this.url)} lost; reconnecting (tasks wait until it is back)`);
    });
    this.publisher = new RedisPublisher(this.url, this.publishTimeoutMs, this.connectTimeoutMs, this.logger);
    this.redis.defineCommand('celeriacReserve', { lua: RESERVE_SCRIPT });
    this.redis.defineCommand('celeriacAck', { lua: ACK_SCRIPT });
  }

  async close(): Promise<void> {
    for (const c of [...this.consumers]) await c.close();
    clearInterval(this.restoreTimer);
    this.restoreTimer = undefined;
    await this.restoring; // let a running restore release its lock before the connection goes
    await this.acks.flush();
    await this.keeper?.close();
    this.keeper = undefined;
    await this.publisher?.close();
    this.publisher = undefined;
    const client = this.redis;
    this.redis = undefined;
    await client?.quit().catch(() => client.disconnect());
  }

  async declareExchange(name: string, type: ExchangeType): Promise<void> {
    if (name !== '') this.exchangeTypes.set(name, type);
  }

  async declareQueue(spec: QueueSpec): Promise<void> {
    const exchange = spec.exchange;
    if (exchange === undefined || exchange === '') return;
    const type = spec.exchangeType ?? this.exchangeTypes.get(exchange) ?? 'direct';
    this.exchangeTypes.set(exchange, type);
    const routingKey = spec.routingKey ?? spec.name;
    if (type === 'fanout') {
      this.fanoutQueues.set(spec.name, { exchange, pattern: routingKey.replace(/#/g, '*') });
      return;
    }
    await this.command(() => this.client.sadd(bindingKey(exchange), bindingEntry(routingKey, spec.name)), 'declare queue');
  }

  /** The queues a route delivers to (kombu's lookup: default exchange, then bindings). */
  private async lookup(route: Route, type: ExchangeType): Promise<string[]> {
    if (route.exchange === '') return [route.routingKey];
    const bindings = (await this.client.smembers(bindingKey(route.exchange))).map(parseBinding);
    if (bindings.length === 0) return [route.routingKey];
    return matchBindings(type, bindings, route.routingKey);
  }

  /** Publishes exactly once or fails (./publisher.ts). */
  async publish(message: TransportMessage, route: Route): Promise<void> {
    const publisher = this.publisher;
    if (!publisher) throw new OperationalError(`redis broker ${redactUrl(this.url)} is not connected`);
    const type = this.exchangeTypes.get(route.exchange) ?? 'direct';
    const text = JSON.stringify(toEnvelope(message, route.exchange, route.routingKey, uuid()));
    let target: PublishTarget;
    if (type === 'fanout') target = { mode: 'fanout', channel: fanoutChannel(this.db, route.exchange, route.routingKey) };
    else if (type === 'direct' && route.exchange !== '') {
      const step = priorityStep(message.properties.priority);
      target = { mode: 'bind', bindings: bindingKey(route.exchange), routingKey: route.routingKey, suffix: step === 0 ? '' : `${SEP}${step}`, sep: SEP };
    } else {
      const queues = await this.command(() => this.lookup(route, type), 'publish');
      target = { mode: 'list', keys: queues.map((q) => queueKey(q, message.properties.priority)) };
    }
    await publisher.publish(text, target);
  }

  async consume(queues: readonly string[], handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer> {
    void this.client; // throws unless connected
    await this.startLeases();
    const consumer = new RedisConsumer(this, [...queues], handler, options.prefetch);
    await consumer.start();
    this.consumers.add(consumer);
    if (!this.restoreTimer) {
      const sweep = (): void => {
        this.restoring ??= this.restoreExpired().finally(() => (this.restoring = undefined));
      };
      this.restoreTimer = setInterval(sweep, Math.min(10_000, Math.max(250, this.visibilityMs / 4)));
      this.restoreTimer.unref();
      sweep();
    }
    return consumer;
  }

  async purge(queue: string): Promise<number> {
    return this.command(async () => {
      const multi = this.client.multi();
      for (const k of queueKeys(queue)) multi.llen(k);
      for (const k of queueKeys(queue)) multi.del(k);
      const res = (await multi.exec()) ?? [];
      return res.slice(0, 4).reduce((n, [, v]) => n + Number(v ?? 0), 0);
    }, 'purge');
  }

  async size(queue: string): Promise<number> {
    return this.command(async () => {
      const multi = this.client.multi();
      for (const k of queueKeys(queue)) multi.llen(k);
      const res = (await multi.exec()) ?? [];
      return res.reduce((n, [, v]) => n + Number(v ?? 0), 0);
    }, 'size');
  }

  /** @internal Runs a command, turning an unreachable Redis into OperationalError. */
  async command<T>(fn: () => Promise<T>, what: string): Promise<T> {
    try {
      return await withTimeout(fn(), this.publishTimeoutMs, `redis broker ${redactUrl(this.url)}: ${what} failed, Redis unreachable`);
    } catch (err) {
      if (err instanceof OperationalError) throw err;
      throw new OperationalError(`redis broker ${redactUrl(this.url)}: ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * @internal Reserves up to `limit` messages from `keys` atomically: each one leaves its list
   * in the same script call that records it as unacked, so no crash falls between the two.
   */
  async reserve(keys: readonly string[], limit: number): Promise<Array<[string, string]>> {
    const flat = await runScript<string[]>(this.client, 'celeriacReserve', keys.length + 3, UNACKED_KEY, UNACKED_INDEX_KEY, LEASED_KEY, ...keys, limit, Date.now() / 1000, this.maxPayloadChars ?? 0);
    const out: Array<[string, string]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
    return out;
  }

  /** @internal Starts renewing the leases of held tags. */
  hold(tags: readonly string[]): void {
    if (tags.length > 0) this.keeper?.hold(...tags);
  }

  /** @internal Acks a tag (batched with the other acks of this turn). */
  ack(tag: string): Promise<void> {
    this.keeper?.release(tag);
    return this.acks.add(tag);
  }

  private async writeAcks(tags: string[]): Promise<void> {
    if (!this.redis) return;
    try {
      await runScript<number>(this.redis, 'celeriacAck', 3, UNACKED_KEY, UNACKED_INDEX_KEY, LEASED_KEY, ...tags);
    } catch (err) {
      this.logger.error({ err }, `redis broker: ack of ${tags.length} message(s) failed; they will be redelivered after the visibility timeout`);
    }
  }

  /**
   * @internal Puts a held message back on `queue` (marked redelivered): at the back for a
   * reject-requeue (kombu's leftmost), at the front for a restore.
   */
  async restoreTag(tag: string, queue: string | null, leftmost: boolean): Promise<boolean> {
    this.keeper?.release(tag);
    const client = this.client;
    const raw = await client.hget(UNACKED_KEY, tag);
    const multi = client.multi().zrem(UNACKED_INDEX_KEY, tag).hdel(UNACKED_KEY, tag).srem(LEASED_KEY, tag);
    if (raw !== null) {
      try {
        const [payload, exchange, routingKey] = JSON.parse(raw) as [Record<string, Record<string, unknown>>, string, string];
        if (payload['headers']) payload['headers']['redelivered'] = true;
        const info = payload['properties']?.['delivery_info'] as Record<string, unknown> | undefined;
        if (info) info['redelivered'] = true;
        const text = JSON.stringify(payload);
        const targets = queue !== null ? [queue] : await this.lookup({ exchange, routingKey }, this.exchangeTypes.get(exchange) ?? 'direct');
        for (const q of targets) {
          const key = queueKey(q, payload['properties']?.['priority']);
          if (leftmost) multi.lpush(key, text);
          else multi.rpush(key, text);
        }
      } catch (err) {
        this.logger.error({ err }, `redis broker: could not restore message ${tag}; it stays in the unacked hash`);
        return false;
      }
    }
    const res = await multi.exec();
    return raw !== null && res !== null;
  }

  /**
   * Contact with Redis is back after an outage: holders (this one included) could not renew
   * their leases meanwhile, so renew ours now and sweep nothing for a visibility timeout, the
   * time every live holder's lease thread has to renew its own.
   */
  private regained(): void {
    this.regainedAt = Date.now();
    this.keeper?.renewNow();
  }

  /** @internal Whether a consumer of this transport holds `tag` (delivered, not yet settled). */
  holds(tag: string): boolean {
    for (const c of this.consumers) if (c.holds(tag)) return true;
    return false;
  }

  /**
   * Restores messages whose holder stopped renewing (see the header for the two timeouts). A
   * holder that could not renew because Redis was away is not dead (issue 17): no sweep within a
   * visibility timeout of regaining contact, and never a message this transport holds itself.
   */
  private async restoreExpired(): Promise<void> {
    const client = this.redis;
    if (!client || client.status !== 'ready') return;
    // A visibility timeout and a renewal interval: every live holder renews in that time.
    if (Date.now() < this.regainedAt + this.visibilityMs * 1.25) return;
    try {
      // A holder that dies inside the sweep leaves the lock to expire: keep that short.
      const token = uuid();
      const asked = Date.now();
      const lock = await client.set(UNACKED_MUTEX_KEY, token, 'PX', 5_000, 'NX');
      const hung = Date.now() - asked > Math.max(1000, this.visibilityMs / 4);
      if (lock !== 'OK' && !hung) return;
      try {
        // Redis took long to answer (it hung, or the network did): as after a reconnect.
        if (hung) {
          this.regained();
          return;
        }
        const nowMs = Date.now();
        const stale = await client.zrangebyscore(UNACKED_INDEX_KEY, 0, (nowMs - this.visibilityMs) / 1000, 'WITHSCORES', 'LIMIT', 0, 100);
        let restored = 0;
        for (let i = 0; i + 1 < stale.length; i += 2) {
          const tag = stale[i]!;
          if (this.holds(tag)) continue;
          const ours = (await client.sismember(LEASED_KEY, tag)) === 1;
          if (!ours && Number(stale[i + 1]) * 1000 > nowMs - this.foreignVisibilityMs) continue;
          if (await this.restoreTag(tag, null, false)) restored++;
        }
        if (restored > 0) this.logger.warn(`redis broker: restored ${restored} message(s) whose holder stopped renewing (redelivered)`);
      } finally {
        // Release only our own lock (it may have expired and been taken by another process).
        if (lock === 'OK') await client.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, UNACKED_MUTEX_KEY, token);
      }
    } catch (err) {
      this.logger.warn(`redis broker: restoring unacked messages failed: ${(err as Error).message}`);
    }
  }

  private async startLeases(): Promise<void> {
    if (!this.useLeases || this.keeper) return;
    this.keeper = await LeaseKeeper.forVisibility({
      module: new URL(import.meta.url.endsWith('.ts') ? '../lease/redis-renewer.ts' : '../lease/redis-renewer.js', import.meta.url),
      config: { url: this.url },
      intervalMs: Math.max(50, this.visibilityMs / 4),
      logger: this.logger,
    }, this.visibilityMs);
  }

  /** @internal */
  forget(consumer: RedisConsumer): void {
    this.consumers.delete(consumer);
  }
}
