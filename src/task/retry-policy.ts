/**
 * Retry delays as Celery computes them for `autoretryFor` with `retryBackoff`: exponential
 * (`factor * 2^retries`), capped at `retryBackoffMax`, then "full jitter" (a random whole number
 * of seconds between 0 and the delay) unless `retryJitter` is false.
 */

/** Inputs of {@link backoffCountdown}. */
export interface BackoffPolicy {
  /** `retryBackoff`: true = factor 1 s, a number = that factor. */
  backoff: boolean | number;
  /** `retryBackoffMax` in seconds. @defaultValue 600 */
  maximum: number;
  /** `retryJitter`. @defaultValue true */
  jitter: boolean;
}

/**
 * Seconds to wait before retry number `retries + 1` (Celery's
 * `get_exponential_backoff_interval`). `random` returns a float in [0, 1).
 */
export function backoffCountdown(policy: BackoffPolicy, retries: number, random: () => number = Math.random): number {
  const factor = policy.backoff === true ? 1 : Number(policy.backoff);
  const countdown = Math.min(policy.maximum, factor * 2 ** retries);
  const value = policy.jitter ? Math.floor(random() * (Math.floor(countdown) + 1)) : countdown;
  return Math.max(0, value);
}
