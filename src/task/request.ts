/**
 * The request context: everything about the current execution of a task (Celery's
 * `Task.request`). Reachable as `this.request` in a bound task, and from anywhere inside the
 * task's async call tree with {@link currentRequest} / {@link currentTask}.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { SignatureDict } from '../protocol/message.js';

/** Where the message came from (Celery's `delivery_info`). */
export interface DeliveryInfo {
  exchange: string;
  routingKey: string;
  priority: number | null;
  /** True when the broker delivered this message before (it was not acknowledged then). */
  redelivered: boolean;
  /** The queue the worker took it from. */
  queue?: string;
}

/** The fields of a request; every one optional when constructing. */
export interface RequestFields {
  id: string | null;
  /** Task name. */
  task: string | null;
  group: string | null;
  groupIndex: number | null;
  chord: SignatureDict | null;
  correlationId: string | null;
  args: unknown[];
  kwargs: Record<string, unknown>;
  /** Name of the host that sent the task. */
  origin: string | null;
  retries: number;
  isEager: boolean;
  eta: Date | null;
  expires: Date | null;
  /** Node name of the worker running the task. */
  hostname: string | null;
  deliveryInfo: DeliveryInfo | null;
  replyTo: string | null;
  calledDirectly: boolean;
  /** `[hard, soft]` time limits in seconds. */
  timelimit: [number | null, number | null];
  callbacks: SignatureDict[] | null;
  errbacks: SignatureDict[] | null;
  utc: boolean;
  /** All message headers, Celery's and custom ones. */
  headers: Record<string, unknown>;
  /** The message's properties (`correlation_id`, `reply_to`, `priority`, `app_id`, ...), Celery's `request.properties`. */
  properties: Record<string, unknown>;
  rootId: string | null;
  parentId: string | null;
  /** Remaining chain steps (last step first). */
  chain: SignatureDict[] | null;
  ignoreResult: boolean;
  argsrepr: string | null;
  kwargsrepr: string | null;
  shadow: string | null;
  /** Aborts when the task should stop: soft time limit, revoke with terminate, shutdown. */
  signal: AbortSignal;
}

/** A signal that never aborts (a request's signal until a pool gives it a live one). */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** One execution of a task. */
export class Request implements RequestFields {
  id: string | null = null;
  task: string | null = null;
  group: string | null = null;
  groupIndex: number | null = null;
  chord: SignatureDict | null = null;
  correlationId: string | null = null;
  args: unknown[] = [];
  kwargs: Record<string, unknown> = {};
  origin: string | null = null;
  retries = 0;
  isEager = false;
  eta: Date | null = null;
  expires: Date | null = null;
  hostname: string | null = null;
  deliveryInfo: DeliveryInfo | null = null;
  replyTo: string | null = null;
  calledDirectly = true;
  timelimit: [number | null, number | null] = [null, null];
  callbacks: SignatureDict[] | null = null;
  errbacks: SignatureDict[] | null = null;
  utc = true;
  headers: Record<string, unknown> = {};
  properties: Record<string, unknown> = {};
  rootId: string | null = null;
  parentId: string | null = null;
  chain: SignatureDict[] | null = null;
  ignoreResult = false;
  argsrepr: string | null = null;
  kwargsrepr: string | null = null;
  shadow: string | null = null;
  private signalSource: AbortSignal | (() => AbortSignal) = NEVER_ABORTED;

  /** Aborts when the task should stop: soft time limit, revoke with terminate, shutdown. */
  get signal(): AbortSignal {
    if (typeof this.signalSource === 'function') this.signalSource = this.signalSource();
    return this.signalSource;
  }

  set signal(signal: AbortSignal) {
    this.signalSource = signal;
  }

  /** @internal Set when the pool stopped waiting for this run; its late outcome is not recorded. */
  abandoned = false;

  /** @internal A signal made only when someone asks for it (most tasks never do). */
  lazySignal(make: () => AbortSignal): void {
    this.signalSource = make;
  }

  private onBodyReturned: (() => void) | undefined;

  /** @internal Set by a pool that frees the run's slot once the task's own code has returned. */
  whenBodyReturns(fn: () => void): void {
    this.onBodyReturned = fn;
  }

  /** @internal Called by the trace when the task's code returned and only recording is left. */
  bodyReturned(): void {
    const fn = this.onBodyReturned;
    this.onBodyReturned = undefined;
    fn?.();
  }
  /**
   * Results of tasks sent from inside this one (Celery's trail), stored as the record's
   * `children`. Each entry is Celery's result tuple form.
   */
  readonly children: unknown[] = [];

  constructor(fields: Partial<RequestFields> = {}) {
    Object.assign(this, fields);
  }
}

/** What the async context holds while a task runs. */
export interface ActiveTask {
  /** The task object (typed loosely to avoid a module cycle; see `currentTask`). */
  task: object;
  request: Request;
}

/** @internal The async-context slot of the running task. */
export const activeTask = new AsyncLocalStorage<ActiveTask>();

/** The request of the task running in this async context, or undefined outside any task. */
export function currentRequest(): Request | undefined {
  return activeTask.getStore()?.request;
}
