/**
 * `rediss://` end to end: a Redis with TLS only (started here from the machine's redis-server,
 * with a CA and server certificate made by openssl), used as broker and result backend by a
 * worker, with kombu's URL parameters for the certificates.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Celeriac, ImproperlyConfigured, OperationalError, silentLogger, Worker } from '../../src/index.js';
import { RedisTransport } from '../../src/broker/redis/transport.js';
import { redisUrlOptions } from '../../src/broker/redis/connection.js';
import { freePort, servicesRequired } from '../helpers/services.js';

const hasTools = ['redis-server', 'openssl'].every((cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0);
const skip = hasTools || servicesRequired ? false : 'redis-server or openssl not installed; install them (see shared/SERVICES.md) or set CELERIAC_REQUIRE_SERVICES=1 to fail instead';

function openssl(dir: string, ...args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA and a server certificate for 127.0.0.1 signed by it, in `dir`. */
function makeCertificates(dir: string): void {
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=celeriac test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(dir, 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext.cnf', '-out', 'server.pem');
}

describe('rediss:// (TLS)', { skip }, () => {
  let dir = '';
  let port = 0;
  let server: ChildProcess | undefined;
  let base = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'celeriac-tls-'));
    makeCertificates(dir);
    port = await freePort();
    server = spawn('redis-server', [
      '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1',
      '--tls-cert-file', join(dir, 'server.pem'), '--tls-key-file', join(dir, 'server.key'), '--tls-ca-cert-file', join(dir, 'ca.pem'),
      '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no', '--dir', dir,
    ], { stdio: 'ignore' });
    base = `rediss://127.0.0.1:${port}/0`;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const t = new RedisTransport({ url: `${base}?ssl_ca_certs=${join(dir, 'ca.pem')}`, transportOptions: { connectTimeout: 1 } });
      try {
        await t.connect();
        await t.close();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });

  after(() => {
    server?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs tasks with broker and backend over TLS, the certificate checked against ssl_ca_certs', async () => {
    const url = `${base}?ssl_cert_reqs=required&ssl_ca_certs=${join(dir, 'ca.pem')}`;
    // A short visibility timeout starts the lease thread's own TLS connection at once.
    const app = new Celeriac('tls', { broker: url, backend: url, logger: silentLogger, brokerTransportOptions: { visibilityTimeout: 2 } });
    const add = app.task(function add(a: number, b: number) {
      return a + b;
    }, { name: 'tls.add' });
    const nap = app.task(async function nap(ms: number) {
      await new Promise((r) => setTimeout(r, ms));
      return ms;
    }, { name: 'tls.nap', acksLate: true });
    const worker = new Worker(app, { concurrency: 2, logger: silentLogger, remoteControl: false });
    await worker.start();
    try {
      assert.equal(await (await add.delay(2, 3)).get({ timeout: 10 }), 5);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => add.delay(i, i)));
      assert.deepEqual(await Promise.all(results.map((r) => r.get({ timeout: 10 }))), Array.from({ length: 20 }, (_, i) => 2 * i));
      // A held message's lease is renewed by the lease thread over its own TLS connection.
      const t = new RedisTransport({ url, transportOptions: {} });
      await t.connect();
      try {
        const napping = await nap.delay(1500);
        let tag: string | undefined;
        for (let i = 0; i < 100 && !tag; i++) {
          [tag] = await t.client.hkeys('unacked');
          if (!tag) await new Promise((r) => setTimeout(r, 10));
        }
        assert.ok(tag, 'the running task is held in the unacked hash');
        const first = Number(await t.client.zscore('unacked_index', tag));
        await new Promise((r) => setTimeout(r, 1000));
        assert.ok(Number(await t.client.zscore('unacked_index', tag)) > first, 'the lease was renewed while the task ran');
        assert.equal(await napping.get({ timeout: 10 }), 1500);
        assert.equal(await t.client.hlen('unacked'), 0, 'every message acked');
      } finally {
        await t.close();
      }
    } finally {
      await worker.stop();
      await app.close();
    }
  });

  it("fails with OperationalError when the server's certificate does not verify, and connects with ssl_cert_reqs=none", async () => {
    const strict = new RedisTransport({ url: base, transportOptions: { connectTimeout: 2 } });
    await assert.rejects(strict.connect(), (err: Error) => err instanceof OperationalError && /127\.0\.0\.1/.test(err.message) && /certificate/i.test(err.message));
    const lax = new RedisTransport({ url: `${base}?ssl_cert_reqs=CERT_NONE`, transportOptions: { connectTimeout: 2 } });
    await lax.connect();
    assert.equal(await lax.client.ping(), 'PONG');
    await lax.close();
  });

  it('names a bad TLS parameter or an unreadable file', () => {
    assert.throws(() => redisUrlOptions(`${base}?ssl_cert_reqs=maybe`), (err: Error) => err instanceof ImproperlyConfigured && /ssl_cert_reqs.*'maybe'/.test(err.message));
    assert.throws(() => redisUrlOptions(`${base}?ssl_ca_certs=/nonexistent/ca.pem`), (err: Error) => err instanceof ImproperlyConfigured && /\/nonexistent\/ca\.pem/.test(err.message));
    const { url, options } = redisUrlOptions(`rediss://:secret@127.0.0.1:${port}/3?ssl_cert_reqs=none&ssl_check_hostname=false&family=4`);
    assert.equal(url, `rediss://:secret@127.0.0.1:${port}/3?family=4`, 'TLS parameters taken out, others kept');
    assert.equal(options.tls?.rejectUnauthorized, false);
    assert.deepEqual(redisUrlOptions('redis://127.0.0.1:6379/0?ssl_cert_reqs=none'), { url: 'redis://127.0.0.1:6379/0?ssl_cert_reqs=none', options: {} }, 'plain redis:// is left alone');
  });
});
