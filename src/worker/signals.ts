/**
 * The worker process's life as Celery's: retrying the broker at startup, and shutdown on signals.
 *
 * Signals: SIGTERM and the first Ctrl-C (SIGINT) start a warm shutdown (no new tasks, running ones
 * finish); a second signal, or SIGQUIT, a cold one (running tasks aborted, abandoned after a short
 * grace, unacknowledged messages given back); a third exits at once. Once a signal has stopped
 * the worker, the app is closed and the process exits: 0 after a warm shutdown, 128 + the signal's
 * number after a cold one.
 */
import { constants } from 'node:os';
import type { Celeriac } from '../app/celeriac.js';
import type { Transport } from '../broker/port.js';
import { redactUrl } from '../broker/registry.js';
import { ImproperlyConfigured } from '../errors/index.js';
import type { Logger } from '../logging/logger.js';
import { sleep, waitAtMost } from '../utils/time.js';
import type { Worker } from './worker.js';

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;

function exitCodeOf(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/**
 * Installs the shutdown signal handlers for `worker` (see the file header). Returns a function
 * that removes them; the worker calls it when it stops.
 */
export function handleWorkerSignals(worker: Worker): () => void {
  let count = 0;
  let exitCode = 0;
  let exiting = false;
  const exitWhenStopped = (): void => {
    if (exiting) return;
    exiting = true;
    void worker.done
      .then(() => waitAtMost(worker.app.close(), 5000))
      .catch(() => undefined)
      .then(() => process.exit(exitCode));
  };
  const handler = (signal: NodeJS.Signals): void => {
    count++;
    if (count >= 3) {
      worker.logger.warn(`${signal} received again: exiting now`);
      process.exit(exitCodeOf(signal));
    }
    if (count === 1 && signal !== 'SIGQUIT') {
      const again = signal === 'SIGINT' ? ' (Ctrl-C again for a cold shutdown)' : '';
      worker.logger.warn(`${signal} received: warm shutdown${again}`);
      void worker.stop();
    } else {
      exitCode = exitCodeOf(signal);
      worker.logger.warn(`${signal} received: cold shutdown`);
      void worker.stop({ cold: true });
    }
    exitWhenStopped();
  };
  for (const s of SIGNALS) process.on(s, handler);
  return () => {
    for (const s of SIGNALS) process.off(s, handler);
  };
}

/**
 * Connects the app's broker for a starting worker. While the broker cannot be reached and
 * `brokerConnectionRetryOnStartup` is on, logs each failure and tries again after 2, 4, 6 ... up
 * to 30 s, at most `brokerConnectionMaxRetries` times. Configuration errors (a bad URL, a
 * missing driver) are not retried. Rejects with `signal`'s reason if it aborts meanwhile.
 */
export async function connectOnStartup(app: Celeriac, logger: Logger, signal?: AbortSignal): Promise<Transport> {
  const max = app.conf.brokerConnectionMaxRetries;
  for (let attempt = 1; ; attempt++) {
    try {
      return await app.getTransport();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const retryable = app.conf.brokerConnectionRetryOnStartup && !(err instanceof ImproperlyConfigured);
      if (!retryable || (max !== null && attempt > max)) throw err;
      const wait = Math.min(2 * attempt, 30);
      logger.error(
        `Cannot connect to ${redactUrl(app.conf.brokerUrl)}: ${(err as Error).message}. ` +
          `Trying again in ${wait} seconds... (${attempt}/${max ?? 'unlimited'})`,
      );
      await sleep(wait * 1000, signal);
    }
  }
}
