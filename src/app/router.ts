/**
 * Routing: which queue (and exchange / routing key) a task message goes to. In order: the call's
 * own options, `task_routes` (by exact name, glob, or function), the task's `queue` option, then
 * `task_default_queue`. Queues are taken from `task_queues`, or created from their name when
 * `task_create_missing_queues` is on.
 */
import type { RouteTarget, Settings, TaskRoutes } from '../config/settings.js';
import { globToRegExp } from '../utils/glob.js';
import { queueDefinition, type ResolvedQueue } from './queues.js';

/** A resolved route. */
export interface ResolvedRoute {
  queue: ResolvedQueue;
  /** The exchange to publish to (`''` = default exchange). */
  exchange: string;
  routingKey: string;
  priority?: number;
}

function asTarget(value: RouteTarget | string | null | undefined): RouteTarget | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? { queue: value } : value;
}

/** What the router needs to know about a call. */
export interface RouteRequest {
  name: string;
  args: readonly unknown[];
  kwargs: Readonly<Record<string, unknown>>;
  options: { queue?: string; exchange?: string; routingKey?: string; priority?: number };
  /** The task's own `queue` option, if the task is registered here. */
  taskQueue?: string | undefined;
}

/** Resolves routes against the app's settings. */
export class Router {
  constructor(private readonly conf: Settings) {}

  private fromRoutes(req: RouteRequest): RouteTarget | undefined {
    const routes: TaskRoutes | null = this.conf.taskRoutes;
    if (!routes) return undefined;
    const list = Array.isArray(routes) ? routes : [routes];
    for (const entry of list as ReadonlyArray<Record<string, RouteTarget | string> | ((...a: never[]) => unknown)>) {
      if (typeof entry === 'function') {
        const fn = entry as unknown as (n: string, a: readonly unknown[], k: Readonly<Record<string, unknown>>, o: Readonly<Record<string, unknown>>) => RouteTarget | string | null | undefined;
        const target = asTarget(fn(req.name, req.args, req.kwargs, req.options));
        if (target) return target;
        continue;
      }
      const exact = entry[req.name];
      if (exact !== undefined) return asTarget(exact);
      for (const [pattern, target] of Object.entries(entry)) {
        if (/[*?]/.test(pattern) && globToRegExp(pattern).test(req.name)) return asTarget(target);
      }
    }
    return undefined;
  }

  /** The queue definition of a name (see {@link queueDefinition}). */
  queue(name: string): ResolvedQueue {
    return queueDefinition(this.conf, name);
  }

  /** Resolves the route of one call. */
  route(req: RouteRequest): ResolvedRoute {
    const routed = this.fromRoutes(req);
    const queueName = req.options.queue ?? routed?.queue ?? req.taskQueue ?? this.conf.taskDefaultQueue;
    const queue = this.queue(queueName);
    const exchange = req.options.exchange ?? routed?.exchange ?? queue.exchange;
    const routingKey = req.options.routingKey ?? routed?.routingKey ?? queue.routingKey;
    const priority = req.options.priority ?? routed?.priority;
    // A direct exchange whose routing key is the queue's own name reaches the same queue through
    // the default exchange; Celery publishes such messages there, and so do we.
    const direct = queue.exchangeType === 'direct' && exchange === queue.exchange && routingKey === queue.name;
    return {
      queue,
      exchange: direct ? '' : exchange,
      routingKey,
      ...(priority !== undefined ? { priority } : {}),
    };
  }
}
