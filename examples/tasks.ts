/**
 * Tasks from Celery's "Tasks" guide, written with celeriac. The README's main job runs them.
 */
import { Celeriac, getTaskLogger, Task } from 'celeriac';

const logger = getTaskLogger('tasks');

/**
 * The app. With no broker or backend configured it uses the embedded default: the SQLite file
 * `celeriac.sqlite` in the working directory, shared by every process started here
 * (`CELERIAC_BROKER_URL` / `CELERIAC_RESULT_BACKEND` point it elsewhere, e.g. redis://).
 */
export const app = new Celeriac('examples');

/** The guide's first task. */
export const add = app.task(function add(x: number, y: number): number {
  logger.info(`Adding ${x} + ${y}`);
  return x + y;
});

/** Multiplies; used in chains. */
export const mul = app.task(function mul(x: number, y: number): number {
  return x * y;
});

/** Sums a list. */
export const xsum = app.task(function xsum(numbers: number[]): number {
  return numbers.reduce((a, b) => a + b, 0);
});

/** A flaky service: fails the first `failures` calls for a key. */
const attempts = new Map<string, number>();
export class FlakyServiceError extends Error {
  override name = 'FlakyServiceError';
}

/** The guide's retry example (send_twitter_status), against a service that fails twice. */
export const sendStatus = app.task(
  async function sendStatus(self: Task, oauth: string, tweet: string) {
    try {
      const n = (attempts.get(oauth) ?? 0) + 1;
      attempts.set(oauth, n);
      if (n <= 2) throw new FlakyServiceError(`service unavailable (attempt ${n})`);
      return `posted ${JSON.stringify(tweet)} after ${self.request.retries} retries`;
    } catch (err) {
      return self.retry({ exc: err, countdown: 0.2 });
    }
  },
  { bind: true, name: 'examples.send_status' },
);

/** The guide's custom-state example: reports PROGRESS while it works. */
export const upload = app.task(
  async function upload(self: Task, filename: string, chunks: number) {
    for (let i = 1; i <= chunks; i++) {
      await new Promise((r) => setTimeout(r, 80));
      await self.updateState({ state: 'PROGRESS', meta: { current: i, total: chunks } });
    }
    return { filename, chunks };
  },
  { bind: true },
);
