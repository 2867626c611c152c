/**
 * Chords: `chord([a.s(1), a.s(2)], total.s())` runs the header group in parallel, then the body
 * once with the list of the header's results (in header order).
 *
 * How the body gets triggered, as in Celery:
 * - Backends with atomic counting (`backend.chords`: memory, Redis, memcached) are told the
 *   header's members before it is sent; every header task reports to the backend when it is done
 *   (`chordPartReturned`, called by the worker's tracer) and the one that completes the set
 *   applies the body.
 * - Other backends (SQL, rpc) get the `celery.chord_unlock` task, which polls the header's
 *   results and retries itself every `interval` seconds until they are all ready.
 *
 * Every header message carries the body in its `chord` field (with `chord_size`), so Python
 * Celery workers and ours can run each other's chord parts. A header task failing makes the chord
 * fail: the body is not applied, its result becomes a `ChordError` naming the failed task, and
 * the body's errbacks are applied.
 */
import type { ResultBackend } from '../backends/port.js';
import { ChordError, ImproperlyConfigured } from '../errors/index.js';
import { deserializeError, isSerializedError, serializeError } from '../protocol/exceptions.js';
import type { SignatureDict } from '../protocol/message.js';
import { pyRepr } from '../protocol/repr.js';
import type { AsyncResult } from '../result/async-result.js';
import { GroupResult } from '../result/group-result.js';
import { States } from '../result/states.js';
import { buildMeta } from '../task/meta.js';
import { uuid } from '../utils/ids.js';
import { Chain } from './chain.js';
import { Group } from './group.js';
import { attachParent } from './links.js';
import { fromWireOptions, signatureList, type ApplyOptions } from './options.js';
import { registerSignatureType, Signature, type CanvasApp } from './signature.js';

/** Seconds between `celery.chord_unlock` polls, Celery's default. */
export const CHORD_UNLOCK_INTERVAL = 1;

/** A chord: a header group and a body applied with the header's results. */
export class Chord<R = unknown> extends Signature<R> {
  readonly header: Group;
  body: Signature<R> | null;

  constructor(header: Group | readonly Signature[], body: Signature<R> | null, app: CanvasApp | null, options: Record<string, unknown> = {}) {
    super('celery.chord', { kwargs: {}, options, subtaskType: 'chord', app });
    this.header = header instanceof Group ? header : new Group(header, app);
    this.body = body;
  }

  /**
   * Freezes the header and the body (which keeps an id it has; `taskId` is the fallback) and
   * returns the body's result, linked back to the header's. The chord's own id becomes the
   * header's group id, as in Celery.
   */
  override freeze(taskId?: string): AsyncResult<R> {
    const app = this.requireApp();
    const body = this.requireBody();
    if (!body.app) body.app = app;
    if (!this.header.app) this.header.app = app;
    const headerResult = this.header.freeze();
    const bodyResult = body.freeze(taskId);
    this.options['task_id'] = headerResult.id;
    return attachParent(app, bodyResult, headerResult) as AsyncResult<R>;
  }

  override clone(args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: ApplyOptions = {}): Chord<R> {
    const copy = Signature.fromDict(structuredClone(this.toJSON()), this.app) as Chord<R>;
    if (!this.immutable && (args.length > 0 || Object.keys(kwargs).length > 0)) {
      copy.header.tasks.splice(0, copy.header.tasks.length, ...copy.header.tasks.map((t) => t.clone(args, kwargs)));
    }
    return copy.set(options);
  }

