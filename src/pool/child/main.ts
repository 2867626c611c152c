/**
 * Entry point of a pool child (a forked process or a worker thread). It loads the app module
 * once, then runs the executions its parent sends, one after another, storing results itself.
 * Broker and backend URLs of the `memory` scheme are served by the parent over the message
 * channel (the parent holds the only copy of that state); other schemes connect directly.
 */
import { parentPort } from 'node:worker_threads';
import type { Celeriac } from '../../app/celeriac.js';
import type { ChordPart, ChordStore, GroupMeta, ResultBackend, ResultDestination, TaskMeta, WaitOptions } from '../../backends/port.js';
import type { ConsumeOptions, Consumer, DeliveryHandler, ExchangeOptions, ExchangeType, QueueSpec, Route, Transport } from '../../broker/port.js';
import { loadApp } from '../../cli/load-app.js';
import { CELERIAC_ERROR_CLASSES, CELERY_ERROR_CLASSES, ImproperlyConfigured } from '../../errors/index.js';
import { createLogger, parseLogLevel } from '../../logging/logger.js';
import type { TransportMessage } from '../../protocol/message.js';
import { Request } from '../../task/request.js';
import { traceTask } from '../../task/trace.js';
import { deferred, type Deferred } from '../../utils/deferred.js';
import { toWireError, type FromChild, type ToChild, type WireError } from './messages.js';

const send = (msg: FromChild): void => {
  if (parentPort) parentPort.postMessage(msg);
  else process.send?.(msg);
};

function fromWire(e: WireError): Error {
  const Cls = CELERY_ERROR_CLASSES.get(e.name) ?? CELERIAC_ERROR_CLASSES.get(e.name);
  const err = Cls ? new Cls(e.message) : new Error(e.message);
  if (!Cls) err.name = e.name;
  return err;
}

let rpcSeq = 0;
const pending = new Map<number, Deferred<unknown>>();

function rpc(target: Extract<FromChild, { type: 'rpc' }>['target'], method: string, args: unknown[]): Promise<unknown> {
  const id = ++rpcSeq;
  const d = deferred<unknown>();
  pending.set(id, d);
  send({ type: 'rpc', id, target, method, args });
  return d.promise;
}

/** The parent's transport, seen from a child: publishing and queue management only. */
class ParentTransport implements Transport {
  readonly driver = 'parent';
  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  async declareExchange(name: string, type: ExchangeType, options?: ExchangeOptions): Promise<void> {
    await rpc('transport', 'declareExchange', options ? [name, type, options] : [name, type]);
  }
  async declareQueue(spec: QueueSpec): Promise<void> {
    await rpc('transport', 'declareQueue', [spec]);
  }
  async publish(message: TransportMessage, route: Route): Promise<void> {
    await rpc('transport', 'publish', [message, route]);
  }
  consume(_q: readonly string[], _h: DeliveryHandler, _o: ConsumeOptions): Promise<Consumer> {
    return Promise.reject(new ImproperlyConfigured('a pool child cannot consume from the memory broker'));
  }
  async purge(queue: string): Promise<number> {
    return (await rpc('transport', 'purge', [queue])) as number;
  }
  async size(queue: string): Promise<number> {
    return (await rpc('transport', 'size', [queue])) as number;
  }
}

/** The parent's result backend, seen from a child. */
class ParentBackend implements ResultBackend {
  readonly driver = 'parent';
  /** The parent's chord counting (the memory backend counts chords atomically in the parent). */
  readonly chords: ChordStore = {
    prepare: async (groupId, memberIds) => {
      await rpc('chords', 'prepare', [groupId, memberIds]);
    },
    partReturned: async (groupId, part) => (await rpc('chords', 'partReturned', [groupId, part])) as ChordPart[] | null,
  };
  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  async storeResult(meta: TaskMeta, destination?: ResultDestination): Promise<void> {
    await rpc('backend', 'storeResult', destination ? [meta, destination] : [meta]);
  }
  async getTaskMeta(taskId: string): Promise<TaskMeta> {
    return (await rpc('backend', 'getTaskMeta', [taskId])) as TaskMeta;
  }
  async waitFor(taskId: string, options: WaitOptions = {}): Promise<TaskMeta> {
    const { signal: _signal, ...rest } = options;
    return (await rpc('backend', 'waitFor', [taskId, rest])) as TaskMeta;
  }
  async forget(taskId: string): Promise<void> {
    await rpc('backend', 'forget', [taskId]);
  }
  async saveGroup(groupId: string, meta: GroupMeta): Promise<void> {
    await rpc('backend', 'saveGroup', [groupId, meta]);
  }
  async restoreGroup(groupId: string): Promise<GroupMeta | null> {
    return (await rpc('backend', 'restoreGroup', [groupId])) as GroupMeta | null;
  }
  async deleteGroup(groupId: string): Promise<void> {
    await rpc('backend', 'deleteGroup', [groupId]);
  }
  async cleanup(): Promise<void> {
    await rpc('backend', 'cleanup', []);
  }
}

