/**
 * An in-memory picture of the cluster built from events (Celery's `events.State`): workers with
 * their last heartbeat (alive while a heartbeat is younger than twice its frequency, Celery's
 * expiry window) and tasks by id with their latest state and fields.
 */
import { States } from '../result/states.js';
import type { CeleryEvent } from './dispatcher.js';

/** What the state knows of a worker. */
export interface WorkerInfo {
  hostname: string;
  /** Unix seconds of the last event from it. */
  lastHeartbeat: number;
  freq: number;
  active: number;
  processed: number;
  swIdent: string | null;
  swVer: string | null;
  offline: boolean;
}

/** What the state knows of a task. */
export interface TaskInfo {
  uuid: string;
  state: string;
  name: string | null;
  hostname: string | null;
  args: string | null;
  kwargs: string | null;
  result: string | null;
  exception: string | null;
  runtime: number | null;
  /** Unix seconds of the last event about it. */
  timestamp: number;
}

const TASK_STATES: Record<string, string> = {
  'task-sent': States.PENDING,
  'task-received': States.RECEIVED,
  'task-started': States.STARTED,
  'task-succeeded': States.SUCCESS,
  'task-failed': States.FAILURE,
  'task-retried': States.RETRY,
  'task-revoked': States.REVOKED,
  'task-rejected': States.REJECTED,
};

/** The cluster as the events describe it. */
export class ClusterState {
  readonly workers = new Map<string, WorkerInfo>();
  readonly tasks = new Map<string, TaskInfo>();
  eventCount = 0;

  /** Applies one event. */
  event(e: CeleryEvent): void {
    this.eventCount++;
    const str = (v: unknown): string | null => (v === undefined || v === null ? null : String(v));
    if (e.type.startsWith('worker-')) {
      const prev = this.workers.get(e.hostname);
      this.workers.set(e.hostname, {
        hostname: e.hostname,
        lastHeartbeat: e.timestamp,
        freq: typeof e['freq'] === 'number' ? e['freq'] : (prev?.freq ?? 2),
        active: typeof e['active'] === 'number' ? e['active'] : (prev?.active ?? 0),
        processed: typeof e['processed'] === 'number' ? e['processed'] : (prev?.processed ?? 0),
        swIdent: str(e['sw_ident']) ?? prev?.swIdent ?? null,
        swVer: str(e['sw_ver']) ?? prev?.swVer ?? null,
        offline: e.type === 'worker-offline',
      });
      return;
    }
    const state = TASK_STATES[e.type];
    const id = str(e['uuid']);
    if (!state || !id) return;
    const prev = this.tasks.get(id);
    this.tasks.set(id, {
      uuid: id,
      state,
      name: str(e['name']) ?? prev?.name ?? null,
      hostname: e.hostname ?? prev?.hostname ?? null,
      args: str(e['args']) ?? prev?.args ?? null,
      kwargs: str(e['kwargs']) ?? prev?.kwargs ?? null,
      result: str(e['result']) ?? prev?.result ?? null,
      exception: str(e['exception']) ?? prev?.exception ?? null,
      runtime: typeof e['runtime'] === 'number' ? e['runtime'] : (prev?.runtime ?? null),
      timestamp: e.timestamp,
    });
    const w = this.workers.get(e.hostname);
    if (w) w.lastHeartbeat = Math.max(w.lastHeartbeat, e.timestamp);
  }

  /** Whether a worker is alive at `now` (unix seconds). */
  isAlive(hostname: string, now: number = Date.now() / 1000): boolean {
    const w = this.workers.get(hostname);
    return !!w && !w.offline && now < w.lastHeartbeat + w.freq * 2;
  }

  /** The hostnames of the workers alive now. */
  aliveWorkers(now: number = Date.now() / 1000): string[] {
    return [...this.workers.keys()].filter((h) => this.isAlive(h, now)).sort();
  }
}
