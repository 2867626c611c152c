/**
 * The events a worker sends: worker-online, worker-heartbeat every 2 s (unless
 * `--without-heartbeat`) and worker-offline, as Celery's workers do by default; with `-E`
 * (`worker_send_task_events`) also task-received / started / succeeded / failed / retried /
 * revoked / rejected with Celery's fields.
 */
import { platform } from 'node:os';
import { SW_VERSION, loadAverage } from '../control/commands.js';
import { pyRepr } from '../protocol/repr.js';
import { States } from '../result/states.js';
import type { Request } from '../task/request.js';
import type { TraceOutcome } from '../task/trace.js';
import type { Worker } from '../worker/worker.js';
import { EventDispatcher } from './dispatcher.js';

/** Seconds between heartbeats (Celery's default). */
export const HEARTBEAT_FREQ = 2;

function errorRepr(error: unknown): string {
  return error instanceof Error ? `${error.name}(${pyRepr(error.message)})` : pyRepr(error);
}

/** What a worker's dispatcher sends. */
export interface WorkerEventOptions {
  /** Task events (`-E`). */
  taskEvents: boolean;
  /** worker-heartbeat every {@link HEARTBEAT_FREQ} seconds. */
  heartbeat: boolean;
}

/** Sends a worker's events. */
export class WorkerEventDispatcher {
  private readonly dispatcher: EventDispatcher;
  private timer: NodeJS.Timeout | undefined;
  private readonly detach: Array<() => void> = [];

  constructor(
    private readonly worker: Worker,
    private readonly options: WorkerEventOptions = { taskEvents: true, heartbeat: true },
  ) {
    this.dispatcher = new EventDispatcher(worker.app, worker.hostname);
  }

  private workerFields(): Record<string, unknown> {
    let processed = 0;
    for (const n of this.worker.processed.values()) processed += n;
    return {
      freq: HEARTBEAT_FREQ,
      active: this.worker.active.size,
      processed,
      loadavg: loadAverage(),
      sw_ident: 'celeriac',
      sw_ver: SW_VERSION,
      sw_sys: platform() === 'linux' ? 'Linux' : platform(),
    };
  }

  async start(): Promise<void> {
    const w = this.worker;
    const on = <A extends unknown[]>(event: string, fn: (...args: A) => void): void => {
      const listener = fn as (...args: unknown[]) => void;
      w.on(event as 'task-received', listener as never);
      this.detach.push(() => w.off(event as 'task-received', listener as never));
    };
    const send = (type: string, fields: Record<string, unknown>): void => void this.dispatcher.send(type, fields);
    if (this.options.taskEvents) this.listen(on, send);
    await this.dispatcher.send('worker-online', this.workerFields());
    if (this.options.heartbeat) {
      this.timer = setInterval(() => void this.dispatcher.send('worker-heartbeat', this.workerFields()), HEARTBEAT_FREQ * 1000);
      this.timer.unref();
    }
  }

  /** Sends task events as the worker's own events happen. */
  private listen(
    on: <A extends unknown[]>(event: string, fn: (...args: A) => void) => void,
    send: (type: string, fields: Record<string, unknown>) => void,
  ): void {
    on('task-received', (r: Request) =>
      send('task-received', {
        uuid: r.id,
        name: r.task,
        args: r.argsrepr ?? pyRepr(r.args),
        kwargs: r.kwargsrepr ?? pyRepr(r.kwargs),
        root_id: r.rootId,
        parent_id: r.parentId,
        retries: r.retries,
        eta: r.eta?.toISOString() ?? null,
        expires: r.expires?.toISOString() ?? null,
      }),
    );
    on('task-started', (r: Request) => send('task-started', { uuid: r.id, pid: process.pid }));
    on('task-revoked', (r: Request, reason: string) => send('task-revoked', { uuid: r.id, terminated: false, signum: null, expired: reason === 'expired' }));
    on('task-finished', (r: Request, outcome: TraceOutcome | null) => {
      if (!outcome) return;
      const traceback = outcome.error?.stack ?? null;
      switch (outcome.state) {
        case States.SUCCESS:
          send('task-succeeded', { uuid: r.id, result: pyRepr(outcome.retval), runtime: outcome.runtime });
          break;
        case States.FAILURE:
          send('task-failed', { uuid: r.id, exception: errorRepr(outcome.error), traceback });
          break;
        case States.RETRY:
          send('task-retried', { uuid: r.id, exception: errorRepr(outcome.error), traceback });
          break;
        case States.REVOKED:
          send('task-revoked', { uuid: r.id, terminated: true, signum: 15, expired: false });
          break;
        case States.REJECTED:
          send('task-rejected', { uuid: r.id, requeue: outcome.requeue });
          break;
        default:
          break;
      }
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const d of this.detach.splice(0)) d();
    await this.dispatcher.send('worker-offline', this.workerFields());
  }
}
