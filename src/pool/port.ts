/**
 * The pool port: where task executions run. The async pool runs them concurrently on the event
 * loop (I/O-bound work); other pools (processes, threads, solo) implement the same interface.
 */

/** A pool of execution slots. */
export interface Pool {
  /** Pool name for logs (`async`, `solo`, ...). */
  readonly kind: string;
  /** Most executions at once. */
  readonly limit: number;
  /** Executions running now. */
  readonly active: number;
  /** Executions waiting for a slot. */
  readonly waiting: number;
  /** Runs `job` when a slot is free; resolves or rejects with the job's outcome. */
  run<T>(job: () => Promise<T>): Promise<T>;
  /** Resolves when nothing is running or waiting. */
  join(): Promise<void>;
}
