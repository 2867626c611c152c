/**
 * Shared behaviour of result backends: the polling `waitFor` (with backoff) used by backends that
 * cannot push, and the key-value base that Redis, Memcached and memory backends sit on (Celery's
 * `KeyValueStoreBackend`): records are JSON under `celery-task-meta-<id>`, groups under
 * `celery-taskset-meta-<id>`.
 */
import { ChordError, TimeoutError } from '../errors/index.js';
import { fromJson, toJson } from '../protocol/json.js';
import { READY_STATES, States } from '../result/states.js';
import { sleep } from '../utils/time.js';
import type { ChordPart, ChordStore, GroupMeta, ResultBackend, TaskMeta, WaitOptions } from './port.js';

/** The record of a task nobody has stored anything for. */
export function pendingMeta(taskId: string): TaskMeta {
  return { status: States.PENDING, result: null, traceback: null, children: [], date_done: null, task_id: taskId };
}

/** Polls `getTaskMeta` until ready: interval starts at `intervalMs`, grows 1.5x up to 1 s. */
export async function pollUntilReady(
  get: (id: string) => Promise<TaskMeta>,
  taskId: string,
  options: WaitOptions = {},
): Promise<TaskMeta> {
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  let interval = options.intervalMs ?? 50;
  const maxInterval = Math.max(interval, 1000);
  for (;;) {
    const meta = await get(taskId);
    if (READY_STATES.has(meta.status)) return meta;
    const left = deadline - Date.now();
    if (left <= 0) throw new TimeoutError(`timed out waiting for task ${taskId} (state ${meta.status})`);
    await sleep(Math.min(interval, left), options.signal);
    interval = Math.min(maxInterval, interval * 1.5);
  }
}

/** A subscription to a task's changes (see {@link waitWithNotifications}). */
export interface Subscription {
  unsubscribe(): Promise<void>;
  /**
   * The record as read right after subscribing, when the store could read it in the same round
   * trip (a Redis RESP3 connection answers a GET after its SUBSCRIBE, in order).
   */
  current?: TaskMeta;
}

/** Waits for a task's ready record using a change notification, re-checking on each change. */
export async function waitWithNotifications(
  get: (id: string) => Promise<TaskMeta>,
  subscribe: (taskId: string, onChange: (record?: string) => void) => Promise<Subscription>,
  taskId: string,
  options: WaitOptions = {},
): Promise<TaskMeta> {
  let wake: (() => void) | undefined;
  let changed = false;
  /** A ready record that came with its notification (Redis publishes it): no need to read it. */
  let published: TaskMeta | undefined;
  const subscription = await subscribe(taskId, (record) => {
    changed = true;
    if (record !== undefined) {
      try {
        const meta = fromJson(record) as TaskMeta;
        if (READY_STATES.has(meta.status)) published = meta;
      } catch {
        // Not a record: read it from the store instead.
      }
    }
    wake?.();
  });
  let current = subscription.current;
  try {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      if (published) return published;
      // Read after the subscription took effect (first, the read made with it): a change after
      // the read is notified, and sets `changed` again.
      let meta: TaskMeta;
      if (current) {
        meta = current;
        current = undefined;
      } else {
        changed = false;
        meta = await get(taskId);
      }
      if (READY_STATES.has(meta.status)) return meta;
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError(`timed out waiting for task ${taskId} (state ${meta.status})`);
      if (changed) continue;
      // Re-check now and then even without a notification: a publish can be missed across a
      // reconnect, and a poll every few seconds costs nothing.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(done, Math.min(left, 5000));
        function done(): void {
          clearTimeout(timer);
          wake = undefined;
          options.signal?.removeEventListener('abort', abort);
          resolve();
        }
        function abort(): void {
          clearTimeout(timer);
          reject(options.signal?.reason);
        }
        wake = done;
        if (options.signal?.aborted) abort();
        else options.signal?.addEventListener('abort', abort, { once: true });
      });
    }
  } finally {
    // Not awaited: the caller has its answer, the unsubscribe round trip need not delay it.
    subscription.unsubscribe().catch(() => undefined);
  }
}

/** The storage a key-value backend needs. */
export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  /** Sets a key; `ttlSeconds` null keeps it forever. */
  set(key: string, value: string, ttlSeconds: number | null): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * `set`, then announce the new value to waiting clients (Redis PUBLISH), for stores that can
   * notify; Redis batches the records of many finishing tasks into one script call.
   */
  setAndPublish?(key: string, value: string, ttlSeconds: number | null): Promise<void>;
  /**
   * Subscribes to changes of `key` (given the new value when the store publishes it). A store
   * that can read the key in the same round trip, after the subscription took effect, returns
   * that `value` too (null: no such key).
   */
  subscribe?(key: string, onChange: (value?: string) => void): Promise<{ unsubscribe(): Promise<void>; value?: string | null }>;
  /** Atomically increments an integer key (created at 0), returning the new value. */
  incr?(key: string, ttlSeconds: number | null): Promise<number>;
  connect(): Promise<void>;
  close(): Promise<void>;
}

/** A key's TTL in whole seconds for `result_expires` (0: keep forever). */
export function keyTtl(expiresSeconds: number | null): number {
  return expiresSeconds !== null && expiresSeconds > 0 ? Math.ceil(expiresSeconds) : 0;
}

