/** Small file helpers. */
import { renameSync, writeFileSync } from 'node:fs';

/** Writes `data` to `path` atomically: readers see the old file or the new one, never half of one. */
export function writeFileAtomic(path: string, data: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
