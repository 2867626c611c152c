/**
 * Signatures: a task call as data (`add.s(2, 2)`), serializable to Celery's dict form so it can
 * travel in messages (callbacks, chains, arguments) and be applied by any worker, JS or Python.
 */
import type { SignatureDict } from '../protocol/message.js';
import type { ResultBackend } from '../backends/port.js';
import type { AsyncResult, ResultContext } from '../result/async-result.js';
import { uuid } from '../utils/ids.js';
import { fromWireOptions, signatureList, toWireOptions, type ApplyOptions, type SignatureLike } from './options.js';

/** What a signature needs from its app to be applied. */
export interface CanvasApp {
  /** @internal Sends a task by name with call options in wire form. */
  applySignature(sig: Signature, args: unknown[], kwargs: Record<string, unknown>, options: ApplyOptions): Promise<AsyncResult>;
  /** A result handle for an id; `task` names the task, whose own backend the handle then reads. */
  asyncResult(id: string, parent?: AsyncResult | null, task?: string): AsyncResult;
  /** This client's id (`reply_to`). */
  readonly oid: string;
  /** What group results need from the app. */
  readonly resultContext: ResultContext;
  /** The app's result backend (chords count their parts there). */
  getBackend(): Promise<ResultBackend>;
  /** Whether calls run locally instead of being sent (`task_always_eager`). */
  readonly alwaysEager: boolean;
}

/** Options a merge never overwrites once set (Celery's `_IMMUTABLE_OPTIONS`). */
const KEPT_OPTIONS = new Set(['group_id']);

/** Merges wire `options` into `into`, keeping the {@link KEPT_OPTIONS} already there. */
export function mergeOptions(into: Record<string, unknown>, options: Readonly<Record<string, unknown>>): void {
  for (const [key, value] of Object.entries(options)) {
    if (KEPT_OPTIONS.has(key) && into[key] !== undefined) continue;
    into[key] = value;
  }
}

type SignatureParser = (dict: SignatureDict, app: CanvasApp | null) => Signature;
const parsers = new Map<string, SignatureParser>();

/** @internal Lets composite signatures (chain, group, chord) register their dict parsers. */
export function registerSignatureType(subtaskType: string, parser: SignatureParser): void {
  parsers.set(subtaskType, parser);
}

/** A task call as data. `R` is the task's result type. */
export class Signature<R = unknown> implements SignatureLike {
  /** The task name. */
  readonly task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  /** Call options in Celery's wire names (`task_id`, `countdown`, `link`, ...). */
  options: Record<string, unknown>;
  subtaskType: string | null;
  /** Immutable signatures ignore the parent's result (`si()`). */
  immutable: boolean;
  /** The app used to apply it; null for a signature read from a dict without one. */
  app: CanvasApp | null;
  /** Phantom field carrying the result type. */
  declare readonly __result?: R;

  constructor(
    task: string,
    fields: {
      args?: unknown[];
      kwargs?: Record<string, unknown>;
      options?: Record<string, unknown>;
      subtaskType?: string | null;
      immutable?: boolean;
      app?: CanvasApp | null;
    } = {},
  ) {
    this.task = task;
    this.args = fields.args ?? [];
    this.kwargs = fields.kwargs ?? {};
    this.options = fields.options ?? {};
    this.subtaskType = fields.subtaskType ?? null;
    this.immutable = fields.immutable ?? false;
    this.app = fields.app ?? null;
  }

  /** Builds a signature (of any subtask type) from Celery's dict form. */
  static fromDict<T = unknown>(dict: SignatureDict | Signature<T>, app: CanvasApp | null = null): Signature<T> {
    if (dict instanceof Signature) return dict;
    const parser = dict.subtask_type ? parsers.get(dict.subtask_type) : undefined;
    if (parser) return parser(dict, app) as Signature<T>;
    return new Signature<T>(dict.task, {
      args: [...(dict.args ?? [])],
      kwargs: { ...(dict.kwargs ?? {}) },
      options: { ...(dict.options ?? {}) },
      subtaskType: dict.subtask_type ?? null,
      immutable: Boolean(dict.immutable),
      app,
    });
  }

