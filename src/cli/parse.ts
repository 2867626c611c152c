/**
 * Option value parsers for the CLI. Each throws commander's `InvalidArgumentError`, so a bad value
 * is reported as a usage error naming the flag (`option '--countdown <seconds>' argument 'abc' is
 * invalid. expected a number of seconds`).
 */
import { InvalidArgumentError } from 'commander';

/** A whole number >= 0 (`--concurrency`, `--max-tasks-per-child`). */
export function wholeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

/** A number of seconds >= 0 (`--countdown`, `--timeout`, `--time-limit`). */
export function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of seconds');
  return n;
}

/** A number of seconds > 0. */
export function positiveSeconds(value: string): number {
  const n = seconds(value);
  if (n === 0) throw new InvalidArgumentError('expected a number of seconds above 0');
  return n;
}

/** `--autoscale=max,min` (min defaults to 0, taken as 1: a pool keeps at least one slot). */
export function autoscale(value: string): { max: number; min: number } {
  const m = /^\s*(\d+)\s*(?:,\s*(\d+)\s*)?$/.exec(value);
  if (!m) throw new InvalidArgumentError('expected max,min (for example 10,3)');
  const max = Number(m[1]);
  const min = Math.max(1, Number(m[2] ?? 0));
  if (max < 1 || min > max) throw new InvalidArgumentError('expected max >= min >= 1');
  return { max, min };
}

/** A JSON value (`--args`, `--kwargs`). */
export function json(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch (err) {
    throw new InvalidArgumentError(`not valid JSON (${(err as Error).message})`);
  }
}
