/** Time helpers: Python-compatible ISO 8601 strings and abortable sleeps. */
import { setLongTimeout } from './long-timeout.js';

/**
 * A UTC time as Python's `datetime.isoformat()` writes it: six fractional digits, and with
 * `+00:00` when `aware` (message `eta`/`expires`), without for `date_done` as Celery stores it.
 */
export function toPythonIso(date: Date, aware: boolean): string {
  const iso = date.toISOString(); // 2026-11-24T01:39:35.959Z
  return `${iso.slice(0, 23)}000${aware ? '+00:00' : ''}`;
}

/**
 * Parses an ISO 8601 time as Python writes it (six fractional digits, `+00:00` or no offset).
 * A time without an offset is taken as UTC, as Celery does with `utc=True`, or as local time with
 * `naiveIsLocal` (protocol 1 messages sent with `utc=False`).
 */
export function parseIso(value: string, naiveIsLocal = false): Date {
  const m = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (!m) throw new RangeError(`not an ISO 8601 time: '${value}'`);
  const frac = (m[2] ?? '').padEnd(3, '0').slice(0, 3);
  const zone = m[3] ?? (naiveIsLocal ? '' : 'Z');
  const date = new Date(`${m[1]!.replace(' ', 'T')}.${frac}${zone}`);
  if (Number.isNaN(date.getTime())) throw new RangeError(`not an ISO 8601 time: '${value}'`);
  return date;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      timer.clear();
      reject(signal?.reason);
    };
    // Chained past Node's 2^31-1 ms timer limit, never cut short.
    const timer = setLongTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits for `promise`, at most `ms`; the timer is cleared as soon as either ends. */
export async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
