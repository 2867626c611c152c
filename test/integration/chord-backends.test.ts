/**
 * A chord of 1,000 header tasks on real backends with concurrent workers (issue 7): Redis (Celery's
 * chord keys), the database backend (celery.chord_unlock polling) and the embedded default. The
 * body must run exactly once, with every header result in order.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Celeriac, chord, Worker } from '../../src/index.js';
import { RedisTransport } from '../../src/broker/redis/transport.js';
import { captureLog } from '../helpers/app.js';
import { serviceSkip } from '../helpers/services.js';

const SIZE = 1000;

function sqliteUrls(): { broker: string; backend: string } {
  const file = join(mkdtempSync(join(tmpdir(), 'celeriac-chord-')), 'q.db');
  return { broker: `sqlite:///${file}`, backend: `db+sqlite:///${file}` };
}

const setups: Array<[string, () => Promise<string | false>, () => Promise<{ broker: string; backend: string }>]> = [
  ['the embedded default (sqlite + db+sqlite, chord_unlock)', async () => false, async () => sqliteUrls()],
  [
    'Redis (broker and backend)',
    () => serviceSkip('redis'),
    async () => {
      const url = 'redis://127.0.0.1:6379/13';
      const t = new RedisTransport({ url, transportOptions: {} });
      await t.connect();
      await t.client.flushdb();
      await t.close();
      return { broker: url, backend: url };
    },
  ],
  [
    'PostgreSQL backend on the SQLite broker',
    () => serviceSkip('postgres'),
    async () => ({ broker: sqliteUrls().broker, backend: 'db+postgresql://postgres@127.0.0.1:5432/test' }),
  ],
];

for (const [name, skipFor, urlsFor] of setups) {
  describe(`a 1,000-task chord on ${name}`, async () => {
    const skip = await skipFor();
    it('runs the body once with every header result in order, across 2 workers', { skip, timeout: 120_000 }, async () => {
      const { broker, backend } = await urlsFor();
      let bodies = 0;
      const apps = [0, 1].map(() => {
        const app = new Celeriac('chords', { broker, backend, logger: captureLog('error').logger });
        app.task(function square(x: number) {
          return x * x;
        }, { name: 'ch.square' });
        app.task(function collect(values: number[]) {
          bodies++;
          return values;
        }, { name: 'ch.collect' });
        return app;
      });
      const workers = apps.map((app, i) => new Worker(app, { concurrency: 8, hostname: `c${i}@test`, logger: captureLog('error').logger }));
      for (const w of workers) await w.start();
      try {
        const [producer] = apps;
        const header = Array.from({ length: SIZE }, (_, i) => producer!.signature('ch.square', [i]));
        const res = await chord(header, producer!.signature<number[]>('ch.collect')).applyAsync();
        const values = await res.get({ timeout: 90 });
        assert.deepEqual(values, Array.from({ length: SIZE }, (_, i) => i * i));
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(bodies, 1, 'the body ran once');
      } finally {
        for (const w of workers) await w.stop();
        for (const a of apps) await a.close();
      }
    });
  });
}
