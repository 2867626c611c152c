import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { censor, redactUrl } from '../../src/config/redact.js';
import { settingsTable } from '../../src/config/settings.js';
import { COMMANDS, type ControlContext } from '../../src/control/commands.js';
import { Worker } from '../../src/index.js';
import { captureLog, testApp } from '../helpers/app.js';

describe('redacting URLs', () => {
  it('masks the whole password, even one holding @, / or :', () => {
    assert.equal(redactUrl('amqp://guest:p@ss@h:5672//'), 'amqp://guest:**@h:5672//');
    assert.equal(redactUrl('redis://:pa/ss@host:6379/0'), 'redis://:**@host:6379/0');
    assert.equal(redactUrl('redis://user:a:b@c@host/1?ssl_cert_reqs=none'), 'redis://user:**@host/1?ssl_cert_reqs=none');
    assert.equal(redactUrl('db+postgresql://u:s3cret@db/app', '********'), 'db+postgresql://u:********@db/app');
  });

  it('leaves URLs without a password, and other text, as they are', () => {
    for (const text of ['redis://127.0.0.1:6379/0', 'amqp://guest@h//', 'sqlite:///var/x@y.db', 'memory://', 'not a url', 'redis://h/0?x=a@b']) {
      assert.equal(redactUrl(text), text);
    }
  });
});

describe('censoring settings', () => {
  it('masks keys matching Celery’s pattern at any depth, and URL passwords in any string', () => {
    const out = censor({
      broker_transport_options: { sentinel_kwargs: { password: 'hunter2' }, visibility_timeout: 60, master_name: 'm' },
      result_backend_transport_options: { retry_policy: { max_retries: 3 }, db_password: 'x', apiToken: 't' },
      security_key: 'k',
      database_engine_options: { echo: true },
      aws_secret_access_key: 's',
      profanities_list: ['x'],
      nodes: ['redis://:pw@a:1/0', 'redis://b:2/0'],
      cert_store: { inline: '-----BEGIN PRIVATE KEY-----\nMII...\n-----END PRIVATE KEY-----' },
    }) as Record<string, Record<string, unknown>>;
    assert.deepEqual(out['broker_transport_options'], { sentinel_kwargs: { password: '********' }, visibility_timeout: 60, master_name: 'm' });
    assert.deepEqual(out['result_backend_transport_options'], { retry_policy: { max_retries: 3 }, db_password: '********', apiToken: '********' });
    for (const k of ['security_key', 'database_engine_options', 'aws_secret_access_key', 'profanities_list']) assert.equal(out[k], '********', k);
    assert.deepEqual(out['nodes'], ['redis://:********@a:1/0', 'redis://b:2/0']);
    assert.deepEqual(out['cert_store'], { inline: '********' });
  });

  it('turns values JSON cannot carry into strings', () => {
    const route = function route(): null {
      return null;
    };
    class Every {
      toString(): string {
        return 'every 5s';
      }
    }
    const shared = { a: 1 };
    assert.deepEqual(censor({ f: route, big: 2n ** 70n, when: new Date(0), sched: new Every(), nan: NaN, twice: [shared, shared] }), {
      f: '<function route>',
      big: '1180591620717411303424',
      when: '1970-01-01T00:00:00.000Z',
      sched: '<Every every 5s>',
      nan: 'NaN',
      twice: [{ a: 1 }, { a: 1 }],
    });
  });
});

describe('inspect conf and report', () => {
  function context(options: Record<string, unknown>): ControlContext {
    const { app } = testApp({ broker: 'amqp://guest:p@ss/w@rabbit:5672//', backend: 'redis://:r3d/s@cache:6379/1', ...options });
    return { worker: new Worker(app, { hostname: 'conf@test', logger: captureLog().logger }), clock: () => 1, saveRevoked: () => undefined };
  }

  it('answers with Celery’s snake_case names, the changed settings only unless with_defaults, secrets masked', () => {
    const ctx = context({
      brokerTransportOptions: { password: 'bt-secret', visibility_timeout: 10 },
      resultBackendTransportOptions: { token: 'rb-secret' },
      taskRoutes: function byName() {
        return null;
      },
      taskAcksLate: true,
    });
    const conf = COMMANDS['conf']!(ctx, {}) as Record<string, unknown>;
    assert.equal(conf['broker_url'], 'amqp://guest:********@rabbit:5672//');
    assert.equal(conf['result_backend'], 'redis://:********@cache:6379/1');
    assert.deepEqual(conf['broker_transport_options'], { password: '********', visibility_timeout: 10 });
    assert.deepEqual(conf['result_backend_transport_options'], { token: '********' });
    assert.equal(conf['task_routes'], '<function byName>');
    assert.equal(conf['task_acks_late'], true);
    assert.equal(conf['task_default_queue'], undefined, 'defaults only with with_defaults');
    assert.ok(Object.keys(conf).every((k) => /^[a-z0-9_]+$/.test(k)), Object.keys(conf).join(', '));
    const all = COMMANDS['conf']!(ctx, { with_defaults: true }) as Record<string, unknown>;
    assert.equal(all['task_default_queue'], 'celery');
    const text = JSON.stringify([conf, all, COMMANDS['report']!(ctx, {})]);
    for (const secret of ['bt-secret', 'rb-secret', 'p@ss', 'ss/w', 'r3d']) assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  });

  it('`report` names the software and lists the changed settings', () => {
    const report = (COMMANDS['report']!(context({ taskAcksLate: true }), {}) as { ok: string }).ok;
    assert.match(report, /^software -> celeriac:/);
    assert.match(report, /task_acks_late: true/);
    assert.match(report, /broker_url: "amqp:\/\/guest:\*{8}@rabbit:5672\/\/"/);
  });

  it('settingsTable is what both use', () => {
    const { app } = testApp({ taskAcksLate: true });
    assert.deepEqual(Object.keys(settingsTable(app.conf)).sort(), ['broker_url', 'result_backend', 'task_acks_late'].sort());
  });
});
