/**
 * The app: configuration, the task registry, the driver registries and connections, and the
 * client API (sending tasks, reading results). Create one per process (or per test):
 *
 * ```ts
 * export const app = new Celeriac('proj', { broker: 'redis://localhost', backend: 'redis://localhost' });
 * export const add = app.task(function add(x: number, y: number) { return x + y; });
 * const result = await add.delay(2, 2);
 * await result.get({ timeout: 10 }); // 4
 * ```
 */
import type { ResultBackend } from '../backends/port.js';
import { BackendRegistry } from '../backends/registry.js';
import type { Transport } from '../broker/port.js';
import { TransportRegistry } from '../broker/registry.js';
import { Chain } from '../canvas/chain.js';
import type { ApplyOptions } from '../canvas/options.js';
import { Signature, type CanvasApp } from '../canvas/signature.js';
import type { Schedule } from '../beat/schedules.js';
import { applySettings, defaultSettings, type PeriodicTaskSpec, type Settings, type SettingsInput } from '../config/settings.js';
import { Control } from '../control/client.js';
import { RevokedSet } from '../control/revoked.js';
import { EventDispatcher } from '../events/dispatcher.js';
import { EventReceiver, type EventHandlers } from '../events/receiver.js';
import { ClusterState } from '../events/state.js';
import { ImproperlyConfigured, type Retry } from '../errors/index.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { CompressionRegistry } from '../protocol/compression.js';
import { ErrorClassRegistry, type ErrorClassOptions } from '../protocol/exceptions.js';
import type { Codecs } from '../protocol/message.js';
import { SerializerRegistry } from '../protocol/serializers.js';
import { AsyncResult, EagerResult, type ResultContext, type RevokeOptions } from '../result/async-result.js';
import { setupSecurity, type SecurityOptions } from '../security/setup.js';
import { appRoot, callerFile, modulePath } from '../task/naming.js';
import type { ErrorClass, TaskOptions } from '../task/options.js';
import { Request } from '../task/request.js';
import { Task, type RetryOptions } from '../task/task.js';
import { hostname, originTag, uuid } from '../utils/ids.js';
import { registerBuiltins } from './builtins.js';
import { Producer } from './producer.js';
import { TaskRegistry } from './registry.js';
import { Router } from './router.js';
import { applyEager, retryTask, storeState } from './execution.js';
import { replaceTask } from './replace.js';

/** `app.events`. */
export interface AppEvents {
  /** A receiver calling `handlers` by event type (`'*'` for all); `start()` it. */
  receiver(handlers: EventHandlers): EventReceiver;
  /** This app's dispatcher (it sends `task-sent` with `task_send_sent_event`). */
  dispatcher(): EventDispatcher;
  /** A new, empty cluster state to feed events to. */
  state(): ClusterState;
}

/** Options of the app: any setting (camelCase or Celery's name) plus these. */
export interface CeleriacOptions extends SettingsInput {
  /** Broker URL (`brokerUrl`). */
  broker?: string;
  /** Result backend URL (`resultBackend`); null for none. */
  backend?: string | null;
  /** The logger every component logs through. @defaultValue Celery-style lines on stderr */
  logger?: Logger;
  /**
   * The folder automatic task names are relative to: `<root>/moduleA/tasks.ts` defining `add` is
   * `moduleA.tasks.add`. A path or a `file:` URL (`import.meta.dirname`, `new URL('.', import.meta.url)`).
   * @defaultValue the folder of the module that creates the app (the `-A` module)
   */
  root?: string | URL;
  /**
   * Builds automatic task names from the function (or class) name and the dotted module path of
   * the defining file relative to `root` (null when it is unknown).
   * @defaultValue `${module}.${name}`
   */
  genTaskName?: (name: string, module: string | null) => string;
}

/** A constructor of a Task subclass. */
export type TaskClass<T extends Task = Task> = new () => T;

/** A task made from a function on base class `B`: typed calls, plus B's own members. */
export type TaskOf<B extends Task, A extends unknown[], R> = Task<A, R> & Omit<B, keyof Task>;

type BoundFn<B, A extends unknown[], R> = (this: B, self: B, ...args: A) => R;
type PlainFn<B, A extends unknown[], R> = (this: B, ...args: A) => R;

