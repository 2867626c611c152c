/**
 * The remote-control commands a worker answers, with Celery's names, arguments and reply shapes
 * (celery/worker/control.py), so `celery inspect` / `celery control` and Flower work on celeriac
 * workers too.
 */
import { loadavg, type } from 'node:os';
import type { Request } from '../task/request.js';
import type { Task } from '../task/task.js';
import type { Worker } from '../worker/worker.js';
import { queueDefinition } from '../app/queues.js';

/** The celeriac version reported to monitors. */
export const SW_VERSION = '0.1.0';

/** A private key given inline (`securityKey` as PEM text) never leaves the worker. */
function maskPrivateKey(value: unknown): unknown {
  return typeof value === 'string' && value.includes('PRIVATE KEY-----') ? '********' : value;
}

/** A command's reply (JSON), or undefined for commands that do not reply (shutdown). */
export type ControlReply = unknown;

/** What a command can reach. */
export interface ControlContext {
  worker: Worker;
  /** Logical clock of the mailbox (Lamport, as kombu keeps it). */
  clock(): number;
  /** Persists the revoked set (statedb), if configured. */
  saveRevoked(): void;
}

/** A command handler. */
export type ControlHandler = (ctx: ControlContext, args: Record<string, unknown>) => ControlReply | Promise<ControlReply>;

const ok = (value: string): { ok: string } => ({ ok: value });
const nok = (value: string): { error: string } => ({ error: value });

