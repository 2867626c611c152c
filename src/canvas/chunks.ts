/**
 * `task.map(items)`, `task.starmap(items)` and `task.chunks(items, n)`: many calls of one task as a
 * single message (`celery.map` / `celery.starmap`) or split into `n`-sized messages run as a group
 * (`celery.chunks`), as Celery's `xmap`, `xstarmap` and `chunks` signatures.
 */
import type { SignatureDict } from '../protocol/message.js';
import type { AsyncResult } from '../result/async-result.js';
import type { GroupResult } from '../result/group-result.js';
import { Group } from './group.js';
import { fromWireOptions, type ApplyOptions } from './options.js';
import { registerSignatureType, Signature, type CanvasApp } from './signature.js';

/** `celery.map`: calls `task` once per item, in one worker, returning the list of results. */
export function xmap<R>(task: Signature<R>, items: readonly unknown[]): Signature<R[]> {
  return new Signature<R[]>('celery.map', {
    kwargs: { task: task.toJSON(), it: [...items] },
    subtaskType: 'xmap',
    immutable: true,
    app: task.app,
  });
}

/** `celery.starmap`: calls `task(...item)` once per item, in one worker. */
export function xstarmap<R>(task: Signature<R>, items: readonly unknown[][]): Signature<R[]> {
  return new Signature<R[]>('celery.starmap', {
    kwargs: { task: task.toJSON(), it: items.map((i) => [...i]) },
    subtaskType: 'xstarmap',
    immutable: true,
    app: task.app,
  });
}

/** Splits `items` into lists of at most `n`. */
export function splitChunks<T>(items: readonly T[], n: number): T[][] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`chunk size must be a positive integer, got ${n}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}

/** `celery.chunks`: the items split into `n`-sized `starmap` calls, run as a group. */
export class Chunks<R = unknown> extends Signature<R[][]> {
  constructor(
    readonly taskSig: Signature<R>,
    readonly items: unknown[][],
    readonly n: number,
    app: CanvasApp | null,
    options: Record<string, unknown> = {},
  ) {
    super('celery.chunks', { kwargs: {}, options, subtaskType: 'chunks', immutable: true, app });
  }

  /** The group of `starmap` calls this stands for. */
  group(): Group<R[]> {
    const app = this.requireApp();
    const calls = splitChunks(this.items, this.n).map((chunk) => {
      const sig = xstarmap(this.taskSig, chunk);
      sig.app = app;
      return sig;
    });
    return new Group<R[]>(calls, app);
  }

  /** Sends the chunks as a group; the result lists each chunk's results. */
  override applyAsync(_args: unknown[] = [], _kwargs: Record<string, unknown> = {}, options: ApplyOptions = {}): Promise<AsyncResult<R[][]>> {
    return this.group().applyAsync([], {}, { ...fromWireOptions(this.options), ...options }) as Promise<GroupResult<R[]>>;
  }

  override toJSON(): SignatureDict {
    return { ...super.toJSON(), kwargs: { task: this.taskSig.toJSON(), it: this.items, n: this.n } };
  }
}

registerSignatureType('chunks', (dict, app) => {
  const kw = dict.kwargs ?? {};
  const task = Signature.fromDict(kw['task'] as SignatureDict, app);
  return new Chunks(task, (kw['it'] ?? []) as unknown[][], Number(kw['n'] ?? 1), app, { ...(dict.options ?? {}) });
});