let app: Celeriac | undefined;
let logLevel = 'info';
let childName = 'PoolWorker';
const controllers = new Map<string, AbortController>();
const queue: Array<Extract<ToChild, { type: 'run' }>> = [];
let busy = false;
/** The worker that forked this child (a thread's parent cannot die without it). */
const PARENT_PID = process.ppid;

/** Whether this forked child's worker is gone (then it must start nothing more: see `drain`). */
function orphaned(): boolean {
  return !parentPort && (process.ppid !== PARENT_PID || !process.connected);
}

async function init(msg: Extract<ToChild, { type: 'init' }>): Promise<void> {
  logLevel = msg.logLevel;
  childName = msg.name;
  try {
    app = await loadApp(msg.appSpec);
    app.conf.brokerUrl = msg.brokerUrl;
    app.conf.resultBackend = msg.resultBackend;
    const transport = new ParentTransport();
    const backend = new ParentBackend();
    app.transports.register('memory', () => transport);
    app.backends.register('memory', () => backend);
    app.backends.register('cache+memory', () => backend);
    send({ type: 'ready', pid: process.pid });
  } catch (err) {
    send({ type: 'init-failed', error: toWireError(err) });
  }
}

async function drain(): Promise<void> {
  if (busy || !app) return;
  busy = true;
  const logger = createLogger({ level: parseLogLevel(logLevel) }).child({ component: childName });
  try {
    for (let msg = queue.shift(); msg; msg = queue.shift()) {
      // A killed worker never acked the tasks queued here; they go to another worker. Starting
      // one before 'disconnect' arrives would run it twice.
      if (orphaned()) process.exit(0);
      const controller = new AbortController();
      const request = new Request({ ...msg.request, signal: controller.signal });
      controllers.set(request.id ?? '', controller);
      send({ type: 'started', job: msg.job });
      const task = app.tasks.get(msg.task);
      const outcome = task
        ? await traceTask(task, request, { app, logger, store: true })
        : { state: 'FAILURE', requeue: false, runtime: 0, error: new ImproperlyConfigured(`task '${msg.task}' is not registered in the pool child`) };
      controllers.delete(request.id ?? '');
      send({
        type: 'done',
        job: msg.job,
        outcome: { state: outcome.state, requeue: outcome.requeue, runtime: outcome.runtime, error: outcome.error ? toWireError(outcome.error) : null },
        rss: process.memoryUsage().rss,
      });
    }
  } finally {
    busy = false;
  }
}

function onMessage(msg: ToChild): void {
  switch (msg.type) {
    case 'init':
      void init(msg);
      break;
    case 'run':
      queue.push(msg);
      void drain();
      break;
    case 'abort':
      controllers.get(msg.taskId)?.abort(fromWire(msg.reason));
      break;
    case 'rpc-result': {
      const d = pending.get(msg.id);
      pending.delete(msg.id);
      if (!d) break;
      if (msg.ok) d.resolve(msg.value);
      else d.reject(fromWire(msg.error ?? { name: 'Error', message: 'rpc failed' }));
      break;
    }
    case 'shutdown':
      void app?.close().finally(() => (parentPort ? parentPort.close() : process.exit(0)));
      break;
  }
}

if (parentPort) parentPort.on('message', onMessage);
else process.on('message', (m) => onMessage(m as ToChild));
// A child ends with its parent: a forked child whose parent died gets 'disconnect'.
process.on('disconnect', () => process.exit(0));
