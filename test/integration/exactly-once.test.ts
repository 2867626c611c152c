/**
 * Issue 8's scenarios on real brokers, with a short visibility timeout: tasks held for their ETA
 * or running far longer than the timeout (async or CPU-bound) run exactly once across several
 * workers, because live workers renew their leases.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Celeriac, sleep, Worker } from '../../src/index.js';
import { RedisTransport } from '../../src/broker/redis/transport.js';
import { captureLog } from '../helpers/app.js';
import { serviceSkip } from '../helpers/services.js';

type Runs = Map<string, number>;

/** An app on `broker` whose tasks count their runs in `runs`. */
function makeApp(broker: string, backend: string, runs: Runs): Celeriac {
  const app = new Celeriac('exactly-once', {
    broker,
    backend,
    brokerTransportOptions: { visibilityTimeout: 2 },
    taskAcksLate: true,
    logger: captureLog('warn').logger,
  });
  const count = (id: string): void => {
    runs.set(id, (runs.get(id) ?? 0) + 1);
  };
  app.task(function mark(id: string) {
    count(id);
  }, { name: 'eo.mark' });
  app.task(async function slow(id: string, seconds: number) {
    count(id);
    await sleep(seconds * 1000);
  }, { name: 'eo.slow' });
  app.task(function burn(id: string, seconds: number) {
    count(id);
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until) {
      // CPU-bound: the event loop is blocked the whole time.
    }
  }, { name: 'eo.burn' });
  return app;
}

const brokers: Array<[string, () => Promise<string | false>, () => Promise<{ broker: string; backend: string }>]> = [
  [
    'sqlite',
    async () => false,
    async () => {
      const file = join(mkdtempSync(join(tmpdir(), 'celeriac-eo-')), 'q.db');
      return { broker: `sqlite:///${file}`, backend: `db+sqlite:///${file}` };
    },
  ],
  [
    'redis',
    () => serviceSkip('redis'),
    async () => {
      const url = 'redis://127.0.0.1:6379/9';
      const t = new RedisTransport({ url, transportOptions: {} });
      await t.connect();
      await t.client.flushdb();
      await t.close();
      return { broker: url, backend: url };
    },
  ],
];

for (const [name, skipFor, urlsFor] of brokers) {
  describe(`exactly once on ${name} with a 2 s visibility timeout`, async () => {
    const skip = await skipFor();

    it('runs 200 tasks with a 6 s countdown once each across 3 workers', { skip, timeout: 60_000 }, async () => {
      const { broker, backend } = await urlsFor();
      const runs: Runs = new Map();
      const apps = [0, 1, 2].map(() => makeApp(broker, backend, runs));
      const workers = apps.map((app, i) => new Worker(app, { concurrency: 8, hostname: `w${i}@test`, logger: captureLog('warn').logger }));
      for (const w of workers) await w.start();
      try {
        const producer = apps[0]!;
        const ids = Array.from({ length: 200 }, (_, i) => `eta-${i}`);
        for (const id of ids) await producer.sendTask('eo.mark', [id], {}, { countdown: 6 });
        const deadline = Date.now() + 40_000;
        while (runs.size < ids.length && Date.now() < deadline) await sleep(100);
        await sleep(3000); // time for any duplicate to show up
        assert.equal(runs.size, ids.length, 'every task ran');
        const twice = [...runs].filter(([, n]) => n > 1);
        assert.deepEqual(twice, [], 'no task ran twice');
      } finally {
        for (const w of workers) await w.stop();
        for (const a of apps) await a.close();
      }
    });

    it('runs a 6 s async task and a 6 s CPU-bound task once each, with other workers waiting', { skip, timeout: 60_000 }, async () => {
      const { broker, backend } = await urlsFor();
      const runs: Runs = new Map();
      const apps = [0, 1].map(() => makeApp(broker, backend, runs));
      const workers = apps.map((app, i) => new Worker(app, { concurrency: 2, hostname: `l${i}@test`, logger: captureLog('error').logger }));
      for (const w of workers) await w.start();
      try {
        const a = await apps[0]!.sendTask('eo.slow', ['async', 6]);
        const b = await apps[0]!.sendTask('eo.burn', ['cpu', 6]);
        await a.get({ timeout: 30 });
        await b.get({ timeout: 30 });
        await sleep(3000);
        assert.equal(runs.get('async'), 1);
        assert.equal(runs.get('cpu'), 1);
      } finally {
        for (const w of workers) await w.stop();
        for (const app of apps) await app.close();
      }
    });
  });
}
