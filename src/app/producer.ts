/**
 * Sending task messages: resolves the route, fills in the parent/root ids of a call made from
 * inside a task (and records it in that task's children), builds the protocol v2 message, declares
 * the queue on first use, and publishes. A publish resolves once the broker has the message.
 */
import type { Transport } from '../broker/port.js';
import { redactUrl } from '../broker/registry.js';
import { signatureList, type ApplyOptions } from '../canvas/options.js';
import { CeleriacError, OperationalError } from '../errors/index.js';
import { encodeTaskMessage, type Codecs, type TransportMessage } from '../protocol/message.js';
import type { Settings } from '../config/settings.js';
import { currentRequest } from '../task/request.js';
import type { Task } from '../task/task.js';
import { originTag, uuid } from '../utils/ids.js';
import { parseIso } from '../utils/time.js';
import type { ResolvedRoute, Router } from './router.js';
import { queueSpec } from './queues.js';

/** One call to send. */
export interface TaskCall {
  name: string;
  args: readonly unknown[];
  kwargs: Readonly<Record<string, unknown>>;
  options: ApplyOptions;
  /** The registered task, when sending through it (its options apply). */
  task?: Task;
  /** Take parent/root ids from the task running in this async context. @defaultValue true */
  inheritParent?: boolean;
}

/** What a send produced. */
export interface SentTask {
  id: string;
  route: ResolvedRoute;
}

function toDate(value: Date | string | number, what: string): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(Date.now() + value * 1000);
  try {
    return parseIso(value);
  } catch {
    throw new TypeError(`${what} must be a Date, an ISO 8601 string or seconds, got '${value}'`);
  }
}

/** Builds and publishes task messages for one app. */
export class Producer {
  private readonly declared = new Map<string, Promise<void>>();
  private readonly origin = originTag();

  constructor(
    private readonly conf: Settings,
    private readonly router: Router,
    private readonly codecs: () => Codecs,
    private readonly transport: () => Promise<Transport>,
    private readonly oid: string,
  ) {}

  /** Called after each message is accepted by the broker (the `task-sent` event). */
  onSent: ((call: TaskCall, id: string, route: ResolvedRoute, message: TransportMessage) => void) | undefined;

  private declare(transport: Transport, route: ResolvedRoute): Promise<void> {
    const q = route.queue;
    let done = this.declared.get(q.name);
    if (!done) {
      done = transport.declareQueue(queueSpec(q));
      this.declared.set(q.name, done);
      done.catch(() => this.declared.delete(q.name));
    }
    return done;
  }

  /** Sends one task message. */
  async send(call: TaskCall): Promise<SentTask> {
    const { options, task } = call;
    const id = options.taskId ?? uuid();
    const parent = call.inheritParent === false ? undefined : currentRequest();
    const inWorkerTask = parent !== undefined && !parent.calledDirectly && parent.id !== null;
    const route = this.router.route({
      name: call.name,
      args: call.args,
      kwargs: call.kwargs,
      options: {
        ...(options.queue !== undefined ? { queue: options.queue } : {}),
        ...(options.exchange !== undefined ? { exchange: options.exchange } : {}),
        ...(options.routingKey !== undefined ? { routingKey: options.routingKey } : {}),
        ...(options.priority !== undefined ? { priority: options.priority } : {}),
      },
      taskQueue: task?.queue,
    });
    const eta =
      options.eta !== undefined
        ? toDate(options.eta, 'eta')
        : options.countdown !== undefined
          ? new Date(Date.now() + options.countdown * 1000)
          : null;
    const expiresOption = options.expires ?? task?.expires;
    const expires = expiresOption !== undefined ? toDate(expiresOption, 'expires') : null;
    const priority = route.priority ?? task?.priority ?? this.conf.taskDefaultPriority ?? null;
    const codecs = this.codecs();
    const message = encodeTaskMessage(
      {
        task: call.name,
        id,
        args: call.args,
        kwargs: call.kwargs,
        eta,
        expires,
        retries: options.retries ?? 0,
        timelimit: [options.timeLimit ?? null, options.softTimeLimit ?? null],
        rootId: options.rootId ?? (inWorkerTask ? parent.rootId ?? parent.id : null) ?? id,
        parentId: options.parentId ?? (inWorkerTask ? parent.id : null),
        group: options.groupId ?? null,
        groupIndex: options.groupIndex ?? null,
        shadow: options.shadow ?? null,
        argsrepr: options.argsrepr ?? null,
        kwargsrepr: options.kwargsrepr ?? null,
        origin: this.origin,
        ignoreResult: options.ignoreResult ?? task?.ignoreResult ?? this.conf.taskIgnoreResult,
        callbacks: options.link !== undefined ? signatureList(options.link) : null,
        errbacks: options.linkError !== undefined ? signatureList(options.linkError) : null,
        chain: options.chain ?? null,
        chord: options.chord ?? null,
        replyTo: options.replyTo ?? this.oid,
        priority,
        ...(options.headers !== undefined ? { extraHeaders: options.headers } : {}),
        serializer: options.serializer ?? task?.serializer ?? this.conf.taskSerializer,
        compression: options.compression ?? task?.compression ?? this.conf.taskCompression,
      },
      codecs,
    );
    try {
      const transport = await this.transport();
      await this.declare(transport, route);
      await transport.publish(message, { exchange: route.exchange, routingKey: route.routingKey });
    } catch (err) {
      if (err instanceof CeleriacError && !(err instanceof OperationalError)) throw err;
      throw new OperationalError(
        `cannot send task '${call.name}' to the broker at ${redactUrl(this.conf.brokerUrl)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (inWorkerTask && options.addToParent !== false) parent.children.push([[id, null], null]);
    this.onSent?.(call, id, route, message);
    return { id, route };
  }
}
