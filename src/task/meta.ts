/** Building result records in Celery's exact layout (field order included). */
import type { TaskMeta } from '../backends/port.js';
import { READY_STATES } from '../result/states.js';
import { toPythonIso } from '../utils/time.js';
import type { Request } from './request.js';

/** The last `date_done` written, by epoch millisecond: tasks finishing together share it. */
let lastDone = { ms: 0, text: '' };

/** Now, as Celery writes `date_done`. */
function dateDone(): string {
  const ms = Date.now();
  if (ms !== lastDone.ms) lastDone = { ms, text: toPythonIso(new Date(ms), false) };
  return lastDone.text;
}

/** Options of {@link buildMeta}. */
export interface MetaOptions {
  /** Add name, args, kwargs, worker, retries, queue (`result_extended`). */
  extended: boolean;
}

/**
 * The record Celery's key-value backends store for a state change: `status, result, traceback,
 * children, date_done` (set for ready states only), then `parent_id` / `group_id` when the
 * request has them, the extended fields, and `task_id` last.
 */
export function buildMeta(
  taskId: string,
  status: string,
  result: unknown,
  traceback: string | null,
  request: Request | null,
  options: MetaOptions = { extended: false },
): TaskMeta {
  const extra =
    options.extended && request
      ? {
          name: request.task,
          args: request.args,
          kwargs: request.kwargs,
          worker: request.hostname,
          retries: request.retries,
          queue: request.deliveryInfo?.routingKey ?? null,
        }
      : {};
  const meta: TaskMeta = {
    status,
    // A JS function that returns nothing returns None, as far as Celery is concerned.
    result: result === undefined ? null : result,
    traceback,
    children: request ? [...request.children] : [],
    date_done: READY_STATES.has(status) ? dateDone() : null,
    ...(request?.parentId ? { parent_id: request.parentId } : {}),
    ...(request?.group ? { group_id: request.group } : {}),
    ...extra,
    task_id: taskId,
  };
  return meta;
}