  /**
   * Sends the header with the body attached; resolves with the body's result, whose `parent` is
   * the header's {@link GroupResult}. Partial arguments go to every header task. `taskId` names
   * the body's result unless the body has an id already (a frozen chord's `taskId` is its
   * header's id); the header keeps its own id as the group id.
   */
  override async applyAsync(args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: ApplyOptions = {}): Promise<AsyncResult<R>> {
    const app = this.requireApp();
    const all = { ...fromWireOptions(this.options), ...options };
    const { taskId, link, linkError, chain: rest, groupId: outerGroup, groupIndex, chord: outerChord, ...sendOptions } = all;
    const header = this.immutable ? this.header.clone() : this.header.clone(args, kwargs);
    const body = Signature.fromDict(structuredClone(this.requireBody().toJSON()), this.requireBody().app ?? app) as Signature<R>;
    if (taskId !== undefined && body.id === undefined && taskId !== header.id) body.options['task_id'] = taskId;
    if (link !== undefined) body.options['link'] = [...signatureList(body.options['link'] as ApplyOptions['link']), ...signatureList(link)];
    if (linkError !== undefined) {
      body.options['link_error'] = [...signatureList(body.options['link_error'] as ApplyOptions['link']), ...signatureList(linkError)];
    }
    // A chord followed by more steps of a chain: the body continues the chain.
    if (rest !== undefined) body.options['chain'] = rest;
    // A chord inside a group (or a bigger chord) answers to it through its body.
    if (outerGroup !== undefined) body.options['group_id'] = outerGroup;
    if (groupIndex !== undefined) body.options['group_index'] = groupIndex;
    if (outerChord !== undefined) body.options['chord'] = outerChord;
    const bodyResult = body.freeze();

    const groupId = header.id ?? uuid();
    if (header.tasks.length === 0) {
      await body.applyAsync([[]], {}, sendOptions);
      return attachParent(app, bodyResult, new GroupResult(groupId, app.resultContext, [])) as AsyncResult<R>;
    }
    if (app.alwaysEager) {
      // Eager: the header ran in place; its values go straight to the body.
      const eagerHeader = await header.applyAsync([], {}, { ...sendOptions, taskId: groupId });
      const values = await eagerHeader.get({ disableSyncSubtasks: false });
      return body.applyAsync([values], {}, sendOptions);
    }
    const headerResult = header.freeze(groupId);
    const bodyDict: SignatureDict = { ...body.toJSON(), chord_size: header.tasks.length };
    const backend = await app.getBackend();
    if (backend.chordsUnsupported) throw new ImproperlyConfigured(backend.chordsUnsupported);
    if (backend.chords) {
      await backend.chords.prepare(groupId, headerResult.results.map((r) => r.id));
    } else {
      await new Signature('celery.chord_unlock', { app }).applyAsync(
        [groupId, bodyDict],
        { interval: CHORD_UNLOCK_INTERVAL, max_retries: null, result: headerResult.results.map((r) => r.asTuple()) },
        { countdown: CHORD_UNLOCK_INTERVAL },
      );
    }
    await header.applyAsync([], {}, { ...sendOptions, taskId: groupId, chord: bodyDict });
    return attachParent(app, bodyResult, headerResult) as AsyncResult<R>;
  }

  override toJSON(): SignatureDict {
    return {
      ...super.toJSON(),
      kwargs: { header: this.header.toJSON(), body: this.body ? this.body.toJSON() : null, kwargs: {} },
    };
  }

  private requireBody(): Signature<R> {
    if (!this.body) throw new TypeError('chord has no body: call it with one, chord(header)(body)');
    return this.body;
  }
}

registerSignatureType('chord', (dict, app) => {
  const kw = dict.kwargs ?? {};
  const rawHeader = (kw['header'] ?? dict.args?.[0] ?? []) as SignatureDict | SignatureDict[];
  const header = Array.isArray(rawHeader)
    ? new Group(rawHeader.map((t) => Signature.fromDict(t, app)), app)
    : (Signature.fromDict(rawHeader, app) as Group);
  const rawBody = (kw['body'] ?? dict.args?.[1] ?? null) as SignatureDict | null;
  const c = new Chord(header instanceof Group ? header : [header], rawBody ? Signature.fromDict(rawBody, app) : null, app, {
    ...(dict.options ?? {}),
  });
  c.immutable = Boolean(dict.immutable);
  return c;
});

