/**
 * The Celery "Tasks" guide's examples, written with celeriac. Each is defined on the app given,
 * so tests (test/examples/guide.test.ts) and programs can use them on their own apps.
 */
import { Celeriac, Ignore, Reject, Task } from 'celeriac';

/** The guide's Twitter client stand-in: fails while `failuresLeft` > 0. */
export class Twitter {
  static failuresLeft = 0;
  static posted: string[] = [];
  constructor(readonly oauth: string) {}
  updateStatus(tweet: string): void {
    if (Twitter.failuresLeft > 0) {
      Twitter.failuresLeft--;
      throw new FailWhaleError('over capacity');
    }
    Twitter.posted.push(tweet);
  }
}

/** The guide's `Twitter.FailWhaleError`. */
export class FailWhaleError extends Error {
  override name = 'FailWhaleError';
}

/** The guide's network error for autoretry. */
export class ConnectionError extends Error {
  override name = 'ConnectionError';
}

/** Raised by the render stand-in when it runs out of memory. */
export class MemoryError extends Error {
  override name = 'MemoryError';
}

/** Stand-in for an HTTP client whose first calls fail. */
export const network = { failuresLeft: 0, calls: 0 };

/** Defines the guide's tasks on `app`. */
export function guideTasks(app: Celeriac) {
  /** Retrying: `send_twitter_status`, retried in `countdown` seconds on FailWhaleError. */
  const sendTwitterStatus = app.task(
    async function sendTwitterStatus(self: Task, oauth: string, tweet: string, countdown: number = 60 * 5) {
      try {
        new Twitter(oauth).updateStatus(tweet);
      } catch (exc) {
        if (exc instanceof FailWhaleError) return self.retry({ exc, countdown });
        throw exc;
      }
    },
    { name: 'tasks.send_twitter_status', bind: true },
  );

  /** Automatic retry for a known exception, with exponential backoff and jitter. */
  const refreshTimeline = app.task(
    async function refreshTimeline(user: string) {
      network.calls++;
      if (network.failuresLeft > 0) {
        network.failuresLeft--;
        throw new ConnectionError(`timeline of ${user} unreachable`);
      }
      return `timeline of ${user}`;
    },
    {
      name: 'tasks.refresh_timeline',
      autoretryFor: [ConnectionError],
      retryBackoff: 0.01,
      retryBackoffMax: 0.05,
      retryJitter: true,
      retryKwargs: { maxRetries: 5 },
    },
  );

  /** Reject: `render_scene` drops a message whose task runs out of memory, so it is not retried forever. */
  const renderScene = app.task(
    async function renderScene(self: Task, path: string) {
      try {
        if (path.includes('huge')) throw new MemoryError(`cannot render ${path}`);
        return `rendered ${path}`;
      } catch (exc) {
        if (exc instanceof MemoryError) throw new Reject({ reason: exc, requeue: false });
        throw exc;
      }
    },
    { name: 'tasks.render_scene', bind: true, acksLate: true },
  );

  /** Reject with requeue: runs only on the second delivery. */
  const requeues = app.task(
    function requeues(self: Task) {
      if (!self.request.deliveryInfo?.redelivered) throw new Reject({ reason: 'no reason', requeue: true });
      return 'received two times';
    },
    { name: 'tasks.requeues', bind: true, acksLate: true },
  );

  /** Ignore: a task that decides not to record anything. */
  const maybeIgnored = app.task(
    function maybeIgnored(self: Task, skip: boolean) {
      if (skip) throw new Ignore();
      return self.request.id;
    },
    { name: 'tasks.maybe_ignored', bind: true },
  );

  /** Custom states: `upload_files` reports PROGRESS with current/total. */
  const uploadFiles = app.task(
    async function uploadFiles(self: Task, filenames: string[]) {
      for (const [i, _file] of filenames.entries()) {
        await self.updateState({ state: 'PROGRESS', meta: { current: i + 1, total: filenames.length } });
      }
      return filenames.length;
    },
    { name: 'tasks.upload_files', bind: true },
  );

  return { sendTwitterStatus, refreshTimeline, renderScene, requeues, maybeIgnored, uploadFiles };
}
