/**
 * RabbitMQ (AMQP 0-9-1) broker: `amqp://user:pass@host:port/vhost`, `amqps://`, `pyamqp://`.
 * Messages carry the same properties Python Celery publishes (content type and encoding,
 * delivery_mode 2, priority, correlation_id, reply_to, headers), so both share a vhost.
 *
 * - Publishing uses a confirm channel: `publish()` resolves once RabbitMQ has the message.
 * - Each consumer has its own channel with `basic.qos` = its prefetch; ack, reject and
 *   nack-with-requeue map to AMQP's; a reject without requeue dead-letters where the queue says.
 * - Exchanges and queues are declared with Celery's flags (durable task queues, transient
 *   pidbox). RabbitMQ refuses a redeclaration with other flags; that error names the object.
 * - Headers amqplib cannot decode (tables nested thousands deep) no longer kill the connection:
 *   that message alone is rejected, with one log line (see ./header-guard.ts).
 * - Connection loss: the driver reconnects with backoff, redeclares what it declared and resumes
 *   every consumer. Deliveries of the dead channel cannot be acked any more (their acks are
 *   dropped): RabbitMQ requeues them itself, so acksLate tasks are redelivered, never lost; the
 *   ones not started yet are marked `withdrawn`, and the worker leaves them to the redelivery.
 */
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { ImproperlyConfigured, OperationalError } from '../../errors/index.js';
import { logSafe, silentLogger, type Logger } from '../../logging/logger.js';
import type { TransportMessage } from '../../protocol/message.js';
import type { ConsumeOptions, Consumer, Delivery, DeliveryHandler, ExchangeOptions, ExchangeType, QueueSpec, Route, Transport, TransportOptions } from '../port.js';
import { numberOption } from '../options.js';
import { redactUrl } from '../registry.js';
import { guardHeaderDecoding, UNDECODABLE_HEADERS } from './header-guard.js';
import { loadOptional } from '../../utils/optional.js';

/** The URL amqplib understands (`pyamqp://` is Celery's name for the same thing). */
export function amqpUrl(url: string): string {
  const m = /^(?:py)?(amqps?):\/\/(.*)$/i.exec(url);
  if (!m) throw new ImproperlyConfigured(`bad AMQP URL '${redactUrl(url)}': expected amqp://user:pass@host:port/vhost`);
  return `${m[1]!.toLowerCase()}://${m[2]}`;
}

class AmqpConsumer implements Consumer {
  channel: Channel | undefined;
  private tags: string[] = [];
  private active = true;
  /** Deliveries not settled yet, with the channel they came on. */
  readonly held = new Set<{ msg: ConsumeMessage; channel: Channel }>();
  /** Channels of this consumer that closed: RabbitMQ requeued what they delivered. */
  private readonly dead = new WeakSet<Channel>();

  constructor(
    private readonly transport: AmqpTransport,
    readonly queues: readonly string[],
    private readonly handler: DeliveryHandler,
    private prefetch: number,
  ) {}

  /** Opens a channel and starts consuming (again, after a reconnect). */
  async open(): Promise<void> {
    if (!this.active) return;
    const channel = await this.transport.connection().createChannel();
    channel.on('error', () => undefined);
    channel.once('close', () => this.dead.add(channel));
    // Channel-wide (global) QoS: one channel per consumer, and RabbitMQ applies a change at once.
    await channel.prefetch(this.prefetch, true);
    this.channel = channel;
    this.tags = [];
    for (const q of this.queues) {
      const { consumerTag } = await channel.consume(q, (msg) => msg && this.deliver(channel, q, msg), { noAck: false });
      this.tags.push(consumerTag);
    }
  }

