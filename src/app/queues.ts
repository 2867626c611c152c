/**
 * The queue-definition rule, the one place it is written: how a queue named by a route, a task
 * option, `-Q` or remote control is declared and published to. Celery's rule:
 *
 * - a `task_queues` entry is used as given; a missing exchange is the default exchange, a missing
 *   routing key is the queue's name;
 * - the default queue (`task_default_queue`) uses `task_default_exchange` and
 *   `task_default_routing_key`, each of which, when unset, is the default queue's name (so
 *   `taskDefaultQueue: 'default'` publishes to exchange `default` with routing key `default`);
 * - any other name is a direct exchange and routing key of its own name, when
 *   `task_create_missing_queues` allows it.
 */
import type { QueueSpec } from '../broker/port.js';
import type { QueueDefinition, Settings } from '../config/settings.js';
import { ImproperlyConfigured } from '../errors/index.js';

/** A queue definition with its exchange, type and routing key filled in. */
export type ResolvedQueue = QueueDefinition & Required<Pick<QueueDefinition, 'exchange' | 'exchangeType' | 'routingKey'>>;

/** The default exchange's name: `task_default_exchange`, else the default queue's name. */
export function defaultExchange(conf: Settings): string {
  return conf.taskDefaultExchange ?? conf.taskDefaultQueue;
}

/** The default routing key: `task_default_routing_key`, else the default queue's name. */
export function defaultRoutingKey(conf: Settings): string {
  return conf.taskDefaultRoutingKey ?? conf.taskDefaultQueue;
}

/**
 * The definition of the queue `name`. Throws ImproperlyConfigured for a name that is neither in
 * `task_queues` nor the default queue when `createMissing` is off.
 */
export function queueDefinition(conf: Settings, name: string, createMissing = conf.taskCreateMissingQueues): ResolvedQueue {
  const known = conf.taskQueues?.find((q) => q.name === name);
  if (known) {
    return {
      ...known,
      exchange: known.exchange ?? defaultExchange(conf),
      exchangeType: known.exchangeType ?? (known.exchange === undefined ? conf.taskDefaultExchangeType : 'direct'),
      routingKey: known.routingKey ?? name,
    };
  }
  if (name === conf.taskDefaultQueue) {
    return { name, exchange: defaultExchange(conf), exchangeType: conf.taskDefaultExchangeType, routingKey: defaultRoutingKey(conf) };
  }
  if (!createMissing) {
    throw new ImproperlyConfigured(`queue '${name}' is not defined in task_queues (and task_create_missing_queues is off)`);
  }
  return { name, exchange: name, exchangeType: 'direct', routingKey: name };
}

/** How a resolved queue is declared on the broker. */
export function queueSpec(queue: ResolvedQueue): QueueSpec {
  const { name, exchange, exchangeType, routingKey, maxPriority, arguments: args } = queue;
  return {
    name,
    exchange,
    exchangeType,
    routingKey,
    ...(maxPriority !== undefined ? { maxPriority } : {}),
    ...(args !== undefined ? { arguments: args } : {}),
  };
}