/** The celeriac application. */
export class Celeriac implements CanvasApp, ResultContext {
  /** The app's name (Celery's `main`). */
  readonly main: string;
  /** Settings; change them before the first task is sent. */
  readonly conf: Settings;
  /** Registered tasks, the built-ins included. */
  readonly tasks = new TaskRegistry();
  readonly logger: Logger;
  readonly serializers = new SerializerRegistry();
  readonly compression = new CompressionRegistry();
  /** Broker drivers by URL scheme. */
  readonly transports = new TransportRegistry();
  /** Result backend drivers by URL scheme. */
  readonly backends = new BackendRegistry();
  /** This client's id: the `reply_to` of its messages. */
  readonly oid: string = uuid();
  /** Task ids revoked, with their times (shared with this app's in-process workers and, through mingle, the fleet). */
  readonly revoked = new RevokedSet();
  /** Periodic tasks added with {@link addPeriodicTask}, by entry name (beat runs them). */
  readonly periodicTasks: Record<string, PeriodicTaskSpec> = {};
  /** Error classes results rebuild failures as (see {@link registerErrorClass}). */
  readonly errorClasses = new ErrorClassRegistry();
  /** The folder automatic task names are relative to (see {@link CeleriacOptions.root}). */
  readonly root: string;
  private readonly listeners = new Set<(taskId: string, options: RevokeOptions) => void>();
  private readonly genTaskName: (name: string, module: string | null) => string;
  private readonly router: Router;
  private readonly producer: Producer;
  private transportPromise: Promise<Transport> | undefined;
  private readonly backendPromises = new Map<string, Promise<ResultBackend>>();
  /** The backends of `backendPromises` that are connected, for callers that need no promise. */
  private readonly connectedBackends = new Map<string, ResultBackend>();

  constructor(main = 'celeriac', options: CeleriacOptions = {}) {
    this.main = main;
    const { broker, backend, logger, genTaskName, root, ...settings } = options;
    this.root = appRoot(root, callerFile());
    this.conf = defaultSettings();
    applySettings(this.conf, {
      ...settings,
      ...(broker !== undefined ? { brokerUrl: broker } : {}),
      ...(backend !== undefined ? { resultBackend: backend } : {}),
    });
    this.logger = logger ?? createLogger({ format: this.conf.logFormat });
    this.genTaskName = genTaskName ?? ((name, module) => (module ? `${module}.${name}` : name));
    this.router = new Router(this.conf);
    this.producer = new Producer(this.conf, this.router, () => this.codecs, () => this.getTransport(), this.oid);
    registerBuiltins(this);
    this.producer.onSent = (call, id, route, message) => {
      if (!this.conf.taskSendSentEvent) return;
      const h = message.headers;
      void this.events.dispatcher().send('task-sent', {
        uuid: id,
        name: call.name,
        args: h['argsrepr'] ?? null,
        kwargs: h['kwargsrepr'] ?? null,
        retries: h['retries'] ?? 0,
        eta: h['eta'] ?? null,
        expires: h['expires'] ?? null,
        root_id: h['root_id'] ?? null,
        parent_id: h['parent_id'] ?? null,
        queue: route.queue.name,
        exchange: route.exchange,
        routing_key: route.routingKey,
      });
    };
  }

  /** Serializers, compression and `accept_content`, as the protocol layer needs them. */
  get codecs(): Codecs {
    return {
      serializers: this.serializers,
      compression: this.compression,
      accept: this.conf.acceptContent,
      messageMaxBytes: this.conf.messageMaxBytes,
    };
  }

  /**
   * Turns on message signing (Celery's `app.setup_security()`): registers the `auth` serializer
   * from the `security*` settings (or `options`). Requires `taskSerializer: 'auth'` and
   * `acceptContent: ['auth']`; from then on tasks this app sends are signed with `securityKey`,
   * and its workers run only messages whose signature verifies against `securityCertStore`.
   */
  setupSecurity(options: SecurityOptions = {}): void {
    setupSecurity(this.conf, this.serializers, options);
  }

  /** `task_always_eager`: calls run locally instead of being sent. */
  get alwaysEager(): boolean {
    return this.conf.taskAlwaysEager;
  }

  /** The app, as results see it. */
  get resultContext(): ResultContext {
    return this;
  }

  /** `task_disable_sync_subtasks`. */
  get disableSyncSubtasks(): boolean {
    return this.conf.taskDisableSyncSubtasks;
  }

  // ---- defining tasks -----------------------------------------------------------------------

