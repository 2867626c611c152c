/**
 * The progress bar `celeriac call --wait` and `celeriac result --wait` draw in a terminal while a
 * task reports a custom state with `current` / `total` meta (the guide's `update_state` example).
 */

/** The `current` / `total` a task reported, if its meta has them. */
export function progressOf(meta: unknown): { current: number; total: number } | null {
  if (meta === null || typeof meta !== 'object') return null;
  const { current, total } = meta as { current?: unknown; total?: unknown };
  if (typeof current !== 'number' || typeof total !== 'number' || !(total > 0)) return null;
  return { current, total };
}

/** One line: `PROGRESS [##########----------]  50% (5/10)`. */
export function renderProgress(state: string, meta: unknown, width = 30): string | null {
  const p = progressOf(meta);
  if (!p) return null;
  const fraction = Math.max(0, Math.min(1, p.current / p.total));
  const filled = Math.round(fraction * width);
  const percent = `${Math.round(fraction * 100)}%`.padStart(4);
  return `${state} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent} (${p.current}/${p.total})`;
}
