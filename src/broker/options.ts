/** Reading `broker_transport_options` the way every driver accepts them. */

/**
 * A number option given in camelCase (`visibilityTimeout`) or in Celery's snake_case
 * (`visibility_timeout`); `fallback` when absent, not a finite number, negative, or zero without
 * `allowZero`.
 */
export function numberOption(options: Record<string, unknown>, name: string, fallback: number, allowZero = false): number {
  const v = options[name] ?? options[name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];
  return typeof v === 'number' && Number.isFinite(v) && (v > 0 || (allowZero && v === 0)) ? v : fallback;
}
