/**
 * Message signing against real Python Celery 5.2 (python3-cryptography) over Redis: a Python
 * app set up with `app.setup_security()` (test/fixtures/py/pysigned.py) and a celeriac app with
 * `setupSecurity()` exchange signed tasks both ways; unsigned, tampered and unknown-signer
 * messages are refused by either worker and never run. Keys and certificates are made here by
 * openssl. Each run uses its own queues on Redis db 11. Prints measurements as test diagnostics.
 */
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Celeriac, encodeTaskMessage, Worker, type TransportMessage } from '../../src/index.js';
import { Certificate } from '../../src/security/certificate.js';
import { captureLog, type CapturedLog } from '../helpers/app.js';
import { certDir, makeSigner, opensslSkip, until, type SignerFiles } from '../helpers/certs.js';
import { lastLine, PY_DIR, pythonSkip, runPython, startPythonWorker } from '../helpers/python.js';
import { serviceSkip } from '../helpers/services.js';

const REDIS_URL = 'redis://127.0.0.1:6379/11';
const RUN = `${process.pid}-${Date.now()}`;
const PY_QUEUE = `sig-py-${RUN}`;
const JS_QUEUE = `sig-js-${RUN}`;
const SIGNED_TASKS = 200;
const PY_HOST = `pysig-${RUN}@test`;
const JS_HOST = `jssig-${RUN}@test`;

