/** Celery's `--pidfile`: one worker per file, the file removed when the worker exits. */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { CeleriacError } from '../errors/index.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes this process's pid to `path`. Refuses (a clear error) when the file names a process that
 * is still running; a stale file (its process gone) is replaced. The file is removed when the
 * process exits, or by calling the returned function, and only while it still holds our pid.
 */
export function createPidfile(path: string, onStale?: (pid: number) => void): () => void {
  let existing: string | undefined;
  try {
    existing = readFileSync(path, 'utf8');
  } catch {
    existing = undefined;
  }
  if (existing !== undefined) {
    const pid = Number.parseInt(existing.trim(), 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new CeleriacError(`pidfile ${path} names process ${pid}, which is running: is another worker using this pidfile?`);
    }
    if (Number.isInteger(pid)) onStale?.(pid);
    unlinkSync(path);
  }
  try {
    writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
  } catch (err) {
    throw new CeleriacError(`cannot create pidfile ${path}: ${(err as Error).message}`);
  }
  const remove = (): void => {
    process.off('exit', remove);
    try {
      if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  process.on('exit', remove);
  return remove;
}
