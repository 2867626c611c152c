import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { applySettings, camelCase, defaultSettings, settingName } from '../../src/config/settings.js';
import { Celeriac } from '../../src/index.js';
import { CeleriacError, ImproperlyConfigured } from '../../src/errors/index.js';

/** Fresh defaults that do not depend on the environment of the test run. */
function fresh(): ReturnType<typeof defaultSettings> {
  return defaultSettings({});
}

describe('settings', () => {
  const saved = { broker: process.env['CELERIAC_BROKER_URL'], backend: process.env['CELERIAC_RESULT_BACKEND'] };
  afterEach(() => {
    for (const [key, value] of [['CELERIAC_BROKER_URL', saved.broker], ['CELERIAC_RESULT_BACKEND', saved.backend]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('has the documented defaults without environment variables', () => {
    const s = fresh();
    assert.equal(s.brokerUrl, 'sqlite://');
    assert.equal(s.resultBackend, 'db+sqlite://');
    assert.equal(s.taskDefaultQueue, 'celery');
    assert.equal(s.taskAcksLate, false);
    assert.equal(s.workerPrefetchMultiplier, 4);
    assert.equal(s.resultExpires, 86400);
    assert.deepEqual(s.acceptContent, ['json']);
  });

  it('turns snake_case into camelCase', () => {
    assert.equal(camelCase('task_acks_late'), 'taskAcksLate');
    assert.equal(camelCase('worker_prefetch_multiplier'), 'workerPrefetchMultiplier');
    assert.equal(camelCase('taskAcksLate'), 'taskAcksLate');
  });

  it('accepts camelCase names, Celery snake_case names and the short aliases', () => {
    const s = fresh();
    applySettings(s, {
      taskAcksLate: true,
      worker_prefetch_multiplier: 1,
      task_default_queue: 'jobs',
      result_expires: null,
      broker: 'redis://localhost:6379/3',
      backend: 'redis://localhost:6379/4',
      accept_content: ['json', 'application/x-msgpack'],
    });
    assert.equal(s.taskAcksLate, true);
    assert.equal(s.workerPrefetchMultiplier, 1);
    assert.equal(s.taskDefaultQueue, 'jobs');
    assert.equal(s.resultExpires, null);
    assert.equal(s.brokerUrl, 'redis://localhost:6379/3');
    assert.equal(s.resultBackend, 'redis://localhost:6379/4');
    assert.deepEqual(s.acceptContent, ['json', 'application/x-msgpack']);

    assert.equal(settingName('broker_url', s), 'brokerUrl');
    assert.equal(settingName('celery_result_backend', s), 'resultBackend');
    assert.equal(settingName('task_track_started', s), 'taskTrackStarted');
    assert.equal(settingName('taskTrackStarted', s), 'taskTrackStarted');
    assert.equal(settingName('task_nonsense', s), undefined);
  });

  it('skips undefined values instead of clearing a default', () => {
    const s = fresh();
    applySettings(s, { taskDefaultQueue: undefined, task_serializer: undefined });
    assert.equal(s.taskDefaultQueue, 'celery');
    assert.equal(s.taskSerializer, 'json');
  });

  it('takes the broker and backend from CELERIAC_BROKER_URL and CELERIAC_RESULT_BACKEND', () => {
    const s = defaultSettings({ CELERIAC_BROKER_URL: 'amqp://guest@rabbit//', CELERIAC_RESULT_BACKEND: 'rpc://' });
    assert.equal(s.brokerUrl, 'amqp://guest@rabbit//');
    assert.equal(s.resultBackend, 'rpc://');
    // An empty variable means "not set".
    assert.equal(defaultSettings({ CELERIAC_BROKER_URL: '' }).brokerUrl, 'sqlite://');

    process.env['CELERIAC_BROKER_URL'] = 'memory://';
    process.env['CELERIAC_RESULT_BACKEND'] = 'memory://';
    const app = new Celeriac('env-test');
    assert.equal(app.conf.brokerUrl, 'memory://');
    assert.equal(app.conf.resultBackend, 'memory://');
    // Explicit options win over the environment.
    const explicit = new Celeriac('env-test', { broker: 'redis://h:1/0', backend: null });
    assert.equal(explicit.conf.brokerUrl, 'redis://h:1/0');
    assert.equal(explicit.conf.resultBackend, null);
  });

  it('app options use the same names: camelCase and snake_case', () => {
    const app = new Celeriac('opts', { broker: 'memory://', backend: 'memory://', task_acks_late: true, workerConcurrency: 3 });
    assert.equal(app.conf.taskAcksLate, true);
    assert.equal(app.conf.workerConcurrency, 3);
  });

  it('rejects an unknown setting with ImproperlyConfigured naming it', () => {
    const s = fresh();
    assert.throws(() => applySettings(s, { task_acks_lat: true }), (err: unknown) => {
      assert.ok(err instanceof ImproperlyConfigured);
      assert.ok(err instanceof CeleriacError);
      assert.equal(err.code, 'IMPROPERLY_CONFIGURED');
      assert.match(err.message, /task_acks_lat/);
      return true;
    });
    assert.throws(() => new Celeriac('typo', { broker: 'memory://', taskAcksLat: true } as never), ImproperlyConfigured);
  });

  it('validates values', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ workerConcurrency: 0 }, /workerConcurrency/],
      [{ worker_concurrency: 2.5 }, /workerConcurrency/],
      [{ workerConcurrency: '4' }, /workerConcurrency/],
      [{ workerPrefetchMultiplier: -1 }, /workerPrefetchMultiplier/],
      [{ acceptContent: [] }, /acceptContent/],
      [{ accept_content: 'json' }, /acceptContent/],
    ];
    for (const [input, message] of cases) {
      assert.throws(() => applySettings(fresh(), input), (err: unknown) => {
        assert.ok(err instanceof ImproperlyConfigured, `${JSON.stringify(input)} should be rejected`);
        assert.match(err.message, message);
        return true;
      });
    }
    // Zero is a valid prefetch multiplier (no limit), as in Celery.
    const s = fresh();
    applySettings(s, { workerPrefetchMultiplier: 0 });
    assert.equal(s.workerPrefetchMultiplier, 0);
  });
});

describe('settings names inherited from Object', () => {
  it('are unknown settings, not silently accepted', () => {
    for (const name of ['toString', 'constructor', 'hasOwnProperty']) {
      assert.throws(() => applySettings(defaultSettings({}), { [name]: 1 }), ImproperlyConfigured, name);
    }
  });
});
