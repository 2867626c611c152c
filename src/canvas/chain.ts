/**
 * Chains: `chain(a.s(1), b.s(), c.s())` runs the steps one after another, each step's result
 * passed as the first argument of the next (unless that step is immutable, `si()`).
 *
 * Wire form, as Celery's: the first step's message carries the other steps in `embed.chain`,
 * last step first; each worker pops the next step and sends it with its own result. The chain
 * itself serializes as `{"task": "celery.chain", "kwargs": {"tasks": [...]}, "subtask_type": "chain"}`.
 */
import type { SignatureDict } from '../protocol/message.js';
import type { AsyncResult } from '../result/async-result.js';
import { Chord } from './chord.js';
import { Group } from './group.js';
import { freezeSteps } from './links.js';
import { fromWireOptions, signatureList, type ApplyOptions, type SignatureLike } from './options.js';
import { registerSignatureType, Signature, type CanvasApp } from './signature.js';

/** A chain of signatures; `R` is the last step's result type. */
export class Chain<R = unknown> extends Signature<R> {
  /** The steps, first to last. */
  readonly tasks: Signature[];

  constructor(tasks: readonly Signature[], app: CanvasApp | null, options: Record<string, unknown> = {}) {
    super('celery.chain', { kwargs: {}, options, subtaskType: 'chain', app });
    this.tasks = [...tasks];
  }

  /** Steps with nested chains inlined. */
  private flat(): Signature[] {
    return this.tasks.flatMap((t) => (t instanceof Chain ? t.flat() : [t]));
  }

  override clone(args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: ApplyOptions = {}): Chain<R> {
    const copy = Signature.fromDict(structuredClone(this.toJSON()), this.app) as Chain<R>;
    if (!this.immutable && (args.length > 0 || Object.keys(kwargs).length > 0)) {
      const first = copy.tasks[0];
      if (first) copy.tasks[0] = first.clone(args, kwargs);
    }
    return copy.set(options);
  }

  /**
   * Assigns every step's id now (the last one `taskId`); returns the last step's result, linked
   * back to the first step as {@link applyAsync}'s is (a group followed by more steps is frozen
   * as the chord it will be sent as).
   */
  override freeze(taskId?: string): AsyncResult<R> {
    const app = this.requireApp();
    return freezeSteps(app, upgradeGroups(this.flat(), app), taskId ?? this.id) as AsyncResult<R>;
  }

  /**
   * Sends the first step with the rest embedded (a group followed by more steps becomes a chord,
   * as in Celery). Resolves with the last step's result, whose `parent` links lead back to the
   * first step. Group and chord options (`groupId`, `groupIndex`, `chord`) apply to the last step:
   * it is the one whose result the group or chord waits for.
   */
  override async applyAsync(args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: ApplyOptions = {}): Promise<AsyncResult<R>> {
    const app = this.requireApp();
    let steps = this.flat().map((t) => Signature.fromDict(structuredClone(t.toJSON()), t.app ?? app));
    if (steps.length === 0) throw new TypeError('cannot apply an empty chain');
    steps = upgradeGroups(steps, app);
    const { taskId, link, linkError, groupId, groupIndex, chord, chain: after, ...sendOptions } = { ...fromWireOptions(this.options), ...options };
    const first = steps[0]!;
    const last = steps[steps.length - 1]!;
    // The chain's id names the last step's result unless that step has one already (Celery's rule).
    if (taskId !== undefined && last.id === undefined) last.options['task_id'] = taskId;
    if (groupId !== undefined) last.options['group_id'] = groupId;
    if (groupIndex !== undefined) last.options['group_index'] = groupIndex;
    if (chord !== undefined) last.options['chord'] = chord;
    if (link !== undefined) last.options['link'] = [...signatureList(last.options['link'] as ApplyOptions['link']), ...signatureList(link)];
    if (linkError !== undefined) {
      for (const step of steps) {
        step.options['link_error'] = [
          ...signatureList(step.options['link_error'] as ApplyOptions['link']),
          ...signatureList(linkError),
        ];
      }
    }
    if (this.immutable) [args, kwargs] = [[], {}];
    if (app.alwaysEager) return eagerChain(steps, args, kwargs, sendOptions) as Promise<AsyncResult<R>>;
    const result = freezeSteps(app, steps);
    // Steps of an enclosing chain that follow this one (a chain as a chord's body, say) run after
    // this chain's own: the wire list is last step first.
    const rest: SignatureDict[] = [...(after ?? []), ...steps.slice(1).reverse().map((s) => s.toJSON())];
    await first.applyAsync(args, kwargs, rest.length > 0 ? { ...sendOptions, chain: rest } : sendOptions);
    return result as AsyncResult<R>;
  }

  override toJSON(): SignatureDict {
    return { ...super.toJSON(), kwargs: { tasks: this.tasks.map((t) => t.toJSON()) } };
  }
}

/** Eager mode: each step runs in place, in order, with the previous step's value. */
async function eagerChain(steps: Signature[], args: unknown[], kwargs: Record<string, unknown>, options: ApplyOptions): Promise<AsyncResult> {
  let result = await steps[0]!.applyAsync(args, kwargs, options);
  for (const step of steps.slice(1)) {
    result = await step.applyAsync([await result.get({ disableSyncSubtasks: false })], {}, options);
  }
  return result;
}


/** A group followed by more steps becomes a chord whose body is the rest of the chain. */
function upgradeGroups(steps: Signature[], app: CanvasApp): Signature[] {
  const i = steps.findIndex((s, index) => s instanceof Group && index < steps.length - 1);
  if (i < 0) return steps;
  const rest = steps.slice(i + 1);
  const body = rest.length === 1 ? rest[0]! : new Chain(rest, app);
  return [...steps.slice(0, i), new Chord(steps[i] as Group, body, app)];
}

registerSignatureType('chain', (dict, app) => {
  const raw = (dict.kwargs?.['tasks'] ?? dict.args?.[0] ?? []) as SignatureDict[];
  const chain = new Chain(raw.map((t) => Signature.fromDict(t, app)), app, { ...(dict.options ?? {}) });
  chain.immutable = Boolean(dict.immutable);
  return chain;
});

/** Type of the last element of a tuple of signatures. */
type LastResult<T extends readonly SignatureLike[]> = T extends readonly [...SignatureLike[], infer L]
  ? L extends Signature<infer R>
    ? R
    : unknown
  : unknown;

/**
 * Chains signatures: each step gets the previous step's result as its first argument.
 *
 * @example
 * const result = await chain(add.s(1, 2), add.s(10), mul.s(2)).applyAsync();
 * await result.get(); // ((1 + 2) + 10) * 2
 */
export function chain<T extends readonly Signature[]>(...tasks: T): Chain<LastResult<T>> {
  const app = tasks.find((t) => t.app)?.app ?? null;
  return new Chain<LastResult<T>>(tasks, app);
}
