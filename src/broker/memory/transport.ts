/**
 * Memory broker: `memory://` (optionally `memory://<name>`).
 *
 * Features: default/direct/topic/fanout exchanges, priorities (higher number first, 0-255, as on
 * AMQP), per-consumer prefetch, ack/reject/requeue, redelivery (with `redelivered`) of what a
 * consumer held when it closes. State belongs to the transport instance (one per app): nothing is
 * shared through module globals, so tests and apps stay isolated. Not durable, one process only:
 * for tests and for trying things out.
 */
import { OperationalError } from '../../errors/index.js';
import type { TransportMessage } from '../../protocol/message.js';
import { uuid } from '../../utils/ids.js';
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
import { ExchangeTable } from '../virtual/exchange.js';

interface Stored {
  message: TransportMessage;
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  priority: number;
  seq: number;
}

/**
 * A queue: ready messages sorted by priority (high first), then arrival. Taking from the front
 * moves a head index instead of shifting the array (a drain of a long queue stays linear).
 */
class MemoryQueue {
  private items: Stored[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  peek(): Stored | undefined {
    return this.items[this.head];
  }

  push(item: Stored, front: boolean): void {
    // Insert keeping (priority desc, seq asc); a requeued message keeps its old seq so it goes
    // back near the front, as AMQP requeues do.
    const items = this.items;
    let i = items.length;
    if (front) {
      i = this.head;
      while (i < items.length && !(items[i]!.priority < item.priority || (items[i]!.priority === item.priority && items[i]!.seq > item.seq))) i++;
    } else {
      while (i > this.head && items[i - 1]!.priority < item.priority) i--;
    }
    if (i === items.length) items.push(item);
    else items.splice(i, 0, item);
  }

  shift(): Stored | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Removes every ready message; returns how many there were. */
  clear(): number {
    const n = this.length;
    this.items = [];
    this.head = 0;
    return n;
  }
}

class MemoryConsumer implements Consumer {
  readonly unacked = new Map<string, { item: Stored; queue: string }>();
  active = true;

  constructor(
    private readonly transport: MemoryTransport,
    readonly queues: readonly string[],
    readonly handler: DeliveryHandler,
    public prefetch: number,
  ) {}

  hasCapacity(): boolean {
    return this.active && (this.prefetch === 0 || this.unacked.size < this.prefetch);
  }

  setPrefetch(prefetch: number): void {
    this.prefetch = prefetch;
    this.transport.schedule();
  }

  async cancel(): Promise<void> {
    this.active = false;
    this.transport.removeConsumer(this);
  }

  async close(): Promise<void> {
    await this.cancel();
    for (const [tag, { item, queue }] of [...this.unacked]) {
      this.unacked.delete(tag);
      this.transport.requeue(queue, item);
    }
  }
}

/** The in-memory broker driver. */
export class MemoryTransport implements Transport {
  readonly driver = 'memory';
  private readonly queues = new Map<string, MemoryQueue>();
  private readonly exchanges = new ExchangeTable();
  private consumers: MemoryConsumer[] = [];
  private rr = 0;
  private seq = 0;
  private scheduled = false;
  private closed = false;

  constructor(_options?: TransportOptions) {}

  async connect(): Promise<void> {
    this.closed = false;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of [...this.consumers]) await c.close();
  }

  async declareExchange(name: string, type: ExchangeType): Promise<void> {
    this.exchanges.declare(name, type);
  }

  async declareQueue(spec: QueueSpec): Promise<void> {
    this.queue(spec.name);
    if (spec.exchange !== undefined && spec.exchange !== '') {
      this.exchanges.bind(spec.exchange, spec.name, spec.routingKey ?? spec.name, spec.exchangeType ?? 'direct');
    }
  }

  private queue(name: string): MemoryQueue {
    let q = this.queues.get(name);
    if (!q) {
      q = new MemoryQueue();
      this.queues.set(name, q);
    }
    return q;
  }

  async publish(message: TransportMessage, route: Route): Promise<void> {
    if (this.closed) throw new OperationalError('memory broker is closed');
    const raw = message.properties.priority;
    const priority = typeof raw === 'number' ? Math.max(0, Math.min(255, Math.trunc(raw))) : 0;
    for (const name of this.exchanges.lookup(route)) {
      // Each queue gets its own copy, as a fanout would deliver.
      const copy: TransportMessage = { ...message, headers: { ...message.headers }, properties: { ...message.properties } };
      this.queue(name).push(
        { message: copy, exchange: route.exchange, routingKey: route.routingKey, redelivered: false, priority, seq: this.seq++ },
        false,
      );
    }
    this.schedule();
  }

  async consume(queues: readonly string[], handler: DeliveryHandler, options: ConsumeOptions): Promise<Consumer> {
    for (const q of queues) this.queue(q);
    const consumer = new MemoryConsumer(this, [...queues], handler, options.prefetch);
    this.consumers.push(consumer);
    this.schedule();
    return consumer;
  }

  async purge(queue: string): Promise<number> {
    const q = this.queues.get(queue);
    if (!q) return 0;
    return q.clear();
  }

  async size(queue: string): Promise<number> {
    return this.queues.get(queue)?.length ?? 0;
  }

  /** @internal */
  removeConsumer(consumer: MemoryConsumer): void {
    this.consumers = this.consumers.filter((c) => c !== consumer);
  }

  /** @internal Gives a message back to its queue, marked redelivered. */
  requeue(queue: string, item: Stored): void {
    this.queue(queue).push({ ...item, redelivered: true }, true);
    this.schedule();
  }

  /**
   * @internal Dispatches soon, never inside publish/ack. A macrotask, not a microtask: a consumer
   * that keeps requeueing must not starve timers and I/O.
   */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    let progressed = true;
    while (progressed) {
      progressed = false;
      const n = this.consumers.length;
      for (let k = 0; k < n; k++) {
        const consumer = this.consumers[(this.rr + k) % n];
        if (!consumer || !consumer.hasCapacity()) continue;
        const picked = this.pick(consumer.queues);
        if (!picked) continue;
        this.rr = (this.rr + k + 1) % Math.max(1, n);
        this.deliver(consumer, picked.queue, picked.item);
        progressed = true;
        break;
      }
    }
  }

  private pick(queues: readonly string[]): { queue: string; item: Stored } | undefined {
    // Highest priority across the consumer's queues; ties go to the first queue listed.
    let best: { queue: string; q: MemoryQueue } | undefined;
    for (const name of queues) {
      const q = this.queues.get(name);
      const head = q?.peek();
      if (!q || !head) continue;
      if (!best || head.priority > best.q.peek()!.priority) best = { queue: name, q };
    }
    if (!best) return undefined;
    return { queue: best.queue, item: best.q.shift()! };
  }

  private deliver(consumer: MemoryConsumer, queue: string, item: Stored): void {
    const tag = uuid();
    consumer.unacked.set(tag, { item, queue });
    let settled = false;
    const settle = (requeue: boolean | null): void => {
      if (settled) return;
      settled = true;
      const held = consumer.unacked.get(tag);
      consumer.unacked.delete(tag);
      if (requeue && held) this.requeue(queue, item);
      this.schedule();
    };
    const delivery: Delivery = {
      message: item.message,
      deliveryTag: tag,
      redelivered: item.redelivered,
      exchange: item.exchange,
      routingKey: item.routingKey,
      queue,
      ack: async () => settle(null),
      reject: async (requeue) => settle(requeue),
    };
    consumer.handler(delivery);
  }
}
