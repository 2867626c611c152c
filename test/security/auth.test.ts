/**
 * Message signing (the `auth` serializer) on the memory broker with a real Worker: settings
 * checks, the wire layout, and refusal of unsigned, tampered and unknown-signer messages.
 * Keys and certificates are made by the openssl CLI per test run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  Celeriac,
  encodeTaskMessage,
  ImproperlyConfigured,
  SecurityError,
  type Logger,
  type Task,
  type TransportMessage,
} from '../../src/index.js';
import { PIDBOX_EXCHANGE, jsonMessage } from '../../src/control/pidbox.js';
import { Certificate } from '../../src/security/certificate.js';
import { captureLog, testApp, withWorker } from '../helpers/app.js';
import { certDir, makeSigner, opensslSkip, until, type SignerFiles } from '../helpers/certs.js';

const skip = opensslSkip();

/** A signing app on the memory broker, trusting the certificates in `store`. */
function signedApp(signer: SignerFiles, store: string, logger?: Logger): Celeriac {
  const app = new Celeriac('signed', {
    broker: 'memory://',
    backend: 'memory://',
    security_key: signer.key,
    security_certificate: signer.cert,
    security_cert_store: store,
    task_serializer: 'auth',
    accept_content: ['auth'],
    ...(logger ? { logger } : { logger: captureLog().logger }),
  });
  app.setupSecurity();
  return app;
}

function fields(app: Celeriac, args: unknown[] = [2, 3]): Parameters<typeof encodeTaskMessage>[0] {
  return { task: 'tasks.add', id: `id-${Math.random()}`, args, kwargs: {}, origin: 'test', serializer: app.conf.taskSerializer };
}

const SEP = Buffer.from([0, 1]);