  private deliver(channel: Channel, queue: string, msg: ConsumeMessage): void {
    const entry = { msg, channel };
    this.held.add(entry);
    const p = msg.properties;
    const properties: TransportMessage['properties'] = {};
    if (p.correlationId !== undefined) properties.correlation_id = String(p.correlationId);
    if (p.replyTo !== undefined) properties.reply_to = String(p.replyTo);
    if (p.deliveryMode !== undefined) properties.delivery_mode = Number(p.deliveryMode);
    if (p.priority !== undefined) properties.priority = Number(p.priority);
    let settled = false;
    const settle = async (how: 'ack' | 'requeue' | 'drop'): Promise<void> => {
      if (settled) return;
      settled = true;
      this.held.delete(entry);
      // A delivery of a channel that has since closed was requeued by RabbitMQ: nothing to do.
      if (channel !== this.channel) return;
      try {
        if (how === 'ack') channel.ack(msg);
        else channel.nack(msg, false, how === 'requeue');
      } catch (err) {
        this.transport.logger.warn(`amqp broker: could not ${how} a message (${(err as Error).message}); RabbitMQ will redeliver it`);
      }
    };
    const headers = (p.headers ?? {}) as Record<string, unknown>;
    if (typeof headers[UNDECODABLE_HEADERS] === 'string') {
      this.transport.logger.error(
        `amqp broker: a message in queue ${queue} has headers that cannot be decoded (${logSafe(headers[UNDECODABLE_HEADERS])}); message rejected`,
      );
      void settle('drop');
      return;
    }
    const dead = this.dead;
    const delivery: Delivery = {
      message: {
        body: msg.content,
        contentType: String(p.contentType ?? 'application/json'),
        contentEncoding: String(p.contentEncoding ?? 'utf-8'),
        headers,
        properties,
      },
      deliveryTag: String(msg.fields.deliveryTag),
      redelivered: msg.fields.redelivered,
      exchange: msg.fields.exchange,
      routingKey: msg.fields.routingKey,
      queue,
      ack: () => settle('ack'),
      reject: (requeue) => settle(requeue ? 'requeue' : 'drop'),
      get withdrawn() {
        return dead.has(channel);
      },
    };
    this.handler(delivery);
  }

  setPrefetch(prefetch: number): void {
    this.prefetch = prefetch;
    void this.channel?.prefetch(prefetch, true).catch(() => undefined);
  }

  async cancel(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.transport.forget(this);
    for (const tag of this.tags) await this.channel?.cancel(tag).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.cancel();
    const channel = this.channel;
    this.channel = undefined;
    this.held.clear();
    // Closing the channel gives every unacked delivery back to its queue (redelivered).
    await channel?.close().catch(() => undefined);
  }
}

/** The AMQP broker driver. */
export class AmqpTransport implements Transport {
  readonly driver = 'amqp';
  readonly logger: Logger;
  private readonly url: string;
  private readonly connectTimeoutMs: number;
  private readonly heartbeat: number;
  private conn: ChannelModel | undefined;
  private publisher: ConfirmChannel | undefined;
  private reconnecting: Promise<void> | undefined;
  private closed = false;
  private readonly exchanges = new Map<string, { type: ExchangeType; options: ExchangeOptions }>();
  private readonly queues = new Map<string, QueueSpec>();
  private readonly consumers = new Set<AmqpConsumer>();

  constructor(options: TransportOptions) {
    this.url = amqpUrl(options.url);
    const o = options.transportOptions;
    this.connectTimeoutMs = numberOption(o, 'connectTimeout', 10) * 1000;
    this.heartbeat = numberOption(o, 'heartbeat', 60);
    this.logger = options.logger ?? silentLogger;
  }

  /** @internal */
  connection(): ChannelModel {
    if (!this.conn) throw new OperationalError(`amqp broker ${redactUrl(this.url)} is not connected`);
    return this.conn;
  }

  async connect(): Promise<void> {
    if (this.conn) return;
    this.closed = false;
    await this.open();
  }

  private async open(): Promise<void> {
    const amqp = await loadOptional('amqplib', 'amqp://', () => import('amqplib'));
    let conn: ChannelModel;
    try {
      const url = /[?&]heartbeat=/.test(this.url) ? this.url : `${this.url}${this.url.includes('?') ? '&' : '?'}heartbeat=${this.heartbeat}`;
      conn = await amqp.connect(url, { timeout: this.connectTimeoutMs });
    } catch (err) {
      throw new OperationalError(`RabbitMQ at ${redactUrl(this.url)} unreachable: ${(err as Error).message}`, { cause: err });
    }
    guardHeaderDecoding(conn);
    conn.on('error', () => undefined);
    conn.on('close', () => {
      if (this.conn !== conn) return;
      this.conn = undefined;
      this.publisher = undefined;
      if (!this.closed) this.scheduleReconnect();
    });
    this.conn = conn;
    this.publisher = await conn.createConfirmChannel();
    this.publisher.on('error', () => undefined);
  }

