/**
 * The result backend port. A backend stores each task's state record, in Celery's format, and
 * lets clients wait for a task to be ready.
 *
 * The record is the same JSON Celery writes (`shared/reference/celery-wire.md`, section 2):
 * `{status, result, traceback, children, date_done, task_id}` plus `parent_id` / `group_id` when
 * set and, with `result_extended`, `name, args, kwargs, worker, retries, queue`.
 */

import type { Transport } from '../broker/port.js';
import type { Logger } from '../logging/logger.js';

/** A task's state record, under Celery's field names. */
export interface TaskMeta {
  status: string;
  result: unknown;
  traceback: string | null;
  children: unknown[];
  date_done: string | null;
  task_id: string;
  parent_id?: string | null;
  group_id?: string | null;
  name?: string | null;
  args?: unknown;
  kwargs?: unknown;
  worker?: string | null;
  retries?: number | null;
  queue?: string | null;
  [extra: string]: unknown;
}

/** Options of {@link ResultBackend.waitFor}. */
export interface WaitOptions {
  /** Give up after this many milliseconds (TimeoutError). @defaultValue wait forever */
  timeoutMs?: number;
  /** Polling interval for backends that poll. @defaultValue 500 ms, backing off */
  intervalMs?: number;
  signal?: AbortSignal;
}

/** A saved group's record (`celery-taskset-meta-<id>`). */
export interface GroupMeta {
  /** Celery's nested tuple form of the GroupResult. */
  result: unknown;
  date_done?: string | null;
}

/** Where the client that sent a task waits for its result (its message's properties). */
export interface ResultDestination {
  /** The client's reply queue (`reply_to`). */
  replyTo: string | null;
  correlationId: string | null;
}

/** One finished header task of a chord. */
export interface ChordPart {
  taskId: string;
  /** Position in the header. */
  index: number;
  state: string;
  /** The stored result value (a serialized error for failures). */
  result: unknown;
}

/**
 * Chord bookkeeping a backend can do atomically (Celery's `on_chord_part_return`): counting the
 * header tasks as they finish so that exactly one of them triggers the body. Backends without it
 * fall back to the `celery.chord_unlock` task, which polls the header's results.
 */
export interface ChordStore {
  /** Before the header is sent: remembers the chord's members. */
  prepare(groupId: string, memberIds: readonly string[]): Promise<void>;
  /**
   * One header task finished. Resolves with every part, in header order, for the call that
   * completes the chord (exactly one), and with null for the others.
   */
  partReturned(groupId: string, part: ChordPart): Promise<ChordPart[] | null>;
}

/** A result backend driver. */
export interface ResultBackend {
  /** Atomic chord counting, when the backend can do it. */
  readonly chords?: ChordStore | undefined;
  /** Why this backend cannot run chords at all, when it cannot (rpc://: results live in one client). */
  readonly chordsUnsupported?: string;
  /** Driver name for logs. */
  readonly driver: string;
  connect(): Promise<void>;
  close(): Promise<void>;
  /**
   * Stores a record (overwriting; a SUCCESS record is never overwritten by a later state).
   * `destination` is where the caller waits, for backends that send results to it (rpc://).
   */
  storeResult(meta: TaskMeta, destination?: ResultDestination): Promise<void>;
  /** The record of a task; a task never seen is PENDING. */
  getTaskMeta(taskId: string): Promise<TaskMeta>;
  /** Resolves with the record once the task is in a ready state (SUCCESS, FAILURE, REVOKED). */
  waitFor(taskId: string, options?: WaitOptions): Promise<TaskMeta>;
  /** Deletes a task's record. */
  forget(taskId: string): Promise<void>;
  /** Saves a group's member ids. */
  saveGroup(groupId: string, meta: GroupMeta): Promise<void>;
  /** A saved group, or null. */
  restoreGroup(groupId: string): Promise<GroupMeta | null>;
  deleteGroup(groupId: string): Promise<void>;
  /** Deletes expired records (the `celery.backend_cleanup` task); a no-op where keys expire. */
  cleanup(): Promise<void>;
  /** Called before a task is sent, for backends that must prepare to receive its result (rpc://). */
  onTaskCall?(): Promise<void>;
}

/** Options every backend factory receives. */
export interface BackendOptions {
  url: string;
  /** `result_expires` in seconds; null keeps records forever. */
  expiresSeconds: number | null;
  /** Driver-specific options (`result_backend_transport_options`). */
  backendOptions: Record<string, unknown>;
  /**
   * The database backend's tables (`database_table_names`, `database_table_schemas`), keyed `task`
   * and `group` as in Celery. @defaultValue Celery's `celery_taskmeta` and `celery_tasksetmeta`
   */
  tables?: { names?: Partial<Record<'task' | 'group', string>>; schemas?: Partial<Record<'task' | 'group', string>> };
  /** The app's broker and identity, for backends that use the broker (rpc://). */
  client?: BackendClient;
}

/** What rpc:// needs from the app: its broker connection and reply queue name. */
export interface BackendClient {
  getTransport(): Promise<Transport>;
  /** The app's id: its reply queue, the `reply_to` of the tasks it sends. */
  readonly oid: string;
  /** `result_persistent`: results survive a broker restart. */
  readonly persistent: boolean;
  readonly logger: Logger;
}

/** Creates a backend for a URL. */
export type BackendFactory = (options: BackendOptions) => ResultBackend | Promise<ResultBackend>;