function list(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** Celery's `Request.info()`. */
export function requestInfo(request: Request, task: Task, worker: Worker, timeStart: number | null, safe = false): Record<string, unknown> {
  return {
    id: request.id,
    name: task.name,
    args: safe ? request.argsrepr : request.args,
    kwargs: safe ? request.kwargsrepr : request.kwargs,
    type: task.name,
    hostname: worker.hostname,
    time_start: timeStart,
    acknowledged: !(task.acksLate ?? worker.app.conf.taskAcksLate) && timeStart !== null,
    delivery_info: {
      exchange: request.deliveryInfo?.exchange ?? '',
      routing_key: request.deliveryInfo?.routingKey ?? '',
      priority: request.deliveryInfo?.priority ?? null,
      redelivered: request.deliveryInfo?.redelivered ?? false,
    },
    worker_pid: process.pid,
  };
}

function active(ctx: ControlContext, safe: boolean): Array<Record<string, unknown>> {
  const { worker } = ctx;
  return [...worker.active.values()].map((a) => requestInfo(a.request, a.task, worker, a.startedAt / 1000, safe));
}

function waiting(ctx: ControlContext): { scheduled: Array<Record<string, unknown>>; reserved: Array<Record<string, unknown>> } {
  const { worker } = ctx;
  const scheduled: Array<Record<string, unknown>> = [];
  const reserved: Array<Record<string, unknown>> = [];
  const now = Date.now();
  for (const [id, r] of worker.received) {
    if (worker.active.has(id)) continue;
    const info = requestInfo(r.request, r.task, worker, null);
    if (r.request.eta && r.request.eta.getTime() > now) {
      scheduled.push({ eta: r.request.eta.toISOString(), priority: r.request.deliveryInfo?.priority ?? 0, request: info });
    } else reserved.push(info);
  }
  return { scheduled, reserved };
}

/** The commands, by name (aliases included). */
export const COMMANDS: Record<string, ControlHandler> = {
  ping: () => ok('pong'),
  report: (ctx) => ok(`celeriac ${SW_VERSION} on node ${process.version}, ${type()}; app ${ctx.worker.app.main}; broker ${ctx.worker.app.conf.brokerUrl.replace(/\/\/[^@/]*@/, '//**@')}`),
  clock: (ctx) => ({ clock: ctx.clock() }),
  stats: (ctx) => {
    const { worker } = ctx;
    const usage = process.resourceUsage();
    return {
      total: Object.fromEntries(worker.processed),
      pid: process.pid,
      clock: ctx.clock(),
      uptime: Math.round((Date.now() - worker.startedAt) / 1000),
      pool: { 'max-concurrency': worker.concurrency, implementation: `celeriac:${worker.pool.kind}`, processes: [process.pid] },
      broker: { transport: worker.app.conf.brokerUrl.split(':')[0] },
      prefetch_count: worker.prefetch,
      rusage: { utime: usage.userCPUTime / 1e6, stime: usage.systemCPUTime / 1e6, maxrss: usage.maxRSS },
      sw_ident: 'celeriac',
      sw_ver: SW_VERSION,
    };
  },
  active: (ctx, args) => active(ctx, args['safe'] === true),
  reserved: (ctx) => waiting(ctx).reserved,
  scheduled: (ctx) => waiting(ctx).scheduled,
  revoked: (ctx) => [...ctx.worker.app.revoked],
  registered: (ctx, args) =>
    (args['builtins'] === true ? ctx.worker.app.tasks.names() : ctx.worker.app.tasks.userNames()).slice().sort(),
  query_task: (ctx, args) => {
    const out: Record<string, unknown> = {};
    const { worker } = ctx;
    for (const id of list(args['ids'])) {
      const a = worker.active.get(id);
      if (a) {
        out[id] = ['active', requestInfo(a.request, a.task, worker, a.startedAt / 1000)];
        continue;
      }
      const r = worker.received.get(id);
      if (r) out[id] = ['reserved', requestInfo(r.request, r.task, worker, null)];
    }
    return out;
  },
  conf: (ctx) => {
    const conf = ctx.worker.app.conf as unknown as Record<string, unknown>;
    return Object.fromEntries(
      Object.entries(conf)
        .filter(([, v]) => typeof v !== 'function')
        .map(([k, v]) => [k, /url|backend/i.test(k) && typeof v === 'string' ? v.replace(/\/\/[^@/]*@/, '//**@') : maskPrivateKey(v)]),
    );
  },
  revoke: async (ctx, args) => {
    const ids = list(args['task_id']);
    const terminate = args['terminate'] === true;
    const signal = typeof args['signal'] === 'string' ? (args['signal'] as string) : undefined;
    const running = ids.filter((id) => ctx.worker.active.has(id));
    await ctx.worker.app.revoke(ids, { terminate, ...(signal ? { signal: normalizeSignal(signal) } : {}) });
    ctx.saveRevoked();
    if (terminate) return running.length === 0 ? ok('terminate: tasks unknown') : ok(`terminate: ${running.join(', ')}`);
    return ok(`tasks ${ids.join(', ')} flagged as revoked`);
  },
  terminate: (ctx, args) => COMMANDS['revoke']!(ctx, { task_id: args['task_id'], terminate: true, signal: args['signal'] ?? 'TERM' }),
  rate_limit: (ctx, args) => {
    const task = ctx.worker.app.tasks.get(String(args['task_name']));
    if (!task) return nok(`unknown task ${String(args['task_name'])}`);
    const rate = args['rate_limit'];
    task.rateLimit = rate === null || rate === undefined || rate === '' || rate === 0 ? null : (rate as string | number);
    return ok(task.rateLimit === null ? 'rate limit disabled successfully' : 'new rate limit set successfully');
  },
  time_limit: (ctx, args) => {
    const task = ctx.worker.app.tasks.get(String(args['task_name']));
    if (!task) return nok(`unknown task ${String(args['task_name'])}`);
    task.timeLimit = typeof args['hard'] === 'number' ? args['hard'] : null;
    task.softTimeLimit = typeof args['soft'] === 'number' ? args['soft'] : null;
    return ok('time limits set successfully');
  },
  add_consumer: async (ctx, args) => {
    const queue = String(args['queue']);
    if (ctx.worker.queues.includes(queue)) return ok(`already consuming from ${queue}`);
    await ctx.worker.addQueue(queue);
    return ok(`add consumer ${queue}`);
  },
  cancel_consumer: async (ctx, args) => {
    const queue = String(args['queue']);
    await ctx.worker.cancelQueue(queue);
    return ok(`no longer consuming from ${queue}`);
  },
  active_queues: (ctx) =>
    ctx.worker.queues.map((name) => {
      const queue = queueDefinition(ctx.worker.app.conf, name, true);
      return {
        name,
        exchange: { name: queue.exchange, type: queue.exchangeType },
        routing_key: queue.routingKey,
        durable: true,
        exclusive: false,
        auto_delete: false,
        no_ack: false,
      };
    }),
  pool_grow: (ctx, args) => {
    ctx.worker.resizePool(ctx.worker.concurrency + Math.max(1, Number(args['n'] ?? 1)));
    return ok('pool will grow');
  },
  pool_shrink: (ctx, args) => {
    ctx.worker.resizePool(Math.max(1, ctx.worker.concurrency - Math.max(1, Number(args['n'] ?? 1))));
    return ok('pool will shrink');
  },
  shutdown: (ctx, args) => {
    ctx.worker.logger.warn(typeof args['msg'] === 'string' ? args['msg'] : 'Got shutdown from remote');
    setImmediate(() => void ctx.worker.stop());
    return undefined;
  },
  hello: (ctx, args) => {
    if (args['from_node'] === ctx.worker.hostname) return undefined;
    for (const id of list(args['revoked'])) ctx.worker.app.revoked.add(id);
    return { revoked: [...ctx.worker.app.revoked], clock: ctx.clock() };
  },
};

/** Celery's aliases. */
for (const [alias, name] of Object.entries({ dump_active: 'active', dump_reserved: 'reserved', dump_schedule: 'scheduled', dump_revoked: 'revoked', dump_tasks: 'registered' })) {
  COMMANDS[alias] = COMMANDS[name]!;
}

/** `KILL`, `SIGKILL`, `9` → `SIGKILL`. */
export function normalizeSignal(signal: string): NodeJS.Signals {
  const named: Record<string, NodeJS.Signals> = { '9': 'SIGKILL', '15': 'SIGTERM', '2': 'SIGINT', '1': 'SIGHUP' };
  const up = signal.toUpperCase();
  return (named[up] ?? (up.startsWith('SIG') ? up : `SIG${up}`)) as NodeJS.Signals;
}

/** The load average as monitors expect it. */
export function loadAverage(): number[] {
  return loadavg().map((n) => Math.round(n * 100) / 100);
}