  /** Task name (alias of `task`). */
  get name(): string {
    return this.task;
  }

  /** The id this call will have, once frozen (`options.task_id`). */
  get id(): string | undefined {
    const id = this.options['task_id'];
    return typeof id === 'string' ? id : undefined;
  }

  /** Merges call options into this signature; returns it. */
  set(options: ApplyOptions & { immutable?: boolean }): this {
    const { immutable, ...rest } = options;
    if (immutable !== undefined) this.immutable = immutable;
    Object.assign(this.options, toWireOptions(rest));
    return this;
  }

  /**
   * A copy with partial arguments merged as a call would merge them (Celery's rule: `args` come
   * before the signature's own, `kwargs` update its own; an immutable signature keeps its own
   * and ignores both) and options merged (a `group_id` already set is kept: changing it would
   * leave the group waiting for a member that reports elsewhere).
   */
  clone(args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: ApplyOptions = {}): Signature<R> {
    const copy = Signature.fromDict<R>(structuredClone(this.toJSON()), this.app);
    const m = copy.merged(args, kwargs);
    copy.args = m.args;
    copy.kwargs = m.kwargs;
    mergeOptions(copy.options, toWireOptions(options));
    return copy;
  }

  /** Adds a callback applied with this task's result when it succeeds. */
  link<S extends SignatureLike>(callback: S): S {
    this.appendOption('link', callback);
    return callback;
  }

  /** Adds an errback applied with this task's id when it fails. */
  linkError<S extends SignatureLike>(errback: S): S {
    this.appendOption('link_error', errback);
    return errback;
  }

  private appendOption(key: string, sig: SignatureLike): void {
    const list = Array.isArray(this.options[key]) ? (this.options[key] as unknown[]) : [];
    this.options[key] = [...list, ...signatureList(sig)];
  }

  /** Assigns the task id now (keeping one already set) and returns the result handle. */
  freeze(taskId?: string): AsyncResult<R> {
    const id = this.id ?? taskId ?? uuid();
    this.options['task_id'] = id;
    const app = this.requireApp();
    if (this.options['reply_to'] === undefined) this.options['reply_to'] = app.oid;
    return app.asyncResult(id, null, this.task) as AsyncResult<R>;
  }

  /** Arguments as this signature would be called with a parent's partial arguments. */
  protected merged(
    args: readonly unknown[],
    kwargs: Readonly<Record<string, unknown>>,
  ): { args: unknown[]; kwargs: Record<string, unknown> } {
    if (this.immutable) return { args: [...this.args], kwargs: { ...this.kwargs } };
    return { args: [...args, ...this.args], kwargs: { ...this.kwargs, ...kwargs } };
  }

  /** Sends the task; partial `args` come before the signature's own, as in Celery. */
  applyAsync(args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: ApplyOptions = {}): Promise<AsyncResult<R>> {
    const m = this.merged(args, kwargs);
    const merged: ApplyOptions = { ...fromWireOptions(this.options), ...options };
    return this.requireApp().applySignature(this, m.args, m.kwargs, merged) as Promise<AsyncResult<R>>;
  }

  /** `applyAsync` with positional arguments. */
  delay(...args: unknown[]): Promise<AsyncResult<R>> {
    return this.applyAsync(args);
  }

  /** Celery's dict form. */
  toJSON(): SignatureDict {
    return {
      task: this.task,
      args: this.args,
      kwargs: this.kwargs,
      options: this.options,
      subtask_type: this.subtaskType,
      immutable: this.immutable,
    };
  }

  protected requireApp(): CanvasApp {
    if (!this.app) throw new TypeError(`signature of '${this.task}' is not bound to an app: use app.signature(...)`);
    return this.app;
  }
}
