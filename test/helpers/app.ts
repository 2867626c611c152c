/** Test helpers: an isolated app per test, a captured log, a worker that is always stopped. */
import { Celeriac, createLogger, Worker, type CeleriacOptions, type Logger, type WorkerOptions } from '../../src/index.js';

/** Log lines captured from a logger. */
export interface CapturedLog {
  logger: Logger;
  lines: string[];
  /** Lines containing `text`. */
  grep(text: string): string[];
}

/** A logger writing into an array (level debug unless given). */
export function captureLog(level: 'debug' | 'info' | 'warn' | 'error' = 'debug'): CapturedLog {
  const lines: string[] = [];
  const logger = createLogger({ level, sink: (line) => lines.push(line) });
  return { logger, lines, grep: (text) => lines.filter((l) => l.includes(text)) };
}

/** A memory-broker app with a captured log. */
export function testApp(options: CeleriacOptions = {}): { app: Celeriac; log: CapturedLog } {
  const log = captureLog();
  const app = new Celeriac('test', { broker: 'memory://', backend: 'memory://', logger: log.logger, ...options });
  return { app, log };
}

/** Starts a worker for the duration of `fn`, then stops it and closes the app. */
export async function withWorker<T>(app: Celeriac, fn: (worker: Worker) => Promise<T>, options: WorkerOptions = {}): Promise<T> {
  const worker = new Worker(app, { concurrency: 4, handleSignals: false, ...options });
  await worker.start();
  try {
    return await fn(worker);
  } finally {
    await worker.stop();
    await app.close();
  }
}
