/** Shared helpers of the benchmarks: timing, percentiles, table output. */

/** Milliseconds since `start` (performance.now()). */
export function since(start: number): number {
  return performance.now() - start;
}

/** The p-th percentile (0-100) of a list of numbers. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** One measured row. */
export interface Row {
  name: string;
  value: number;
  unit: string;
}

/** Prints rows and each one's ratio to the first (the baseline). */
export function report(title: string, rows: Row[], higherIsBetter: boolean): void {
  const base = rows[0];
  process.stdout.write(`\n${title}\n`);
  for (const r of rows) {
    const ratio = base && r !== base ? (higherIsBetter ? base.value / r.value : r.value / base.value) : null;
    const note =
      ratio === null || !base ? '' : `   ${base.name}: ${ratio.toFixed(2)}x ${higherIsBetter ? 'the throughput of' : 'as fast as'} ${r.name}`;
    process.stdout.write(`  ${r.name.padEnd(28)} ${r.value.toFixed(r.value >= 100 ? 0 : 2).padStart(9)} ${r.unit}${note}\n`);
  }
}

/** A number from the environment, else a default. */
export function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/** The median of a list of numbers. */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/**
 * Runs each measurement `rounds` times, interleaved (a, b, a, b, ...) so that a slow moment of
 * the machine hits every contender alike, and returns each one's results in order.
 */
export async function interleaved<T>(rounds: number, contenders: ReadonlyArray<() => Promise<T>>): Promise<T[][]> {
  const out: T[][] = contenders.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, run] of contenders.entries()) out[i]!.push(await run());
  }
  return out;
}
