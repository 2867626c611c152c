/**
 * Exchange routing for brokers that have no exchanges of their own (memory, SQLite, Redis), as
 * kombu's virtual transport emulates them: a table of bindings, looked up per publish.
 */
import type { ExchangeType, Route } from '../port.js';

/** A queue bound to an exchange with a routing key (or topic pattern). */
export interface Binding {
  queue: string;
  routingKey: string;
}

/** Compiles an AMQP topic pattern (`*` one word, `#` zero or more) to a RegExp. */
export function topicPattern(pattern: string): RegExp {
  const words = pattern.split('.').map((w) => (w === '#' ? '\u0001' : w === '*' ? '[^.]+' : w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  const src = words
    .join('\\.')
    .replace(/\\\.\u0001/g, '(?:\\..*)?')
    .replace(/\u0001\\\./g, '(?:.*\\.)?')
    .replace(/\u0001/g, '.*');
  return new RegExp(`^${src}$`);
}

/**
 * The queues among `bindings` a message with `routingKey` goes to on an exchange of `type`
 * (fanout: all; topic: pattern match; direct: equal keys), each queue once. Every virtual broker
 * routes with this; what an unknown exchange or an empty binding list means is the caller's rule.
 */
export function matchBindings(type: ExchangeType, bindings: readonly Binding[], routingKey: string): string[] {
  const match =
    type === 'fanout'
      ? bindings
      : type === 'topic'
        ? bindings.filter((b) => topicPattern(b.routingKey).test(routingKey))
        : bindings.filter((b) => b.routingKey === routingKey);
  return [...new Set(match.map((b) => b.queue))];
}

/** The exchanges and bindings of one virtual broker. */
export class ExchangeTable {
  private readonly exchanges = new Map<string, { type: ExchangeType; bindings: Binding[] }>();

  declare(name: string, type: ExchangeType): void {
    if (name === '') return;
    if (!this.exchanges.has(name)) this.exchanges.set(name, { type, bindings: [] });
  }

  bind(exchange: string, queue: string, routingKey: string, type: ExchangeType = 'direct'): void {
    if (exchange === '') return;
    this.declare(exchange, type);
    const ex = this.exchanges.get(exchange)!;
    if (!ex.bindings.some((b) => b.queue === queue && b.routingKey === routingKey)) {
      ex.bindings.push({ queue, routingKey });
    }
  }

  unbindQueue(queue: string): void {
    for (const ex of this.exchanges.values()) ex.bindings = ex.bindings.filter((b) => b.queue !== queue);
  }

  typeOf(exchange: string): ExchangeType | undefined {
    return this.exchanges.get(exchange)?.type;
  }

  /**
   * The queues a message published on `route` goes to. The default exchange routes to the queue
   * named by the routing key; an undeclared exchange is treated the same way (kombu's behaviour
   * for a direct exchange whose name is the queue's).
   */
  lookup(route: Route): string[] {
    const ex = this.exchanges.get(route.exchange);
    if (route.exchange === '' || !ex) return [route.routingKey];
    return matchBindings(ex.type, ex.bindings, route.routingKey);
  }
}