  private scheduleReconnect(): void {
    this.reconnecting ??= (async () => {
      for (let attempt = 1; !this.closed; attempt++) {
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** Math.min(attempt, 6), 5000)));
        try {
          await this.open();
          for (const [name, e] of this.exchanges) await this.withChannel((ch) => ch.assertExchange(name, e.type, amqpExchangeOptions(e.options)));
          for (const spec of this.queues.values()) await this.assertQueue(spec);
          for (const c of this.consumers) await c.open();
          this.logger.warn(`amqp broker: reconnected to ${redactUrl(this.url)} after ${attempt} attempt(s); consuming again`);
          return;
        } catch (err) {
          if (attempt === 1 || attempt % 10 === 0) this.logger.warn(`amqp broker: reconnecting to ${redactUrl(this.url)} failed (${(err as Error).message}); retrying`);
          await this.conn?.close().catch(() => undefined);
          this.conn = undefined;
        }
      }
    })().finally(() => (this.reconnecting = undefined));
  }

  /** Waits for a connection (reconnecting if needed), up to the connect timeout. */
  private async ready(): Promise<ChannelModel> {
    const deadline = Date.now() + this.connectTimeoutMs;
    while (!this.conn || !this.publisher) {
      if (this.closed) throw new OperationalError('amqp broker is closed');
      if (Date.now() > deadline) throw new OperationalError(`RabbitMQ at ${redactUrl(this.url)} unreachable for ${this.connectTimeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.conn;
  }

  /** Runs declarations on a throwaway channel: a refused one closes only that channel. */
  private async withChannel<T>(fn: (ch: Channel) => Promise<T>): Promise<T> {
    const ch = await (await this.ready()).createChannel();
    ch.on('error', () => undefined);
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of [...this.consumers]) await c.close();
    const conn = this.conn;
    this.conn = undefined;
    this.publisher = undefined;
    await conn?.close().catch(() => undefined);
  }

  async declareExchange(name: string, type: ExchangeType, options: ExchangeOptions = {}): Promise<void> {
    if (name === '') return;
    try {
      await this.withChannel((ch) => ch.assertExchange(name, type, amqpExchangeOptions(options)));
    } catch (err) {
      throw new OperationalError(`amqp broker: cannot declare exchange '${name}' (${type}): ${(err as Error).message}`, { cause: err });
    }
    this.exchanges.set(name, { type, options });
  }

  private async assertQueue(spec: QueueSpec): Promise<void> {
    await this.withChannel(async (ch) => {
      const args: Record<string, unknown> = { ...(spec.arguments ?? {}) };
      if (spec.maxPriority !== undefined) args['x-max-priority'] = spec.maxPriority;
      await ch.assertQueue(spec.name, { durable: spec.durable ?? true, autoDelete: spec.autoDelete ?? false, arguments: args });
      if (spec.exchange) {
        if (!this.exchanges.has(spec.exchange)) await ch.assertExchange(spec.exchange, spec.exchangeType ?? 'direct', { durable: true });
        await ch.bindQueue(spec.name, spec.exchange, spec.routingKey ?? spec.name);
      }
    });
  }

  async declareQueue(spec: QueueSpec): Promise<void> {
    try {
      await this.assertQueue(spec);
    } catch (err) {
      throw new OperationalError(`amqp broker: cannot declare queue '${spec.name}': ${(err as Error).message}`, { cause: err });
    }
    this.queues.set(spec.name, spec);
  }

  async publish(message: TransportMessage, route: Route): Promise<void> {
    await this.ready();
    const p = message.properties;
    const publisher = this.publisher!;
    await new Promise<void>((resolve, reject) => {
      const ok = publisher.publish(
        route.exchange,
        route.routingKey,
        message.body,
        {
          contentType: message.contentType,
          contentEncoding: message.contentEncoding,
          headers: message.headers,
          deliveryMode: typeof p.delivery_mode === 'number' ? p.delivery_mode : 2,
          ...(typeof p.priority === 'number' ? { priority: p.priority } : {}),
          ...(p.correlation_id !== undefined ? { correlationId: p.correlation_id } : {}),
          ...(p.reply_to !== undefined ? { replyTo: p.reply_to } : {}),
          ...(typeof p['expiration'] === 'string' ? { expiration: p['expiration'] } : {}),
        },
        (err) => (err ? reject(new OperationalError(`RabbitMQ refused the message: ${String(err)}`)) : resolve()),
      );
      void ok; // back-pressure is handled by waiting for the confirm
    });
  }

  async consume(queues: readonly string[], handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer> {
    await this.ready();
    const consumer = new AmqpConsumer(this, [...queues], handler, options.prefetch);
    await consumer.open();
    this.consumers.add(consumer);
    return consumer;
  }

  async purge(queue: string): Promise<number> {
    return this.withChannel(async (ch) => (await ch.purgeQueue(queue)).messageCount).catch(() => 0);
  }

  async size(queue: string): Promise<number> {
    return this.withChannel(async (ch) => (await ch.checkQueue(queue)).messageCount).catch(() => 0);
  }

  /** @internal */
  forget(consumer: AmqpConsumer): void {
    this.consumers.delete(consumer);
  }
}

function amqpExchangeOptions(options: ExchangeOptions): { durable: boolean; autoDelete: boolean } {
  return { durable: options.durable ?? true, autoDelete: options.autoDelete ?? false };
}
