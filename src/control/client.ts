/**
 * The client side of remote control (Celery's `app.control`): broadcasts a command to the
 * workers (all, or `destination` / a hostname `pattern`) and collects their replies until a
 * timeout or `limit` replies. Works on every broker with fanout exchanges, alongside Celery's own
 * `celery inspect` / `celery control`.
 *
 * @example
 * const replies = await app.control.inspect({ timeout: 1 }).ping();
 * // [{ 'celeriac@host': { ok: 'pong' } }]
 * await app.control.revoke(taskId, { terminate: true });
 */
import type { Consumer, Delivery, Transport } from '../broker/port.js';
import type { Celeriac } from '../app/celeriac.js';
import { uuid } from '../utils/ids.js';
import { decodePayload } from '../protocol/message.js';
import { controlMessage, declarePidbox, PIDBOX_EXCHANGE, REPLY_EXCHANGE, replyQueue } from './pidbox.js';

/** Who a command is for and how long to wait. */
export interface BroadcastOptions {
  /** Hostnames to address; all workers when omitted. */
  destination?: string[];
  /** A hostname glob (or regular expression with `matcher: 'pcre'`). */
  pattern?: string;
  matcher?: 'glob' | 'pcre';
  /** Seconds to wait for replies. @defaultValue 1 */
  timeout?: number;
  /** Stop waiting after this many replies. */
  limit?: number;
}

/** One reply per worker: `{ <hostname>: <reply> }`. */
export type Replies = Array<Record<string, unknown>>;

interface Collector {
  replies: Replies;
  limit: number | undefined;
  done: () => void;
}

/** `app.control`. */
export class Control {
  private consumer: Promise<Consumer> | undefined;
  /** The pidbox exchanges, declared once per client (two round trips on AMQP). */
  private declared: Promise<Transport> | undefined;
  private readonly collectors = new Map<string, Collector>();
  private clock = 0;

  constructor(private readonly app: Celeriac) {}

  /** Sends a command; with `reply`, resolves with the replies collected. */
  async broadcast(command: string, options: BroadcastOptions & { arguments?: Record<string, unknown>; reply?: boolean } = {}): Promise<Replies> {
    const transport = await this.pidbox();
    const ticket = uuid();
    const timeout = (options.timeout ?? 1) * 1000;
    const wantReply = options.reply ?? false;
    let collected: Promise<Replies> = Promise.resolve([]);
    if (wantReply) {
      await this.replyConsumer();
      collected = new Promise<Replies>((resolve) => {
        const replies: Replies = [];
        let timer: NodeJS.Timeout | undefined;
        const done = (): void => {
          clearTimeout(timer);
          this.collectors.delete(ticket);
          resolve(replies);
        };
        timer = setTimeout(done, timeout);
        this.collectors.set(ticket, { replies, limit: options.limit ?? options.destination?.length, done });
      });
    }
    const body = {
      method: command,
      arguments: options.arguments ?? {},
      destination: options.destination ?? null,
      pattern: options.pattern ?? null,
      matcher: options.pattern ? (options.matcher ?? 'glob') : null,
      ticket,
      reply_to: wantReply ? { exchange: REPLY_EXCHANGE, routing_key: this.app.oid } : null,
    };
    const headers = { clock: ++this.clock, expires: Date.now() / 1000 + timeout / 1000 };
    await transport.publish(controlMessage(body, headers, this.app.codecs, this.app.conf.taskSerializer), {
      exchange: PIDBOX_EXCHANGE,
      routingKey: '',
    });
    return collected;
  }

  private pidbox(): Promise<Transport> {
    this.declared ??= (async () => {
      const transport = await this.app.getTransport();
      await declarePidbox(transport);
      return transport;
    })();
    this.declared.catch(() => (this.declared = undefined));
    return this.declared;
  }

  private replyConsumer(): Promise<Consumer> {
    this.consumer ??= (async () => {
      const transport = await this.app.getTransport();
      const spec = replyQueue(this.app.oid);
      await transport.declareQueue(spec);
      return transport.consume([spec.name], (d) => this.onReply(d), { prefetch: 0 });
    })();
    return this.consumer;
  }

  private onReply(d: Delivery): void {
    void d.ack();
    const ticket = d.message.headers['ticket'];
    const collector = typeof ticket === 'string' ? this.collectors.get(ticket) : undefined;
    if (!collector) return;
    try {
      collector.replies.push(decodePayload(d.message, this.app.codecs) as Record<string, unknown>);
    } catch (err) {
      this.app.logger.warn(`ignoring an unreadable control reply: ${(err as Error).message}`);
      return;
    }
    if (collector.limit !== undefined && collector.replies.length >= collector.limit) collector.done();
  }

