/**
 * The pool port: where task executions run. `async` runs them concurrently on the worker's event
 * loop, `solo` one at a time; `process` in child processes (Celery's prefork) and `threads` in
 * worker threads. The worker hands a pool one {@link PoolJob} per execution and gets back a
 * {@link JobResult}; acknowledgement, time limits and revocation stay in the worker.
 */
import type { Request } from '../task/request.js';
import type { Task } from '../task/task.js';
import type { TraceOutcome } from '../task/trace.js';

/** One execution to run. */
export interface PoolJob {
  task: Task;
  request: Request;
  /**
   * Called when the job gets a slot (on the process and threads pools: when a child takes it, maybe
   * queued behind a running one). Returning false skips the job (the worker is shutting down).
   */
  accept(): boolean;
  /** Called when the execution actually begins (the worker acks early and starts time limits here). */
  started(): void;
}

/** How a job ended. */
export type JobResult =
  /** The task ran; the trace recorded its outcome. */
  | { kind: 'done'; outcome: TraceOutcome }
  /** The pool stopped it by force (hard time limit, revoke with terminate); nothing was recorded. */
  | { kind: 'killed'; reason: Error }
  /** The process or thread running it died; nothing was recorded. */
  | { kind: 'lost'; reason: Error }
  /** `accept()` said no. */
  | { kind: 'skipped' }
  /**
   * The pool was terminated (cold shutdown) before the job ended: whatever it does later is not
   * recorded. Its message is given back if unacknowledged.
   */
  | { kind: 'abandoned' };

/** Runs one trace in this process (what the in-process pools call). */
export type TraceRunner = (task: Task, request: Request) => Promise<TraceOutcome>;

/** A pool of execution slots. */
export interface Pool {
  /** Pool name for logs (`async`, `solo`, `process`, `threads`). */
  readonly kind: string;
  /** Most executions at once. */
  readonly limit: number;
  /** Executions running now. */
  readonly active: number;
  /** Executions waiting for a slot. */
  readonly waiting: number;
  /** Starts children, if any. */
  start(): Promise<void>;
  /** Changes the number of slots, where the pool can (the async pool). */
  resize?(size: number): void;
  /** Runs a job when a slot is free. Never rejects. */
  run(job: PoolJob): Promise<JobResult>;
  /**
   * Cancels a running job cooperatively: its `request.signal` aborts with `reason`
   * (the soft time limit, a terminate on the async pool).
   */
  abort(taskId: string, reason: Error): void;
  /** Stops a running job by force; its `run()` resolves as `killed`. */
  kill(taskId: string, reason: Error, signal?: NodeJS.Signals): void;
  /** Resolves when nothing is running or waiting. */
  join(): Promise<void>;
  /** Stops the pool (after `join()` for a warm stop). */
  close(): Promise<void>;
  /**
   * Cold shutdown: stops at once. Running and accepted jobs resolve as `abandoned` (children are
   * killed; code on the event loop that ignores its abort signal is left behind), queued ones as
   * `skipped`. Resolves once children have exited.
   */
  terminate(): Promise<void>;
}
