/**
 * Groups: `group(a.s(1), b.s(2))` runs tasks in parallel; its result is a {@link GroupResult}
 * whose values come back in the group's order. Each member's message carries the group id
 * (`group` header) and its position (`group_index`), as Celery's do. Serialized as
 * `{"task": "celery.group", "kwargs": {"tasks": [...]}, "subtask_type": "group"}`.
 */
import type { SignatureDict } from '../protocol/message.js';
import { GroupResult } from '../result/group-result.js';
import type { AsyncResult } from '../result/async-result.js';
import { uuid } from '../utils/ids.js';
import { fromWireOptions, type ApplyOptions } from './options.js';
import { registerSignatureType, Signature, type CanvasApp } from './signature.js';

/** A group of signatures run in parallel; `R` is the members' result type. */
export class Group<R = unknown> extends Signature<R[]> {
  /** The members (nested groups are flattened, as Celery does). */
  readonly tasks: Signature[];

  constructor(tasks: readonly Signature[], app: CanvasApp | null, options: Record<string, unknown> = {}) {
    super('celery.group', { kwargs: {}, options, subtaskType: 'group', app });
    this.tasks = tasks.flatMap((t) => (t instanceof Group ? t.tasks : [t]));
  }

  /** Assigns the group id and every member's id now; returns the group's result handle. */
  override freeze(taskId?: string): GroupResult<R> {
    const app = this.requireApp();
    const id = this.id ?? taskId ?? uuid();
    this.options['task_id'] = id;
    const results = this.tasks.map((t) => {
      if (!t.app) t.app = app;
      return t.freeze();
    });
    return new GroupResult<R>(id, app.resultContext, results);
  }

  override clone(args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: ApplyOptions = {}): Group<R> {
    const copy = Signature.fromDict(structuredClone(this.toJSON()), this.app) as Group<R>;
    if (!this.immutable && (args.length > 0 || Object.keys(kwargs).length > 0)) {
      copy.tasks.splice(0, copy.tasks.length, ...copy.tasks.map((t) => t.clone(args, kwargs)));
    }
    return copy.set(options);
  }

  /** Sends every member; partial arguments go to each of them. */
  override async applyAsync(args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: ApplyOptions = {}): Promise<GroupResult<R>> {
    const app = this.requireApp();
    const { taskId, groupId: _outer, groupIndex: _index, ...rest } = { ...fromWireOptions(this.options), ...options };
    const id = taskId ?? this.id ?? uuid();
    if (this.immutable) [args, kwargs] = [[], {}];
    const results: AsyncResult[] = [];
    for (const [index, member] of this.tasks.entries()) {
      const copy = Signature.fromDict(structuredClone(member.toJSON()), member.app ?? app);
      results.push(await copy.applyAsync(args, kwargs, { ...rest, groupId: id, groupIndex: index }));
    }
    return new GroupResult<R>(id, app.resultContext, results);
  }

  override toJSON(): SignatureDict {
    return { ...super.toJSON(), kwargs: { tasks: this.tasks.map((t) => t.toJSON()) } };
  }
}

registerSignatureType('group', (dict, app) => {
  const raw = (dict.kwargs?.['tasks'] ?? dict.args?.[0] ?? []) as SignatureDict[];
  const g = new Group(raw.map((t) => Signature.fromDict(t, app)), app, { ...(dict.options ?? {}) });
  g.immutable = Boolean(dict.immutable);
  return g;
});

/** Result type of a tuple of signatures. */
type Results<T extends readonly Signature[]> = T[number] extends Signature<infer R> ? R : unknown;

/**
 * Runs signatures in parallel.
 *
 * @example
 * const res = await group(add.s(2, 2), add.s(4, 4)).applyAsync();
 * await res.get(); // [4, 8]
 */
export function group<T extends readonly Signature[]>(...tasks: T): Group<Results<T>>;
export function group<R>(tasks: Iterable<Signature<R>>): Group<R>;
export function group(...args: unknown[]): Group {
  const tasks = (args.length === 1 && !(args[0] instanceof Signature) ? [...(args[0] as Iterable<Signature>)] : args) as Signature[];
  const app = tasks.find((t) => t.app)?.app ?? null;
  return new Group(tasks, app);
}