describe('message signing (auth serializer)', { skip }, () => {
  const { dir, store } = skip ? { dir: '', store: '' } : certDir();
  const alice = skip ? { key: '', cert: '' } : makeSigner(dir, 'alice');
  const mallory = skip ? { key: '', cert: '' } : makeSigner(dir, 'mallory');
  if (!skip) copyFileSync(alice.cert, join(store, 'alice.pem'));

  it('refuses to set up unless tasks are sent and accepted only as auth, with every setting given', async () => {
    const base = { broker: 'memory://', backend: 'memory://', logger: captureLog().logger };
    const keys = { securityKey: alice.key, securityCertificate: alice.cert, securityCertStore: store };
    assert.throws(() => new Celeriac('a', { ...base, ...keys }).setupSecurity(), ImproperlyConfigured);
    assert.throws(
      () => new Celeriac('a', { ...base, ...keys, taskSerializer: 'auth', acceptContent: ['auth', 'json'] }).setupSecurity(),
      /acceptContent = \['auth'\]/,
    );
    assert.throws(
      () => new Celeriac('a', { ...base, taskSerializer: 'auth', acceptContent: ['auth'], securityKey: alice.key }).setupSecurity(),
      /securityCertificate/,
    );
    assert.throws(
      () => new Celeriac('a', { ...base, ...keys, securityKey: mallory.key, taskSerializer: 'auth', acceptContent: ['auth'] }).setupSecurity(),
      (err: Error) => err instanceof SecurityError && /does not match/.test(err.message),
    );
    assert.throws(
      () => new Celeriac('a', { ...base, ...keys, securityDigest: 'nope', taskSerializer: 'auth', acceptContent: ['auth'] }).setupSecurity(),
      /unknown security_digest/,
    );
    const unset = new Celeriac('a', { ...base, taskSerializer: 'auth' });
    await assert.rejects(unset.sendTask('x'), /setupSecurity/);
    await unset.close();
  });

  it("lays out a signed body as Celery does: base64 of signer, RSA-PSS signature, type, encoding, JSON", () => {
    const app = signedApp(alice, store);
    const m = encodeTaskMessage(fields(app), app.codecs);
    assert.equal(m.contentType, 'application/data');
    assert.equal(m.contentEncoding, 'utf-8');
    const raw = Buffer.from(m.body.toString('latin1'), 'base64');
    assert.equal(raw.toString('base64'), m.body.toString('latin1'), 'the body is base64 text');
    const signerEnd = raw.indexOf(SEP);
    const serial = BigInt(`0x${spawnSync('openssl', ['x509', '-noout', '-serial', '-in', alice.cert], { encoding: 'utf8' }).stdout.trim().split('=')[1]}`);
    assert.equal(raw.subarray(0, signerEnd).toString(), `US Celeriac Test alice ${serial.toString(10)}`);
    const rest = raw.subarray(signerEnd + 2 + 256);
    assert.deepEqual(rest.subarray(0, 2), SEP, 'a 2048-bit key signs with 256 bytes');
    const [type, encoding, ...body] = rest.subarray(2).toString('latin1').split('\x00\x01');
    assert.equal(type, 'application/json');
    assert.equal(encoding, 'utf-8');
    assert.deepEqual(JSON.parse(body.join('')), [[2, 3], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]);
    assert.equal(m.headers['task'], 'tasks.add', 'headers stay in clear, as in Celery');
  });

  it('runs signed tasks, and refuses unsigned, tampered and unknown-signer messages with one line each, never running them', async () => {
    const log = captureLog();
    const app = signedApp(alice, store, log.logger);
    const ran: unknown[] = [];
    const add = app.task(function add(x: number, y: number) {
      ran.push([x, y]);
      return x + y;
    }, { name: 'tasks.add' });
    const transport = await app.getTransport();
    const publish = (m: TransportMessage): Promise<void> => transport.publish(m, { exchange: '', routingKey: 'celery' });

    const unsigned = encodeTaskMessage({ ...fields(app, [1, 1]), serializer: 'json' }, app.codecs);
    const good = encodeTaskMessage(fields(app, [5, 5]), app.codecs);
    const raw = Buffer.from(good.body.toString(), 'base64');
    const tamperedRaw = Buffer.from(raw.toString('latin1').replace('[[5, 5]', '[[6, 5]').replace('[[5,5]', '[[6,5]'), 'latin1');
    assert.notDeepEqual(tamperedRaw, raw, 'the test changed an argument');
    const tampered = { ...good, body: Buffer.from(tamperedRaw.toString('base64')) };
    const forger = signedApp(mallory, store);
    const unknown = encodeTaskMessage(fields(forger, [7, 7]), forger.codecs);
    const resignedByUnknown = { ...good, body: unknown.body };
    const forgedSigner = Buffer.concat([Buffer.from('x\n[2026-01-01 00:00:00,000: INFO] all good'), SEP, raw.subarray(raw.indexOf(SEP) + 2)]);
    const logForgery = { ...good, body: Buffer.from(forgedSigner.toString('base64')) };

    await withWorker(app, async (worker) => {
      const rejected: string[] = [];
      worker.on('task-rejected', (err) => rejected.push(err.name));
      for (const m of [unsigned, tampered, unknown, resignedByUnknown, logForgery]) await publish(m);
      await until(() => rejected.length === 5, 'five refusals');
      assert.deepEqual(rejected.sort(), ['ContentDisallowed', 'SecurityError', 'SecurityError', 'SecurityError', 'SecurityError']);
      const refused = log.grep('refused message');
      assert.equal(refused.length, 5, refused.join('\n'));
      assert.equal(log.lines.filter((l) => l.includes('all good')).length, 1);
      assert.ok(log.grep('unknown certificate: "x\\n[2026').length === 1, 'the forged signer is quoted');
      assert.ok(refused.every((l) => !l.includes('\n')), 'one line each, no stack');
      assert.equal(refused.filter((l) => /bad signature/.test(l)).length, 1);
      assert.equal(refused.filter((l) => /unknown certificate: "US Celeriac Test mallory/.test(l)).length, 2);
      assert.equal(refused.filter((l) => /application\/json/.test(l)).length, 1);
      assert.deepEqual(ran, []);
      assert.equal(await (await add.delay(2, 2)).get({ timeout: 5 }), 4);
      await publish(good);
      await until(() => ran.length === 2, 'the signed message to run');
      assert.deepEqual(ran, [[2, 2], [5, 5]]);
    });
  });

  it('a worker re-signs what it sends itself: retries and chain steps of signed tasks run', async () => {
    const app = signedApp(alice, store);
    const flaky = app.task(function flaky(self: Task, x: number) {
      if (self.request.retries === 0) return self.retry({ countdown: 0, exc: new Error('once') });
      return x * 10;
    }, { name: 'tasks.flaky', bind: true });
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    await withWorker(app, async () => {
      assert.equal(await (await flaky.delay(4)).get({ timeout: 10 }), 40);
      assert.equal(await (await app.chain(flaky.s(1), add.s(5)).applyAsync()).get({ timeout: 10 }), 15);
    });
  });

  it('refuses a store holding one certificate twice, an empty store, and a non-RSA key', () => {
    const { dir: d2, store: s2 } = certDir();
    copyFileSync(alice.cert, join(s2, 'a.pem'));
    copyFileSync(alice.cert, join(s2, 'b.pem'));
    const conf = { taskSerializer: 'auth', acceptContent: ['auth'], securityKey: alice.key, securityCertificate: alice.cert };
    assert.throws(() => testApp({ ...conf, securityCertStore: s2 }).app.setupSecurity(), /duplicate certificate: 'US Celeriac Test alice/);
    assert.throws(() => testApp({ ...conf, securityCertStore: join(s2, '*.crt') }).app.setupSecurity(), /no certificate found/);
    const ec = makeSigner(d2, 'ed', { newkey: 'ed25519', subject: '/CN=ed' });
    assert.throws(() => new Certificate(readFileSync(ec.cert)), /needs RSA/);
  });

  it('accepts PEM text as well as paths, and a directory or glob as the store', () => {
    const { app } = testApp({
      securityKey: readFileSync(alice.key, 'utf8'),
      securityCertificate: readFileSync(alice.cert, 'utf8'),
      securityCertStore: join(store, '*.pem'),
      taskSerializer: 'auth',
      acceptContent: ['auth'],
    });
    app.setupSecurity();
    const m = encodeTaskMessage(fields(app), app.codecs);
    const reader = signedApp(alice, store);
    const decoded = reader.serializers.decode(m.body, m.contentType, ['auth']);
    assert.deepEqual((decoded as unknown[])[0], [2, 3]);
    assert.throws(() => reader.serializers.decode(m.body, m.contentType, ['json']), /refusing to deserialize/);
  });

  it('signs remote control both ways, refuses unsigned and forged commands, and never shows an inline key', async () => {
    const log = captureLog();
    const app = new Celeriac('signed', {
      broker: 'memory://',
      backend: 'memory://',
      logger: log.logger,
      securityKey: readFileSync(alice.key, 'utf8'),
      securityCertificate: alice.cert,
      securityCertStore: store,
      taskSerializer: 'auth',
      acceptContent: ['auth'],
    });
    app.setupSecurity();
    const transport = await app.getTransport();
    const sent: TransportMessage[] = [];
    const publish = transport.publish.bind(transport);
    transport.publish = (m, route) => {
      if (route.exchange === PIDBOX_EXCHANGE) sent.push(m);
      return publish(m, route);
    };
    await withWorker(app, async (worker) => {
      const pongs = await app.control.ping({ timeout: 1, limit: 1 });
      assert.deepEqual(pongs, [{ [worker.hostname]: { ok: 'pong' } }]);
      assert.equal(sent[0]?.contentType, 'application/data', 'the command travelled signed');
      const conf = (await app.control.inspect({ timeout: 1, limit: 1 }).conf())[0]![worker.hostname] as Record<string, unknown>;
      assert.equal(conf['securityKey'], '********');
      assert.equal(conf['securityCertificate'], alice.cert);

      const revoke = { method: 'revoke', arguments: { task_id: 'victim' }, destination: null, ticket: 't1', reply_to: null };
      await publish(jsonMessage(revoke, {}), { exchange: PIDBOX_EXCHANGE, routingKey: '' });
      const forger = signedApp(mallory, store);
      await publish(encodePayloadFor(forger, { ...revoke, ticket: 't2' }), { exchange: PIDBOX_EXCHANGE, routingKey: '' });
      await until(() => log.grep('refused control message').length === 2, 'two refused commands');
      assert.ok(log.grep('refused control message').some((l) => /untrusted content of type 'application\/json'/.test(l)));
      assert.ok(log.grep('refused control message').some((l) => /unknown certificate/.test(l)));
      assert.equal(app.revoked.has('victim'), false, 'a refused revoke took effect');
      await app.control.revoke('victim2');
      await until(() => app.revoked.has('victim2'), 'the signed revoke');
    });
  });
});

describe('signed events (eventSerializer: auth)', { skip }, () => {
  it('a worker signs its events and a receiver verifies them', async () => {
    const { dir, store } = certDir();
    const signer = makeSigner(dir, 'events');
    copyFileSync(signer.cert, join(store, 'events.pem'));
    const app = new Celeriac('signed', {
      broker: 'memory://',
      backend: 'memory://',
      logger: captureLog().logger,
      security_key: signer.key,
      security_certificate: signer.cert,
      security_cert_store: store,
      task_serializer: 'auth',
      event_serializer: 'auth',
      accept_content: ['auth'],
    });
    app.setupSecurity();
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    const transport = await app.getTransport();
    const types = new Set<string>();
    const publish = transport.publish.bind(transport);
    transport.publish = (m, route) => {
      if (route.exchange === 'celeryev') types.add(m.contentType);
      return publish(m, route);
    };
    const seen: string[] = [];
    const receiver = app.events.receiver({ '*': (e) => seen.push(e.type) });
    await receiver.start();
    try {
      await withWorker(app, async () => {
        assert.equal(await (await add.delay(1, 2)).get({ timeout: 5 }), 3);
        await until(() => seen.includes('task-succeeded'), 'a verified task-succeeded event');
      }, { sendEvents: true, hostname: 'ev@test' });
    } finally {
      await receiver.stop();
    }
    assert.deepEqual([...types], ['application/data']);
  });
});

/** A control command signed by `app`'s key. */
function encodePayloadFor(app: Celeriac, body: unknown): TransportMessage {
  const e = app.serializers.encode(body, 'auth');
  return { body: e.body, contentType: e.contentType, contentEncoding: e.contentEncoding, headers: {}, properties: {} };
}
