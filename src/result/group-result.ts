/**
 * Results of a group: one handle over its members' results (Celery's `GroupResult`), which can be
 * saved to the backend (`celery-taskset-meta-<id>` / `celery_tasksetmeta`) and restored by id.
 */
import type { ResultBackend } from '../backends/port.js';
import { TimeoutError } from '../errors/index.js';
import { AsyncResult, assertWillNotBlock, type GetOptions, type ResultContext, type ResultTuple, type RevokeOptions } from './async-result.js';
import { READY_STATES, States } from './states.js';

/** Anything a group can hold: task results, or nested group results. */
export type MemberResult = AsyncResult;

/** The result of a group: its members' results, in order. */
export class GroupResult<R = unknown> extends AsyncResult<R[]> {
  constructor(
    id: string,
    context: ResultContext,
    /** The members' results, in the group's order. */
    readonly results: MemberResult[],
    parent: AsyncResult | null = null,
  ) {
    super(id, context, parent);
  }

  override withParent(parent: AsyncResult | null): GroupResult<R> {
    return new GroupResult<R>(this.id, this.context, this.results, parent);
  }

  /** Whether every member is ready. */
  override async ready(): Promise<boolean> {
    return (await this.each((r) => r.ready())).every(Boolean);
  }

  /** `check` of every member, read in parallel (one backend round trip's latency, not N). */
  private each(check: (r: AsyncResult) => Promise<boolean>): Promise<boolean[]> {
    return Promise.all(this.results.map(check));
  }

  /** Whether every member succeeded. */
  override async successful(): Promise<boolean> {
    return (await this.each((r) => r.successful())).every(Boolean);
  }

  /** Whether any member failed. */
  override async failed(): Promise<boolean> {
    return (await this.each((r) => r.failed())).some(Boolean);
  }

  /** Whether any member is not ready yet. */
  async waiting(): Promise<boolean> {
    return !(await this.ready());
  }

  /** How many members have succeeded. */
  async completedCount(): Promise<number> {
    return (await this.each((r) => r.successful())).filter(Boolean).length;
  }

  /** A summary state: SUCCESS when all succeeded, FAILURE when any failed, else PENDING. */
  override async state(): Promise<string> {
    const states = await Promise.all(this.results.map((r) => r.state()));
    if (states.some((s) => s === States.FAILURE)) return States.FAILURE;
    if (states.every((s) => s === States.SUCCESS)) return States.SUCCESS;
    if (states.every((s) => READY_STATES.has(s))) return states.find((s) => s !== States.SUCCESS) ?? States.SUCCESS;
    return States.PENDING;
  }

  override async info(): Promise<unknown> {
    return Promise.all(this.results.map((r) => r.info()));
  }

  /** Waits for every member and returns their values in order (Celery's `join`). */
  async join(options: GetOptions = {}): Promise<R[]> {
    assertWillNotBlock(options.disableSyncSubtasks ?? this.context.disableSyncSubtasks);
    const deadline = options.timeout === undefined ? undefined : Date.now() + options.timeout * 1000;
    const values: R[] = [];
    for (const r of this.results) {
      const left = deadline === undefined ? undefined : (deadline - Date.now()) / 1000;
      if (left !== undefined && left <= 0) throw new TimeoutError(`timed out waiting for group ${this.id}`);
      values.push((await r.get({ ...options, ...(left !== undefined ? { timeout: left } : {}) })) as R);
    }
    return values;
  }

  /** Same as {@link join}. */
  override get(options: GetOptions = {}): Promise<R[]> {
    return this.join(options);
  }

  /** Forgets every member and the saved group. */
  override async forget(): Promise<void> {
    await Promise.all(this.results.map((r) => r.forget()));
    await (await this.backend()).deleteGroup(this.id);
  }

  /** Revokes every member. */
  override async revoke(options?: RevokeOptions): Promise<void> {
    for (const r of this.results) await r.revoke(options);
  }

  /** Saves the group so it can be restored by id (e.g. from another process). */
  async save(backend?: ResultBackend): Promise<void> {
    await (backend ?? (await this.backend())).saveGroup(this.id, { result: this.asTuple() });
  }

  /** Restores a saved group, or null if there is none of that id. */
  static async restore<T = unknown>(id: string, context: ResultContext, backend?: ResultBackend): Promise<GroupResult<T> | null> {
    const b = backend ?? (await context.getBackend());
    const meta = await b.restoreGroup(id);
    if (!meta) return null;
    return resultFromTuple(meta.result, context) as GroupResult<T>;
  }

  override asTuple(): ResultTuple {
    return [[this.id, this.parent ? this.parent.asTuple() : null], this.results.map((r) => r.asTuple())];
  }
}

/** Rebuilds a result (task or group) from Celery's tuple form. */
export function resultFromTuple(tuple: unknown, context: ResultContext): AsyncResult {
  if (!Array.isArray(tuple) || tuple.length !== 2 || !Array.isArray(tuple[0])) {
    throw new TypeError(`not a result tuple: ${JSON.stringify(tuple)}`);
  }
  const [[id, parentTuple], members] = tuple as [[string, unknown], unknown];
  const parent = parentTuple ? resultFromTuple(parentTuple, context) : null;
  if (Array.isArray(members)) {
    return new GroupResult(id, context, members.map((m) => resultFromTuple(m, context)), parent);
  }
  return new AsyncResult(id, context, parent);
}
