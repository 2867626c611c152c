/**
 * A Redis consumer: list queues through atomic batch reserves and BRPOP wake-ups on a connection
 * of its own; queues bound to fanout exchanges through pub/sub (no acks there, as in kombu).
 */
import type { Redis as RedisClient } from 'ioredis';
import { levelEnabled, logSafe } from '../../logging/logger.js';
import type { TransportMessage } from '../../protocol/message.js';
import type { Consumer, Delivery, DeliveryHandler } from '../port.js';
import { fromEnvelope, PRIORITY_STEPS, queueOfKey, SEP, type Unpacked } from './envelope.js';
import { sideConnection } from './connection.js';
import type { RedisTransport } from './transport.js';

/** Most messages reserved at once without a prefetch limit. */
const UNLIMITED_BATCH = 100;
/** A delivery tag as the reserve script finds one in a message's text. */
const TAG_IN_TEXT = /"delivery_tag"\s*:\s*"([^"\\]*)"/;
/** Where messages that are not kombu envelopes are parked for inspection. */
export const UNDECODABLE_KEY = 'celeriac.undecodable';

/** @internal */
export class RedisConsumer implements Consumer {
  private active = true;
  private blocking: RedisClient | undefined;
  private subscriber: RedisClient | undefined;
  /** Tags delivered and not yet acked or rejected, with their queue. */
  private readonly held = new Map<string, string>();
  private wakeUp: (() => void) | undefined;
  private rotation = 0;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly transport: RedisTransport,
    readonly queues: readonly string[],
    private readonly handler: DeliveryHandler,
    private prefetch: number,
  ) {}

  private get listQueues(): string[] {
    return this.queues.filter((q) => !this.transport.fanoutQueues.has(q));
  }

  async start(): Promise<void> {
    const fanout = this.queues.filter((q) => this.transport.fanoutQueues.has(q));
    if (fanout.length > 0) await this.subscribe(fanout);
    if (this.listQueues.length > 0) {
      this.blocking = sideConnection(this.transport.client);
      this.loop = this.run();
    }
  }

  setPrefetch(prefetch: number): void {
    this.prefetch = prefetch;
    this.wake();
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  async cancel(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.transport.forget(this);
    this.wake();
    this.blocking?.disconnect();
    await this.loop?.catch(() => undefined);
    if (this.subscriber) {
      this.subscriber.disconnect();
      this.subscriber = undefined;
    }
  }

  async close(): Promise<void> {
    await this.cancel();
    const held = [...this.held];
    this.held.clear();
    for (const [tag, queue] of held) {
      await this.transport.restoreTag(tag, queue, false).catch((err: unknown) => {
        this.transport.logger.error({ err }, `redis broker: could not give back message ${tag}; it returns after the visibility timeout`);
      });
    }
  }

  private capacity(): number {
    return this.prefetch === 0 ? UNLIMITED_BATCH : Math.max(0, this.prefetch - this.held.size);
  }

  /** Lists to read, best priority first, rotating queue order for fairness (as kombu does). */
  private keys(): string[] {
    const queues = this.listQueues;
    const start = this.rotation++ % queues.length;
    const rotated = [...queues.slice(start), ...queues.slice(0, start)];
    return PRIORITY_STEPS.flatMap((step) => rotated.map((q) => (step === 0 ? q : `${q}${SEP}${step}`)));
  }

  private async run(): Promise<void> {
    let failures = 0;
    // The last look found the lists empty: block on BRPOP without another reserve call first.
    let empty = false;
    while (this.active) {
      const want = this.capacity();
      // Refill in batches: with work in flight, wait until a quarter of the window is free
      // (one script call for many messages instead of one per ack).
      if (want === 0 || (this.prefetch > 0 && this.held.size > 0 && want < Math.ceil(this.prefetch / 4))) {
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        continue;
      }
      try {
        const keys = this.keys();
        if (!empty) {
          const batch = await this.transport.reserve(keys, want);
          failures = 0;
          this.deliver(batch, undefined);
          empty = batch.length < want;
          if (batch.length > 0) continue;
        }
        const popped = await this.blocking!.brpop(...keys, 1);
        failures = 0;
        if (!popped) continue; // still empty
        const [key, payload] = popped;
        if (!this.active) {
          // Cancelled while blocked: put it back where it was.
          await this.transport.client.rpush(key, payload);
          return;
        }
        // One script call, written before it returns, records the popped message as unacked and
        // takes whatever else is waiting; the message settles after that call is answered.
        const limit = Math.max(0, this.capacity() - 1);
        const reserved = this.transport.reserve(keys, limit, [payload]);
        const recorded = reserved.then(
          () => undefined,
          () => undefined,
        );
        this.deliver([[key, payload]], recorded);
        const more = await reserved;
        this.deliver(more, undefined);
        empty = more.length < limit;
      } catch (err) {
        if (!this.active) return;
        empty = false;
        failures++;
        if (failures === 1 || failures % 20 === 0) {
          this.transport.logger.warn(`redis broker: consuming ${this.queues.join(', ')} failed (${(err as Error).message}); retrying`);
        }
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** Math.min(failures, 5), 2000)));
      }
    }
  }

  /** Hands reserved messages to the handler, their leases held first. */
  private deliver(batch: ReadonlyArray<[string, string]>, recording: Promise<void> | undefined): void {
    if (batch.length === 0) return;
    const deliveries = batch.map(([key, payload]) => this.prepare(key, payload, recording));
    this.transport.hold(deliveries.flatMap((d) => (d ? [d.deliveryTag] : [])));
    for (const d of deliveries) if (d) this.handler(d);
  }

  /**
   * The delivery of a popped message (null for one that is not a kombu envelope, now parked).
   * `recording` settles once the message is recorded as unacked, when that is still under way.
   */
  private prepare(key: string, payload: string, recording: Promise<void> | undefined): Delivery | null {
    const queue = queueOfKey(key);
    const limit = this.transport.maxPayloadChars;
    if (limit !== undefined && payload.length > limit) {
      // Not parsed (that would take its size twice more): dropped, its unacked record with it.
      this.transport.logger.error(
        `redis broker: a message in queue ${queue} is ${payload.length} bytes as a kombu envelope, more than messageMaxBytes ` +
          `(${this.transport.messageMaxBytes}) allows; message rejected`,
      );
      this.forget(payload, recording);
      return null;
    }
    let unpacked: Unpacked;
    try {
      unpacked = fromEnvelope(payload).unpacked;
      if (!unpacked.deliveryTag) throw new Error('no delivery_tag');
    } catch (err) {
      const logger = this.transport.logger;
      logger.error(`redis broker: a message in queue ${queue} is not a kombu envelope (${logSafe((err as Error).message)}); parked in ${UNDECODABLE_KEY}`);
      if (levelEnabled(logger, 'debug')) logger.debug({ err }, 'why the message was parked');
      void this.transport.client.lpush(UNDECODABLE_KEY, payload).catch(() => undefined);
      this.forget(payload, recording);
      return null;
    }
    this.held.set(unpacked.deliveryTag, queue);
    return new RedisDelivery(this, unpacked, queue, recording);
  }

  /**
   * Drops the unacked record of a message that will not be delivered. The reserve script may have
   * made one (it finds the tag by plain search): left there, the restore would bring it back.
   */
  private forget(payload: string, recording: Promise<void> | undefined): void {
    const tag = TAG_IN_TEXT.exec(payload)?.[1];
    if (tag) void (recording ?? Promise.resolve()).then(() => this.transport.ack(tag));
  }

  /** @internal Settles a held delivery (see {@link RedisDelivery}). */
  settle(tag: string, queue: string, requeue: boolean, recording: Promise<void> | undefined): Promise<void> {
    if (!this.held.delete(tag)) return Promise.resolve(); // given back by close()
    this.wake();
    const apply = (): Promise<void> => (requeue ? this.transport.restoreTag(tag, queue, true).then(() => undefined) : this.transport.ack(tag));
    // A message from BRPOP is recorded as unacked after the pop: settling waits for that.
    return recording ? recording.then(apply) : apply();
  }

  private async subscribe(queues: string[]): Promise<void> {
    const sub = sideConnection(this.transport.client);
    this.subscriber = sub;
    const channels = new Map<string, string>();
    for (const q of queues) {
      const { exchange, pattern } = this.transport.fanoutQueues.get(q)!;
      const base = `/${this.transport.db}.${exchange}`;
      // kombu publishes to `<base>/<routing key>` when there is a key, to `<base>` otherwise;
      // a fanout binding without a pattern takes both.
      if (pattern) channels.set(`${base}/${pattern}`, q);
      else channels.set(base, q).set(`${base}/*`, q);
    }
    sub.on('pmessage', (pattern: string, _channel: string, payload: string) => {
      const queue = channels.get(pattern);
      if (!queue || !this.active) return;
      let unpacked: Unpacked;
      try {
        unpacked = fromEnvelope(payload).unpacked;
      } catch (err) {
        this.transport.logger.error(`redis broker: ignoring a fanout message on ${pattern} that is not a kombu envelope (${logSafe((err as Error).message)})`);
        return;
      }
      this.handler({
        message: unpacked.message,
        deliveryTag: unpacked.deliveryTag,
        redelivered: false,
        exchange: unpacked.exchange,
        routingKey: unpacked.routingKey,
        queue,
        ack: async () => undefined,
        reject: async () => undefined,
      });
    });
    await sub.psubscribe(...channels.keys());
  }
}

/** A message a Redis consumer handed out (a class: one object per message, no closures). */
class RedisDelivery implements Delivery {
  readonly message: TransportMessage;
  readonly deliveryTag: string;
  readonly redelivered: boolean;
  readonly exchange: string;
  readonly routingKey: string;
  private settled = false;

  constructor(
    private readonly consumer: RedisConsumer,
    unpacked: Unpacked,
    readonly queue: string,
    private readonly recording: Promise<void> | undefined,
  ) {
    this.message = unpacked.message;
    this.deliveryTag = unpacked.deliveryTag;
    this.redelivered = unpacked.redelivered;
    this.exchange = unpacked.exchange;
    this.routingKey = unpacked.routingKey;
  }

  ack(): Promise<void> {
    return this.settle(false);
  }

  reject(requeue: boolean): Promise<void> {
    return this.settle(requeue);
  }

  private settle(requeue: boolean): Promise<void> {
    if (this.settled) return Promise.resolve();
    this.settled = true;
    return this.consumer.settle(this.deliveryTag, this.queue, requeue, this.recording);
  }
}
