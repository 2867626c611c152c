/**
 * The RPC result backend (`rpc://`), as Celery's: results travel as messages to the reply queue
 * of the client that sent the task (its `reply_to`, the app's `oid`), through the default
 * exchange, with the task id as `correlation_id`. Body: `{task_id, status, result, traceback,
 * children}`. Intermediate states (STARTED, custom PROGRESS) are sent too. A result can be read
 * by the sending client only, which keeps the latest state of each task it has heard of; nothing
 * is stored anywhere else. `result_persistent` makes the messages persistent.
 *
 * The reply queue is declared before the first task is sent (otherwise RabbitMQ would drop a
 * result sent to a queue that does not exist yet): non-durable, deleted when the client has been
 * gone for `result_expires`.
 */
import type { Consumer, Delivery } from '../../broker/port.js';
import { ImproperlyConfigured } from '../../errors/index.js';
import { fromJson, toJson } from '../../protocol/json.js';
import { pendingMeta, waitWithNotifications } from '../base.js';
import type { BackendClient, BackendOptions, GroupMeta, ResultBackend, ResultDestination, TaskMeta, WaitOptions } from '../port.js';

/** The RPC result backend. */
export class RpcBackend implements ResultBackend {
  readonly driver = 'rpc';
  readonly chordsUnsupported =
    'the rpc:// result backend does not support chords (a group followed by more steps is one); use redis://, a db+ URL or memcached';
  private readonly client: BackendClient;
  private readonly results = new Map<string, TaskMeta>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private consumer: Promise<Consumer> | undefined;

  constructor(private readonly options: BackendOptions) {
    if (!options.client) throw new ImproperlyConfigured('rpc:// needs the app (it sends results over the app\'s broker)');
    this.client = options.client;
  }

  async connect(): Promise<void> {}

  async close(): Promise<void> {
    const c = this.consumer;
    this.consumer = undefined;
    if (c) await (await c).close().catch(() => undefined);
  }

  /** Declares this client's reply queue and starts listening on it. */
  onTaskCall(): Promise<void> {
    return this.listen().then(() => undefined);
  }

  private listen(): Promise<Consumer> {
    this.consumer ??= (async () => {
      const transport = await this.client.getTransport();
      const expires = this.options.expiresSeconds;
      await transport.declareQueue({
        name: this.client.oid,
        durable: false,
        autoDelete: true,
        ...(expires ? { arguments: { 'x-expires': Math.round(expires * 1000) } } : {}),
      });
      return transport.consume([this.client.oid], (d) => this.onMessage(d), { prefetch: 0 });
    })();
    this.consumer.catch(() => (this.consumer = undefined));
    return this.consumer;
  }

  private onMessage(d: Delivery): void {
    void d.ack();
    let body: Record<string, unknown>;
    try {
      body = fromJson(d.message.body.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      this.client.logger.warn(`rpc backend: ignoring an unreadable result message: ${(err as Error).message}`);
      return;
    }
    const id = String(body['task_id'] ?? d.message.properties.correlation_id ?? '');
    if (!id || typeof body['status'] !== 'string') return;
    const current = this.results.get(id);
    // A late state never replaces SUCCESS (a duplicate delivery finishing after), as elsewhere.
    if (current?.status === 'SUCCESS' && body['status'] !== 'SUCCESS') return;
    this.results.set(id, {
      status: body['status'],
      result: body['result'] ?? null,
      traceback: (body['traceback'] as string | null) ?? null,
      children: Array.isArray(body['children']) ? body['children'] : [],
      date_done: (body['date_done'] as string | null) ?? null,
      task_id: id,
    });
    for (const wake of this.waiters.get(id) ?? []) wake();
  }

  async storeResult(meta: TaskMeta, destination?: ResultDestination): Promise<void> {
    const replyTo = destination?.replyTo;
    if (!replyTo) return; // nobody to tell: Celery drops it too
    const transport = await this.client.getTransport();
    const body = { task_id: meta.task_id, status: meta.status, result: meta.result, traceback: meta.traceback, children: meta.children };
    await transport.publish(
      {
        body: Buffer.from(toJson(body), 'utf8'),
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        headers: {},
        properties: { correlation_id: destination.correlationId ?? meta.task_id, delivery_mode: this.client.persistent ? 2 : 1 },
      },
      { exchange: '', routingKey: replyTo },
    );
  }

  async getTaskMeta(taskId: string): Promise<TaskMeta> {
    await this.listen();
    return this.results.get(taskId) ?? pendingMeta(taskId);
  }

  async waitFor(taskId: string, options: WaitOptions = {}): Promise<TaskMeta> {
    await this.listen();
    return waitWithNotifications((id) => this.getTaskMeta(id), async (id, onChange) => ({ unsubscribe: await this.subscribe(id, onChange) }), taskId, options);
  }

  /** Calls `onChange` whenever a state of `taskId` arrives. */
  private async subscribe(taskId: string, onChange: () => void): Promise<() => Promise<void>> {
    let set = this.waiters.get(taskId);
    if (!set) this.waiters.set(taskId, (set = new Set()));
    const waiters = set;
    waiters.add(onChange);
    return async () => {
      waiters.delete(onChange);
      if (waiters.size === 0 && this.waiters.get(taskId) === waiters) this.waiters.delete(taskId);
    };
  }

  async forget(taskId: string): Promise<void> {
    this.results.delete(taskId);
  }

  async saveGroup(_groupId: string, _meta: GroupMeta): Promise<void> {
    throw new ImproperlyConfigured('the rpc:// result backend cannot save groups (results live in one client); use redis://, a db+ URL or memcached');
  }

  async restoreGroup(_groupId: string): Promise<GroupMeta | null> {
    return null;
  }

  async deleteGroup(_groupId: string): Promise<void> {}

  async cleanup(): Promise<void> {}
}