  /**
   * Turns a function into a registered task. With `bind: true` the function receives the task
   * as its first argument (and as `this`); `base` picks a Task subclass whose handlers and
   * state it gets.
   */
  task<A extends unknown[], R, B extends Task = Task>(
    fn: BoundFn<B, A, R>,
    options: TaskOptions & { bind: true; base?: TaskClass<B> },
  ): TaskOf<B, A, Awaited<R>>;
  task<A extends unknown[], R, B extends Task = Task>(
    fn: PlainFn<B, A, R>,
    options?: TaskOptions & { bind?: false; base?: TaskClass<B> },
  ): TaskOf<B, A, Awaited<R>>;
  task(fn: (...args: never[]) => unknown, options: TaskOptions & { base?: TaskClass } = {}): Task {
    if (typeof fn !== 'function') throw new TypeError('app.task() takes a function');
    const { name, bind, base, ...rest } = options;
    const task = new (base ?? Task)();
    for (const [key, value] of Object.entries(rest)) {
      if (value !== undefined) (task as unknown as Record<string, unknown>)[key] = value;
    }
    const call = fn as unknown as (this: Task, ...args: unknown[]) => unknown;
    task.run = bind
      ? function run(this: Task, ...args: unknown[]) {
          return call.call(this, this, ...args);
        }
      : function run(this: Task, ...args: unknown[]) {
          return call.apply(this, args);
        };
    task.sourceFunction = fn;
    task.bindsSelf = Boolean(bind);
    if (name) task.name = name;
    else {
      if (!fn.name || fn.name === 'anonymous') {
        throw new ImproperlyConfigured(
          'cannot name a task made from an anonymous function: pass { name: "module.task" } or use a named function',
        );
      }
      task.name = this.genTaskName(fn.name, modulePath(callerFile(), this.root));
    }
    const same = this.tasks.get(task.name);
    // The same function registered again (its module loaded twice) is the task already there.
    if (same && same.sourceFunction === fn) return same;
    return this.registerTask(task);
  }

  /**
   * Registers a task instance (or a Task subclass, instantiated once). A task without a name is
   * named `<module>.<ClassName>`. Registering the same task (or class) again returns the one
   * registered; a different task under a name already taken throws AlreadyRegistered.
   */
  registerTask<T extends Task>(taskOrClass: T | TaskClass<T>): T {
    const task = typeof taskOrClass === 'function' ? new taskOrClass() : taskOrClass;
    if (!task.name) {
      task.name = this.genTaskName(task.constructor.name, modulePath(callerFile(), this.root));
    }
    const taken = this.tasks.get(task.name);
    if (taken && typeof taskOrClass === 'function' && taken.constructor === taskOrClass) return taken as T;
    if (taken === task) return task;
    this.tasks.register(task);
    task.app = this;
    for (const cls of [...task.throws, ...task.autoretryFor]) this.errorClasses.register(cls);
    return task;
  }

  /**
   * Makes failures stored as this error class come back as instances of it: `get()` throws an
   * error that is `instanceof cls`, with the fields it had (those JSON can carry). The classes in
   * a task's `throws` and `autoretryFor` are known without this.
   *
   * @example
   * class HttpError extends Error { constructor(message: string, readonly statusCode: number) { super(message); } }
   * app.registerErrorClass(HttpError);
   */
  registerErrorClass(cls: ErrorClass, options: ErrorClassOptions = {}): void {
    this.errorClasses.register(cls, options);
  }

  // ---- sending --------------------------------------------------------------------------------

  /**
   * Sends a task by name, without needing its definition (Celery's `send_task`): for tasks
   * defined in another process or language.
   */
  async sendTask<R = unknown>(
    name: string,
    args: readonly unknown[] = [],
    kwargs: Readonly<Record<string, unknown>> = {},
    options: ApplyOptions = {},
  ): Promise<AsyncResult<R>> {
    await this.beforeSend(undefined);
    const sent = await this.producer.send({ name, args, kwargs, options });
    return new AsyncResult<R>(sent.id, this);
  }

  /** A signature of a task by name (it need not be registered here). */
  signature<R = unknown>(name: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: ApplyOptions = {}): Signature<R> {
    return new Signature<R>(name, { args, kwargs, app: this }).set(options);
  }