describe('message signing interop with Python Celery over Redis', async () => {
  const problem = (await serviceSkip('redis')) || pythonSkip(['celery', 'redis', 'cryptography']) || opensslSkip();
  const ran: number[][] = [];
  const pyRan = new Set<string>();
  let pyLog = '';
  let log: CapturedLog;
  let app: Celeriac;
  let worker: Worker;
  let pyWorker: ChildProcess | undefined;
  let py: SignerFiles;
  let js: SignerFiles;
  let stranger: SignerFiles;
  let store: string;
  const pyEvents: string[] = [];
  let stopReceiver: (() => Promise<void>) | undefined;
  const envFor = (signer: SignerFiles | null): NodeJS.ProcessEnv => ({
    ...process.env,
    PYTHONPATH: PY_DIR,
    INTEROP_REDIS_URL: REDIS_URL,
    SIG_PY_QUEUE: PY_QUEUE,
    SIG_JS_QUEUE: JS_QUEUE,
    ...(signer ? { SIG_KEY: signer.key, SIG_CERT: signer.cert, SIG_STORE: store } : { SIG_UNSIGNED: '1' }),
  });
  const pyClient = async (signer: SignerFiles | null, ...args: string[]): Promise<string> =>
    lastLine(await runPython(['-m', 'pysigned', ...args], envFor(signer)));

  const makeApp = (signer: SignerFiles | null, logger = captureLog().logger): Celeriac => {
    const a = new Celeriac('signed-interop', {
      broker: REDIS_URL,
      backend: REDIS_URL,
      taskRoutes: { 'pysig.*': { queue: PY_QUEUE }, 'jssig.*': { queue: JS_QUEUE } },
      logger,
      ...(signer
        ? { security_key: signer.key, security_certificate: signer.cert, security_cert_store: store, task_serializer: 'auth', accept_content: ['auth'] }
        : {}),
    });
    if (signer) a.setupSecurity();
    return a;
  };

  before(async () => {
    if (problem) return;
    const dirs = certDir();
    store = dirs.store;
    // Python's signer id joins the issuer's values: give it several, and non-ASCII ones.
    py = makeSigner(dirs.dir, 'py', { subject: '/C=DE/ST=Berlin/O=Bäckerei Ünterwegs/OU=ops/CN=py worker' });
    js = makeSigner(dirs.dir, 'js');
    stranger = makeSigner(dirs.dir, 'stranger');
    copyFileSync(py.cert, join(store, 'py.pem'));
    copyFileSync(js.cert, join(store, 'js.pem'));
    log = captureLog();
    app = makeApp(js, log.logger);
    app.task(function add(x: number, y: number) {
      ran.push([x, y]);
      return x + y;
    }, { name: 'jssig.add' });
    const receiver = app.events.receiver({ '*': (e) => e.hostname === PY_HOST && pyEvents.push(e.type) });
    await receiver.start();
    stopReceiver = () => receiver.stop();
    worker = new Worker(app, { queues: [JS_QUEUE], concurrency: 8, hostname: JS_HOST, logger: log.logger });
    await worker.start();
    pyWorker = await startPythonWorker(['-Q', PY_QUEUE, '-E', '-n', PY_HOST], envFor(py), { module: 'pysigned' });
    pyWorker.stderr!.on('data', (b: Buffer) => {
      pyLog += b.toString();
      for (const m of b.toString().matchAll(/Task pysig\.add\[([0-9a-f-]+)\] succeeded/g)) pyRan.add(m[1]!);
    });
  });

  after(async () => {
    // Last started, first stopped: the Python worker, the receiver, the worker, the app.
    const steps = [() => pyWorker?.kill('SIGTERM'), stopReceiver, () => worker?.stop(), () => app?.close()];
    for (const step of steps) await step?.();
  });

  it('names signers exactly as Python does (issuer values and serial), non-ASCII and multi-attribute issuers included', { skip: problem }, async () => {
    for (const cert of [py.cert, js.cert]) {
      assert.equal(new Certificate(readFileSync(cert)).id, await pyClient(py, 'cert-id', cert));
    }
  });

  it(`a Python client's ${SIGNED_TASKS} signed tasks run on the celeriac worker`, { skip: problem }, async (t) => {
    const start = Date.now();
    assert.equal(await pyClient(py, 'many', String(SIGNED_TASKS)), String(SIGNED_TASKS));
    t.diagnostic(`Python -> celeriac: ${SIGNED_TASKS} signed tasks in ${Date.now() - start} ms (Python client start-up included)`);
    assert.equal(ran.filter(([, y]) => y === 1).length, SIGNED_TASKS);
  });

  it(`a celeriac client's ${SIGNED_TASKS} signed tasks run on the Python worker`, { skip: problem }, async (t) => {
    const start = Date.now();
    const results = await Promise.all(Array.from({ length: SIGNED_TASKS }, (_, i) => app.sendTask<number>('pysig.add', [i, 2])));
    const values = await Promise.all(results.map((r) => r.get({ timeout: 30 })));
    assert.deepEqual(values, Array.from({ length: SIGNED_TASKS }, (_, i) => i + 2));
    t.diagnostic(`celeriac -> Python: ${SIGNED_TASKS} signed tasks in ${Date.now() - start} ms`);
    // The Python worker signs its events (event_serializer = 'auth', as Celery's guide sets it).
    await until(() => pyEvents.includes('task-succeeded'), "the Python worker's signed task events");
  });

  it('the celeriac worker refuses Python-sent unsigned and unknown-signer tasks, and never runs them', { skip: problem }, async () => {
    const before = log.grep('refused message').length;
    await pyClient(null, 'send', 'jssig.add', '[100, 100]');
    await pyClient(stranger, 'send', 'jssig.add', '[200, 200]');
    await pyClient(py, 'send', 'jssig.add', '[300, 300]');
    await until(() => ran.some(([x]) => x === 300), 'the signed task after the bad ones');
    await until(() => log.grep('refused message').length === before + 2, 'two refusals');
    const lines = log.grep('refused message').slice(before);
    assert.ok(lines.some((l) => /untrusted content of type 'application\/json'/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /unknown certificate: "US Celeriac Test stranger/.test(l)), lines.join('\n'));
    assert.ok(!ran.some(([x, y]) => (x === 100 && y === 100) || (x === 200 && y === 200)), 'a refused task ran');
  });

  it('the Python worker refuses celeriac-sent unsigned, unknown-signer and tampered tasks, and never runs them', { skip: problem }, async () => {
    const plain = makeApp(null);
    const forger = makeApp(stranger);
    try {
      const unsigned = await plain.sendTask('pysig.add', [1000, 1]);
      const unknown = await forger.sendTask('pysig.add', [2000, 1]);
      const good = encodeTaskMessage({ task: 'pysig.add', id: `tampered-${RUN}`, args: [3000, 1], kwargs: {}, origin: 'test', serializer: 'auth' }, app.codecs);
      const raw = Buffer.from(good.body.toString(), 'base64').toString('latin1').replace('3000', '3001');
      const tampered: TransportMessage = { ...good, body: Buffer.from(Buffer.from(raw, 'latin1').toString('base64')) };
      assert.notDeepEqual(tampered.body, good.body);
      await (await app.getTransport()).publish(tampered, { exchange: '', routingKey: PY_QUEUE });
      const last = await app.sendTask<number>('pysig.add', [4000, 1]);
      assert.equal(await last.get({ timeout: 30 }), 4001);
      // Python logs the success line after storing the result: wait for it before reading the log.
      await until(() => pyRan.has(last.id), "Python's log of the last task");
      for (const id of [unsigned.id, unknown.id, `tampered-${RUN}`]) {
        assert.equal(pyRan.has(id), false, `Python ran refused task ${id}`);
        assert.equal(await app.asyncResult(id).state(), 'PENDING', `task ${id} has a result`);
      }
      await until(() => /Refusing to deserialize untrusted content of type json/.test(pyLog), 'Python refusing JSON');
      await until(() => /Unknown certificate/.test(pyLog) && /Bad signature/.test(pyLog), 'Python refusing bad signatures');
    } finally {
      await plain.close();
      await forger.close();
    }
  });

  it('remote control is signed both ways: `celery inspect ping` reaches the celeriac worker, celeriac pings the Python one', { skip: problem }, async () => {
    const out = await runPython(['-m', 'celery', '-A', 'pysigned', 'inspect', 'ping', '-t', '3', '-d', JS_HOST], envFor(py), true);
    assert.match(out, new RegExp(`->  ${JS_HOST}: OK\\s+pong`), out);
    const pongs = await app.control.ping({ destination: [PY_HOST], timeout: 5, limit: 1 });
    assert.deepEqual(pongs, [{ [PY_HOST]: { ok: 'pong' } }]);
    const before = log.grep('refused control message').length;
    const plain = makeApp(null);
    try {
      await plain.control.broadcast('rate_limit', { destination: [JS_HOST], reply: false, arguments: { task_name: 'jssig.add', rate_limit: '1/h' } });
      await until(() => log.grep('refused control message').length === before + 1, 'the unsigned command refused');
    } finally {
      await plain.close();
    }
  });

  it('verify cost per message, celeriac vs Python, on the same signed bodies', { skip: problem }, async (t) => {
    const n = 2000;
    const pyBody = await pyClient(py, 'sign-one');
    const time = (body: string): number => {
      const buf = Buffer.from(body);
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) app.serializers.decode(buf, 'application/data', ['auth']);
      return Number(process.hrtime.bigint() - start) / 1e3 / n;
    };
    assert.deepEqual((app.serializers.decode(Buffer.from(pyBody), 'application/data', ['auth']) as unknown[])[0], [1, 2]);
    const jsBody = encodeTaskMessage({ task: 'pysig.add', id: 'x', args: [1, 2], kwargs: {}, origin: 'test', serializer: 'auth' }, app.codecs).body.toString();
    time(pyBody); // warm up
    const nodeUs = time(pyBody);
    const pyUs = Number(await runPython(['-m', 'pysigned', 'verify-time', String(n)], envFor(py), false, pyBody)) * 1e6;
    const pyOnJsUs = Number(await runPython(['-m', 'pysigned', 'verify-time', String(n)], envFor(py), false, jsBody)) * 1e6;
    t.diagnostic(`verify+decode per message: celeriac ${nodeUs.toFixed(1)} µs, Python ${pyUs.toFixed(1)} µs (celeriac-signed body in Python: ${pyOnJsUs.toFixed(1)} µs)`);
    assert.ok(nodeUs > 0 && pyUs > 0 && pyOnJsUs > 0);
    const signN = 300;
    const body = [[1, 2], {}, { callbacks: null, errbacks: null, chain: null, chord: null }];
    const start = process.hrtime.bigint();
    for (let i = 0; i < signN; i++) app.serializers.encode(body, 'auth');
    const nodeSignUs = Number(process.hrtime.bigint() - start) / 1e3 / signN;
    const pySignUs = Number(await runPython(['-m', 'pysigned', 'sign-time', String(signN)], envFor(py))) * 1e6;
    t.diagnostic(`serialize+sign per message: celeriac ${nodeSignUs.toFixed(0)} µs, Python ${pySignUs.toFixed(0)} µs`);
    assert.ok(nodeSignUs > 0 && pySignUs > 0);
  });

  it('drain cost on Redis: signed vs unsigned tasks through a celeriac worker', { skip: problem }, async (t) => {
    const n = 1000;
    const drain = async (signer: SignerFiles | null): Promise<{ cpuMs: number; wallMs: number }> => {
      const queue = `sig-drain-${signer ? 'signed' : 'plain'}-${RUN}`;
      const a = makeApp(signer);
      let done = 0;
      a.task(function noop() {
        done++;
      }, { name: 'drain.noop', ignoreResult: true });
      const w = new Worker(a, { queues: [queue], concurrency: 8, logger: captureLog('warn').logger });
      try {
        await Promise.all(Array.from({ length: n }, () => a.sendTask('drain.noop', [], {}, { queue })));
        const cpu = process.cpuUsage();
        const start = Date.now();
        await w.start();
        await until(() => done === n, `${n} tasks drained`, { timeout: 60_000 });
        const used = process.cpuUsage(cpu);
        return { cpuMs: (used.user + used.system) / 1e3, wallMs: Date.now() - start };
      } finally {
        await w.stop();
        await a.close();
      }
    };
    const plain = await drain(null);
    const signed = await drain(js);
    t.diagnostic(
      `draining ${n} tasks: unsigned ${plain.wallMs} ms wall / ${plain.cpuMs.toFixed(0)} ms CPU, ` +
        `signed ${signed.wallMs} ms wall / ${signed.cpuMs.toFixed(0)} ms CPU (CPU ${(signed.cpuMs / plain.cpuMs).toFixed(2)}x)`,
    );
    assert.ok(plain.cpuMs > 0 && signed.cpuMs > 0);
  });
});
