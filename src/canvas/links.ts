/**
 * The `parent` links of a canvas's result handles, made in one place for `freeze()` and
 * `applyAsync()` alike: each step's result leads back to the previous step's, through the
 * header of a chord and the first step of a nested chain (Celery's rule: the previous result
 * is attached where the new result's own parent links end).
 */
import type { AsyncResult } from '../result/async-result.js';
import type { CanvasApp, Signature } from './signature.js';


/**
 * `result` with `parent` attached where its own parent links end: a chord's body result keeps
 * its header in between, a chain's last result its earlier steps.
 */
export function attachParent(app: CanvasApp, result: AsyncResult, parent: AsyncResult): AsyncResult {
  if (result.id === parent.id) return result;
  // A copy with the new parent, keeping the handle's backend (a task's own `backend` option).
  return result.withParent(result.parent ? attachParent(app, result.parent, parent) : parent);
}

/**
 * Freezes the steps of a chain in order (the last one with `lastId`, if given) and returns the
 * last step's result, linked back through every step to the first.
 */
export function freezeSteps(app: CanvasApp, steps: readonly Signature[], lastId?: string): AsyncResult {
  let result: AsyncResult | null = null;
  for (const [i, step] of steps.entries()) {
    if (!step.app) step.app = app;
    const frozen = step.freeze(i === steps.length - 1 ? lastId : undefined);
    result = result ? attachParent(app, frozen, result) : frozen;
  }
  if (!result) throw new TypeError('cannot freeze an empty chain');
  return result;
}