  /**
   * Adds a periodic task for beat (Celery's `add_periodic_task`): `schedule` in seconds or a
   * `crontab(...)`; the entry is named `name`, else after the signature.
   *
   * @example
   * app.addPeriodicTask(30, add.s(2, 2), { name: 'add every 30s' });
   * app.addPeriodicTask(crontab({ hour: 7, minute: 30, dayOfWeek: 1 }), test.s('Happy Mondays!'));
   */
  addPeriodicTask(schedule: number | Schedule, sig: Signature, options: { name?: string } = {}): void {
    const name = options.name ?? `${sig.task}(${JSON.stringify(sig.args).slice(1, -1)})`;
    this.periodicTasks[name] = { task: sig.task, schedule, args: sig.args, kwargs: sig.kwargs, options: sig.options };
  }

  /** A chain bound to this app (same as `chain()` for signatures made from tasks). */
  chain<R = unknown>(...tasks: Signature[]): Chain<R> {
    return new Chain<R>(tasks, this);
  }

  /**
   * A result handle for a task id. Give the task (or its name) when it has its own `backend`
   * option: the handle then reads that backend, where the worker stores the result.
   */
  asyncResult<R = unknown>(id: string, parent: AsyncResult | null = null, task?: Task | string): AsyncResult<R> {
    const known = typeof task === 'string' ? this.tasks.get(task) : task;
    const own = known?.backend !== undefined ? known : undefined;
    return new AsyncResult<R>(id, this, parent, own ? () => this.backendForTask(own) : null);
  }

  /** @internal Sends a call of a registered task, with its options and argument checks. */
  async sendTaskCall(task: Task, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>, options: ApplyOptions): Promise<AsyncResult> {
    if (this.conf.taskAlwaysEager) {
      const result = await this.applyEager(task, args, kwargs, options);
      if (this.conf.taskEagerPropagates && (await result.failed())) await result.get();
      return result;
    }
    if (task.typing ?? true) task.bindArguments(args, kwargs);
    await this.beforeSend(task);
    const sent = await this.producer.send({ name: task.name, args, kwargs, options, task });
    return this.asyncResult(sent.id, null, task);
  }

  /** Lets the result backend prepare for a send where it must (rpc:// declares its reply queue). */
  private async beforeSend(task: Task | undefined): Promise<void> {
    if (typeof task?.backend === 'object') return task.backend.onTaskCall?.();
    const url = typeof task?.backend === 'string' ? task.backend : this.conf.resultBackend;
    if (url && this.backends.preparesSends(url)) await (await this.backendFor(url)).onTaskCall?.();
  }

  /** @internal Applies a signature: through its task when registered here, else by name. */
  applySignature(sig: Signature, args: unknown[], kwargs: Record<string, unknown>, options: ApplyOptions): Promise<AsyncResult> {
    const task = this.tasks.get(sig.task);
    if (task) return this.sendTaskCall(task, args, kwargs, options);
    return this.sendTask(sig.task, args, kwargs, options);
  }

  /** @internal Runs a task locally (`task.apply()`). */
  applyEager(task: Task, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>, options: ApplyOptions): Promise<EagerResult> {
    return applyEager(this, task, args, kwargs, options);
  }

  /** @internal Stores a state for `task.updateState()`. */
  storeState(task: Task, taskId: string, state: string, meta: unknown, request: Request): Promise<void> {
    return storeState(this, task, taskId, state, meta, request);
  }

  /** @internal Applies a replacement for `task.replace()` (see src/app/replace.ts). */
  replaceTask(request: Request, replacement: Signature): Promise<unknown> {
    return replaceTask(this, request, replacement);
  }

  /** @internal Republishes a task for `task.retry()`; returns the Retry to throw. */
  retryTask(task: Task, request: Request, options: RetryOptions): Promise<Retry> {
    return retryTask(this, this.producer, task, request, options);
  }

  // ---- revoking and remote control ------------------------------------------------------------

  private controlClient: Control | undefined;
  private eventsApi: AppEvents | undefined;

  /** Monitoring events: a receiver, a dispatcher, and the cluster state they build. */
  get events(): AppEvents {
    if (!this.eventsApi) {
      let dispatcher: EventDispatcher | undefined;
      this.eventsApi = {
        receiver: (handlers) => new EventReceiver(this, handlers),
        dispatcher: () => (dispatcher ??= new EventDispatcher(this, originTag())),
        state: () => new ClusterState(),
      };
    }
    return this.eventsApi;
  }

  /** Remote control of the workers (Celery's `app.control`): inspect, revoke, rate limits, ... */
  get control(): Control {
    this.controlClient ??= new Control(this);
    return this.controlClient;
  }

