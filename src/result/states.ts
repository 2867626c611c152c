/**
 * Task states, with Celery's names and groups. Custom states are any other string
 * (e.g. `PROGRESS`), stored with `updateState()`; they count as not ready.
 */

/** The built-in states. */
export const States = {
  /** Waiting for execution, or unknown: any task id not known is PENDING. */
  PENDING: 'PENDING',
  /** Received by a worker (only with events). */
  RECEIVED: 'RECEIVED',
  /** Started by a worker (stored only with `trackStarted`). */
  STARTED: 'STARTED',
  /** Succeeded. */
  SUCCESS: 'SUCCESS',
  /** Failed. */
  FAILURE: 'FAILURE',
  /** Revoked before or while running. */
  REVOKED: 'REVOKED',
  /** Rejected (with `Reject`). */
  REJECTED: 'REJECTED',
  /** Being retried. */
  RETRY: 'RETRY',
  /** Ignored (with `Ignore`). */
  IGNORED: 'IGNORED',
} as const;

/** A built-in state name. */
export type BuiltinState = (typeof States)[keyof typeof States];
/** A state: built-in or custom. */
export type TaskState = BuiltinState | (string & {});

/** States after which the task will not change any more. */
export const READY_STATES: ReadonlySet<string> = new Set([States.SUCCESS, States.FAILURE, States.REVOKED]);
/** States in which a task may still change. */
export const UNREADY_STATES: ReadonlySet<string> = new Set([
  States.PENDING, States.RECEIVED, States.STARTED, States.REJECTED, States.RETRY,
]);
/** States whose result is an exception. */
export const EXCEPTION_STATES: ReadonlySet<string> = new Set([States.RETRY, States.FAILURE, States.REVOKED]);
/** States whose exception `get()` re-raises. */
export const PROPAGATE_STATES: ReadonlySet<string> = new Set([States.FAILURE, States.REVOKED]);

const PRECEDENCE: ReadonlyArray<string | null> = [
  States.SUCCESS, States.FAILURE, null, States.REVOKED, States.STARTED,
  States.RECEIVED, States.REJECTED, States.RETRY, States.PENDING,
];

/**
 * Celery's state precedence: a lower number wins when two states compete. Custom states rank
 * with `null` (between FAILURE and REVOKED).
 */
export function precedence(state: string): number {
  const i = PRECEDENCE.indexOf(state);
  return i >= 0 ? i : PRECEDENCE.indexOf(null);
}