  /** Closes the reply consumer. */
  async close(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    this.declared = undefined;
    if (consumer) await (await consumer).close();
  }

  /** Inspect commands (read-only), as `celery inspect`. */
  inspect(options: BroadcastOptions = {}): Inspect {
    return new Inspect(this, options);
  }

  /** Pings workers; resolves with `[{ host: { ok: 'pong' } }, ...]`. */
  ping(options: BroadcastOptions = {}): Promise<Replies> {
    return this.broadcast('ping', { ...options, reply: true });
  }

  /** Revokes tasks on every worker (and in this process), terminating running ones if asked. */
  async revoke(taskId: string | string[], options: BroadcastOptions & { terminate?: boolean; signal?: string; reply?: boolean } = {}): Promise<Replies> {
    const ids = typeof taskId === 'string' ? [taskId] : taskId;
    const { terminate, signal, reply, ...rest } = options;
    return this.broadcast('revoke', { ...rest, reply: reply ?? false, arguments: { task_id: ids, terminate: terminate ?? false, signal: signal ?? null } });
  }

  /** Sets a task's rate limit on the workers (`'10/m'`, a number per second, or null to remove it). */
  rateLimit(taskName: string, rate: string | number | null, options: BroadcastOptions & { reply?: boolean } = {}): Promise<Replies> {
    return this.broadcast('rate_limit', { ...options, arguments: { task_name: taskName, rate_limit: rate } });
  }

  /** Sets a task's time limits (seconds) on the workers. */
  timeLimit(taskName: string, limits: { soft?: number; hard?: number }, options: BroadcastOptions & { reply?: boolean } = {}): Promise<Replies> {
    return this.broadcast('time_limit', { ...options, arguments: { task_name: taskName, soft: limits.soft ?? null, hard: limits.hard ?? null } });
  }

  /** Makes workers consume one more queue. */
  addConsumer(queue: string, options: BroadcastOptions & { reply?: boolean } = {}): Promise<Replies> {
    return this.broadcast('add_consumer', { ...options, arguments: { queue } });
  }

  /** Makes workers stop consuming a queue. */
  cancelConsumer(queue: string, options: BroadcastOptions & { reply?: boolean } = {}): Promise<Replies> {
    return this.broadcast('cancel_consumer', { ...options, arguments: { queue } });
  }

  poolGrow(n = 1, options: BroadcastOptions & { reply?: boolean } = {}): Promise<Replies> {
    return this.broadcast('pool_grow', { ...options, arguments: { n } });
  }

  poolShrink(n = 1, options: BroadcastOptions & { reply?: boolean } = {}): Promise<Replies> {
    return this.broadcast('pool_shrink', { ...options, arguments: { n } });
  }

  /** Asks workers to shut down (warm). */
  shutdown(options: BroadcastOptions = {}): Promise<Replies> {
    return this.broadcast('shutdown', { ...options, reply: false });
  }
}

/** Read-only commands, all replying; each resolves with one reply per answering worker. */
export class Inspect {
  constructor(
    private readonly control: Control,
    private readonly options: BroadcastOptions,
  ) {}

  private call(command: string, args: Record<string, unknown> = {}): Promise<Replies> {
    return this.control.broadcast(command, { ...this.options, arguments: args, reply: true });
  }

  ping(): Promise<Replies> {
    return this.call('ping');
  }
  stats(): Promise<Replies> {
    return this.call('stats');
  }
  active(safe = false): Promise<Replies> {
    return this.call('active', { safe });
  }
  reserved(): Promise<Replies> {
    return this.call('reserved');
  }
  scheduled(): Promise<Replies> {
    return this.call('scheduled');
  }
  revoked(): Promise<Replies> {
    return this.call('revoked');
  }
  registered(): Promise<Replies> {
    return this.call('registered');
  }
  queryTask(...ids: string[]): Promise<Replies> {
    return this.call('query_task', { ids });
  }
  conf(): Promise<Replies> {
    return this.call('conf');
  }
  report(): Promise<Replies> {
    return this.call('report');
  }
  activeQueues(): Promise<Replies> {
    return this.call('active_queues');
  }
  clock(): Promise<Replies> {
    return this.call('clock');
  }
}