  /**
   * Revokes tasks on every worker, as Celery's `AsyncResult.revoke` does: broadcasts the `revoke`
   * command (see `app.control.revoke`), so workers in other processes and Python workers skip the
   * tasks (state REVOKED) and, with `terminate`, stop them if running; this app's in-process
   * workers are told at once. Rejects with `OperationalError` when the broker cannot be reached
   * (then no other process was told).
   */
  async revoke(taskId: string | readonly string[], options: RevokeOptions = {}): Promise<void> {
    const ids = typeof taskId === 'string' ? [taskId] : [...taskId];
    await this.control.revoke(ids, options);
    this.recordRevoked(ids, options);
  }

  /**
   * @internal Records revoked ids in this process and tells this app's in-process workers (what a
   * worker does when the `revoke` command reaches it). A revoke already known (with terminate, if
   * this one asks for it) is not announced twice.
   */
  recordRevoked(taskIds: readonly string[], options: RevokeOptions = {}): void {
    for (const id of taskIds) {
      const fresh = this.revoked.add(id);
      const terminating = options.terminate === true && this.revoked.markTerminate(id, options.signal ?? 'SIGTERM');
      if (!fresh && !terminating) continue;
      for (const listener of this.listeners) listener(id, options);
    }
  }

  /** @internal Workers subscribe to revokes of this app. Returns an unsubscribe function. */
  onRevoke(listener: (taskId: string, options: RevokeOptions) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- connections --------------------------------------------------------------------------

  /** The broker connection (created and connected on first use). */
  getTransport(): Promise<Transport> {
    this.transportPromise ??= (async () => {
      const transport = await this.transports.create(this.conf.brokerUrl, this.conf.brokerTransportOptions, this.logger, this.conf.messageMaxBytes);
      await transport.connect();
      return transport;
    })();
    this.transportPromise.catch(() => (this.transportPromise = undefined));
    return this.transportPromise;
  }

  /** The app's result backend (connected on first use). */
  getBackend(): Promise<ResultBackend> {
    return this.backendFor(this.conf.resultBackend);
  }

  /** The backend a task stores into: its own `backend` option, else the app's. */
  backendForTask(task: Task): Promise<ResultBackend> {
    const own = this.taskBackend(task);
    return typeof own === 'object' && own !== null ? Promise.resolve(own) : this.backendFor(own);
  }

  /** @internal The backend of `task` if it is connected already (the worker's fast path), else undefined. */
  connectedBackendForTask(task: Task): ResultBackend | undefined {
    const own = this.taskBackend(task);
    return typeof own === 'object' && own !== null ? own : this.connectedBackends.get(own ?? '');
  }

  /** A task's backend: the object it carries, or the URL of one this app opens (null: none). */
  private taskBackend(task: Task): ResultBackend | string | null {
    return task.backend === undefined ? this.conf.resultBackend : task.backend;
  }

  private backendFor(url: string | null): Promise<ResultBackend> {
    const key = url ?? '';
    let promise = this.backendPromises.get(key);
    if (!promise) {
      promise = (async () => {
        const backend = url
          ? await this.backends.create({
              url,
              expiresSeconds: this.conf.resultExpires,
              backendOptions: this.conf.resultBackendTransportOptions,
              tables: { names: this.conf.databaseTableNames, schemas: this.conf.databaseTableSchemas },
              client: { getTransport: () => this.getTransport(), oid: this.oid, persistent: this.conf.resultPersistent, logger: this.logger },
            })
          : new (await import('../backends/disabled.js')).DisabledBackend();
        await backend.connect();
        if (this.backendPromises.get(key) === promise) this.connectedBackends.set(key, backend);
        return backend;
      })();
      this.backendPromises.set(key, promise);
      promise.catch(() => this.backendPromises.delete(key));
    }
    return promise;
  }

  /** Closes the broker and backend connections. */
  async close(): Promise<void> {
    const control = this.controlClient;
    this.controlClient = undefined;
    await control?.close().catch(() => undefined);
    const transport = this.transportPromise;
    this.transportPromise = undefined;
    const backends = [...this.backendPromises.values()];
    this.backendPromises.clear();
    this.connectedBackends.clear();
    await Promise.allSettled([
      transport?.then((t) => t.close()),
      ...backends.map((b) => b.then((x) => x.close())),
    ]);
  }
}
