/**
 * The broker port: the narrow interface every broker driver implements (memory, SQLite, Redis,
 * AMQP). It moves {@link TransportMessage}s between named queues, routed through exchanges as AMQP
 * and kombu define them; the worker builds acknowledgement, prefetch and redelivery policy on top.
 *
 * Glossary
 * - exchange: a router. `''` is the default exchange (routing key = queue name); `direct`
 *   matches the routing key exactly, `topic` by pattern, `fanout` copies to every bound queue.
 * - delivery: one message handed to one consumer, unacknowledged until `ack()` or `reject()`.
 * - prefetch: how many unacknowledged deliveries a consumer may hold at once.
 * - redelivered: true when a message was delivered before and came back without an ack.
 */
import type { Logger } from '../logging/logger.js';
import type { TransportMessage } from '../protocol/message.js';

/** Where a message is published to. */
export interface Route {
  /** Exchange name; `''` for the default exchange. */
  exchange: string;
  /** Routing key; the queue name on the default exchange. */
  routingKey: string;
}

/** Exchange types, as AMQP defines them. */
export type ExchangeType = 'direct' | 'topic' | 'fanout';

/** Flags of an exchange (AMQP). */
export interface ExchangeOptions {
  /** @defaultValue true */
  durable?: boolean;
  /** @defaultValue false */
  autoDelete?: boolean;
}

/** A queue to declare, with its binding. */
export interface QueueSpec {
  name: string;
  /** Exchange to bind the queue to (besides the default exchange). @defaultValue no binding */
  exchange?: string;
  /** @defaultValue `'direct'` */
  exchangeType?: ExchangeType;
  /** @defaultValue the queue name */
  routingKey?: string;
  /** @defaultValue true */
  durable?: boolean;
  /** Highest priority honoured (`x-max-priority`). @defaultValue broker-specific */
  maxPriority?: number;
  /** Removed when its last consumer leaves. @defaultValue false */
  autoDelete?: boolean;
  /** Broker-specific arguments (`x-dead-letter-exchange`, `x-expires`, ...). */
  arguments?: Record<string, unknown>;
}

/** One message handed to a consumer. */
export interface Delivery {
  readonly message: TransportMessage;
  /** Broker-unique id of this delivery. */
  readonly deliveryTag: string;
  /** True when this message was delivered before without being acknowledged. */
  readonly redelivered: boolean;
  readonly exchange: string;
  readonly routingKey: string;
  /** The queue the message was taken from. */
  readonly queue: string;
  /** Acknowledges: the broker forgets the message. Idempotent. */
  ack(): Promise<void>;
  /** Rejects: requeued (`true`) or dropped / dead-lettered (`false`). Idempotent. */
  reject(requeue: boolean): Promise<void>;
  /**
   * True once the broker has taken the message back without an ack or reject from us (an AMQP
   * channel that closed: RabbitMQ requeues its deliveries and hands them out again). A worker
   * must not start a withdrawn delivery: it would run twice. Absent on brokers that never
   * withdraw a delivery.
   */
  readonly withdrawn?: boolean;
}

/** Options of {@link Transport.consume}. */
export interface ConsumeOptions {
  /** Most unacknowledged deliveries held at once; 0 = unlimited. */
  prefetch: number;
}

/** A running subscription to one or more queues. */
export interface Consumer {
  readonly queues: readonly string[];
  /** Changes the prefetch limit (Celery's QoS `increment`/`decrement`). */
  setPrefetch(prefetch: number): void;
  /** Stops new deliveries; held deliveries can still be acked or rejected. */
  cancel(): Promise<void>;
  /**
   * Cancels and gives back every delivery still unacknowledged (marked redelivered), as a broker
   * does when a consumer's channel closes.
   */
  close(): Promise<void>;
}

/** Callback receiving deliveries. Must not throw: errors are the worker's to handle. */
export type DeliveryHandler = (delivery: Delivery) => void;

/** A broker driver. One instance is one connection (pool) owned by one app. */
export interface Transport {
  /** Driver name for logs (`memory`, `redis`, ...). */
  readonly driver: string;
  /** Opens connections; rejects with OperationalError when the broker is unreachable. */
  connect(): Promise<void>;
  /** Closes everything; held deliveries are given back. */
  close(): Promise<void>;
  /**
   * Declares an exchange (idempotent). `options` matter on AMQP, where a redeclaration with other
   * flags is an error: Celery's task exchanges are durable, its pidbox exchanges are not.
   */
  declareExchange(name: string, type: ExchangeType, options?: ExchangeOptions): Promise<void>;
  /** Declares a queue and its binding (idempotent). */
  declareQueue(spec: QueueSpec): Promise<void>;
  /** Publishes; resolves once the broker has the message. */
  publish(message: TransportMessage, route: Route): Promise<void>;
  /** Starts delivering messages of `queues` to `handler`. */
  consume(queues: readonly string[], handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer>;
  /** Deletes every ready message of a queue; returns how many. */
  purge(queue: string): Promise<number>;
  /** Number of ready messages in a queue. */
  size(queue: string): Promise<number>;
}

/** Options every driver factory receives. */
export interface TransportOptions {
  /** The broker URL as configured. */
  url: string;
  /** Driver-specific options (`broker_transport_options`). */
  transportOptions: Record<string, unknown>;
  /** Where the driver logs (reconnects, lease trouble). @defaultValue silent */
  logger?: Logger;
  /**
   * Largest message body a consumer takes (the app's `messageMaxBytes`). Drivers that can see a
   * message's size before reading it whole (SQLite, Redis) reject bigger ones there, with one log
   * line, so they never take the memory; others leave the check to the worker. @defaultValue no limit
   */
  messageMaxBytes?: number;
}

/** Creates a driver for a URL. */
export type TransportFactory = (options: TransportOptions) => Transport | Promise<Transport>;