/** The ids whose results a chord's body stands for (every step of a chain body and after it). */
function bodyIds(body: Signature): string[] {
  const steps = body instanceof Chain ? body.tasks.flatMap(bodyIds) : [];
  // Steps of an enclosing chain that were to follow the body will not run either.
  const rest = Array.isArray(body.options['chain']) ? (body.options['chain'] as SignatureDict[]) : [];
  const later = rest.map((d) => d.options?.['task_id']).filter((id): id is string => typeof id === 'string');
  return [...steps, ...(body.id ? [body.id] : []), ...later];
}

/**
 * Makes a chord fail: the body's result (every step, for a chain body) becomes a `ChordError`
 * with `reason`, and the body's errbacks are applied with its id.
 */
async function failChord(app: CanvasApp, backend: ResultBackend, bodyDict: SignatureDict, reason: string): Promise<void> {
  const body = Signature.fromDict(bodyDict, app);
  const error = new ChordError(reason);
  const serialized = serializeError(error);
  for (const id of bodyIds(body)) {
    await backend.storeResult(buildMeta(id, States.FAILURE, serialized, error.stack ?? null, null));
  }
  for (const errback of signatureList(body.options['link_error'] as ApplyOptions['link'])) {
    await Signature.fromDict(errback, app).applyAsync([body.id ?? ''], {}, {});
  }
}

/** Why a failed header part fails the chord, in Celery's words. */
function dependencyError(taskId: string, result: unknown): string {
  let repr = pyRepr(result);
  if (isSerializedError(result)) {
    const err = deserializeError(result);
    repr = `${result.exc_type}(${pyRepr(err.message)})`;
  }
  return `Dependency ${taskId} raised ${repr}`;
}

/**
 * Called by the worker after a header task of a chord stored its final state: counts it with the
 * backend and, for the part that completes the header, applies the body with every result (or
 * fails the chord if a part failed). A no-op for backends without `chords` (chord_unlock polls
 * instead) and for tasks that are not part of a chord.
 */
export async function chordPartReturned(
  app: CanvasApp,
  backend: ResultBackend,
  part: { taskId: string; groupId: string | null; groupIndex: number | null; chord: SignatureDict | null; state: string; result: unknown },
): Promise<void> {
  if (!backend.chords || !part.chord || !part.groupId) return;
  const parts = await backend.chords.partReturned(part.groupId, {
    taskId: part.taskId,
    index: part.groupIndex ?? 0,
    state: part.state,
    result: part.result,
  });
  if (parts) await completeChord(app, backend, part.chord, parts);
}

/**
 * Ends a chord whose header is done: the body gets the header's results in order, or, if a
 * header task failed, the body fails with {@link ChordError} naming it (Celery's rule).
 */
export async function completeChord(
  app: CanvasApp,
  backend: ResultBackend,
  bodyDict: SignatureDict,
  parts: ReadonlyArray<{ taskId: string; state: string; result: unknown }>,
): Promise<void> {
  const failed = parts.find((p) => p.state !== States.SUCCESS);
  if (failed) {
    await failChord(app, backend, bodyDict, dependencyError(failed.taskId, failed.result));
    return;
  }
  await Signature.fromDict(bodyDict, app).applyAsync([parts.map((p) => p.result)]);
}

/**
 * A chord of `header` and `body`; without a body, a function taking it (Celery's
 * `chord(header)(body)`).
 *
 * @example
 * const res = await chord([add.s(2, 2), add.s(4, 4)], tsum.s()).applyAsync();
 * await res.get(); // 12
 */
export function chord<R>(header: Group | readonly Signature[], body: Signature<R>): Chord<R>;
export function chord(header: Group | readonly Signature[]): <R>(body: Signature<R>) => Promise<AsyncResult<R>>;
export function chord<R>(header: Group | readonly Signature[], body?: Signature<R>): Chord<R> | (<S>(body: Signature<S>) => Promise<AsyncResult<S>>) {
  const tasks = header instanceof Group ? header.tasks : header;
  const app = body?.app ?? tasks.find((t) => t.app)?.app ?? null;
  if (body) return new Chord<R>(header, body, app);
  return <S>(b: Signature<S>) => new Chord<S>(header, b, app ?? b.app).applyAsync();
}