/** Celery's key prefixes. */
export const TASK_KEY_PREFIX = 'celery-task-meta-';
export const GROUP_KEY_PREFIX = 'celery-taskset-meta-';
export const CHORD_KEY_PREFIX = 'chord-unlock-';

/**
 * Chord counting on a key-value store with `incr`, as Celery's KeyValueStoreBackend does it: the
 * header is saved as a group, each finished part increments `chord-unlock-<group id>`, and the
 * part that brings the counter to the group's size collects every member's record.
 */
class CounterChordStore implements ChordStore {
  constructor(private readonly backend: KeyValueBackend, private readonly store: KeyValueStore & Required<Pick<KeyValueStore, 'incr'>>, private readonly expires: number | null) {}

  async prepare(groupId: string, memberIds: readonly string[]): Promise<void> {
    await this.backend.saveGroup(groupId, { result: [[groupId, null], memberIds.map((id) => [[id, null], null])] });
  }

  async partReturned(groupId: string, _part: ChordPart): Promise<ChordPart[] | null> {
    const saved = await this.backend.restoreGroup(groupId);
    if (!saved) throw new ChordError(`GroupResult ${groupId} no longer exists`);
    const members = (saved.result as [unknown, Array<[[string, unknown], unknown]>])[1];
    const count = await this.store.incr(CHORD_KEY_PREFIX + groupId, this.expires);
    if (count !== members.length) return null;
    const parts = await Promise.all(
      members.map(async ([[taskId]], index): Promise<ChordPart> => {
        const meta = await this.backend.getTaskMeta(taskId);
        return { taskId, index, state: meta.status, result: meta.result };
      }),
    );
    await this.store.delete(CHORD_KEY_PREFIX + groupId);
    await this.backend.deleteGroup(groupId);
    return parts;
  }
}

/** A result backend over any {@link KeyValueStore}. */
export class KeyValueBackend implements ResultBackend {
  readonly chords: ChordStore | undefined;

  /**
   * @param chords the store's own chord bookkeeping; by default a counter on `incr` when the
   * store has it, else none (chords then use `celery.chord_unlock`).
   */
  constructor(
    readonly driver: string,
    protected readonly store: KeyValueStore,
    protected readonly expiresSeconds: number | null,
    chords?: ChordStore,
  ) {
    const incr = store.incr;
    this.chords = chords ?? (incr ? new CounterChordStore(this, store as KeyValueStore & { incr: typeof incr }, expiresSeconds) : undefined);
  }

  connect(): Promise<void> {
    return this.store.connect();
  }

  close(): Promise<void> {
    return this.store.close();
  }

  storeResult(meta: TaskMeta): Promise<void> {
    const key = TASK_KEY_PREFIX + meta.task_id;
    // Celery never lets a late state overwrite SUCCESS (a duplicate delivery finishing after).
    if (meta.status !== States.SUCCESS) return this.storeUnlessSucceeded(key, meta);
    // Not async: a SUCCESS (nearly every store) costs only the store's own promise.
    try {
      return this.write(key, meta);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  private async storeUnlessSucceeded(key: string, meta: TaskMeta): Promise<void> {
    const current = await this.store.get(key);
    if (current !== null && (fromJson(current) as TaskMeta).status === States.SUCCESS) return;
    await this.write(key, meta);
  }

  private write(key: string, meta: TaskMeta): Promise<void> {
    const text = toJson(meta);
    if (this.store.setAndPublish && READY_STATES.has(meta.status)) return this.store.setAndPublish(key, text, this.expiresSeconds);
    return this.store.set(key, text, this.expiresSeconds);
  }

  async getTaskMeta(taskId: string): Promise<TaskMeta> {
    const text = await this.store.get(TASK_KEY_PREFIX + taskId);
    return text === null ? pendingMeta(taskId) : (fromJson(text) as TaskMeta);
  }

  waitFor(taskId: string, options?: WaitOptions): Promise<TaskMeta> {
    const get = (id: string): Promise<TaskMeta> => this.getTaskMeta(id);
    const sub = this.store.subscribe?.bind(this.store);
    if (!sub) return pollUntilReady(get, taskId, options);
    const subscribe = async (id: string, cb: (value?: string) => void): Promise<Subscription> => {
      const { unsubscribe, value } = await sub(TASK_KEY_PREFIX + id, cb);
      if (value === undefined) return { unsubscribe };
      return { unsubscribe, current: value === null ? pendingMeta(id) : (fromJson(value) as TaskMeta) };
    };
    return waitWithNotifications(get, subscribe, taskId, options);
  }

  async forget(taskId: string): Promise<void> {
    await this.store.delete(TASK_KEY_PREFIX + taskId);
  }

  async saveGroup(groupId: string, meta: GroupMeta): Promise<void> {
    await this.store.set(GROUP_KEY_PREFIX + groupId, toJson(meta), this.expiresSeconds);
  }

  async restoreGroup(groupId: string): Promise<GroupMeta | null> {
    const text = await this.store.get(GROUP_KEY_PREFIX + groupId);
    return text === null ? null : (fromJson(text) as GroupMeta);
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.store.delete(GROUP_KEY_PREFIX + groupId);
  }

  async cleanup(): Promise<void> {
    // Key-value stores expire keys themselves.
  }
}
