/** Remote control and events on RabbitMQ: the pidbox and celeryev exchanges with Celery's flags. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Celeriac, sleep, Worker, type CeleryEvent } from '../../src/index.js';
import { captureLog } from '../helpers/app.js';
import { serviceSkip } from '../helpers/services.js';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672//';

describe('remote control and events on RabbitMQ', async () => {
  const skip = await serviceSkip('rabbitmq');
  it('pings 2 workers, revokes across them and streams their task events', { skip, timeout: 60_000 }, async () => {
    const suffix = randomUUID().slice(0, 8);
    const app = new Celeriac('amqp-control', { broker: AMQP_URL, backend: 'rpc://', taskDefaultQueue: `ctl-${suffix}`, logger: captureLog().logger });
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    const events: CeleryEvent[] = [];
    const receiver = app.events.receiver({ '*': (e) => events.push(e) });
    await receiver.start();
    const workers = [0, 1].map((i) => new Worker(app, { hostname: `amqp${i}-${suffix}@test`, sendEvents: true, logger: captureLog().logger }));
    for (const w of workers) await w.start();
    try {
      // Only this test's workers: other tests' workers share the vhost's pidbox.
      const ours = { pattern: `amqp*-${suffix}@test` };
      const pongs = await app.control.ping({ ...ours, timeout: 2, limit: 2 });
      assert.deepEqual(pongs.flatMap((r) => Object.keys(r)).sort(), [`amqp0-${suffix}@test`, `amqp1-${suffix}@test`]);
      const r = await add.delay(2, 2);
      assert.equal(await r.get({ timeout: 10 }), 4);
      await app.control.revoke('not-yet-sent');
      await sleep(300);
      const revoked = await app.control.inspect({ ...ours, timeout: 2, limit: 2 }).revoked();
      assert.equal(revoked.length, 2);
      assert.ok(events.some((e) => e.type === 'task-succeeded' && e['uuid'] === r.id), events.map((e) => e.type).join(','));
      assert.equal(events.filter((e) => e.type === 'worker-online' && String(e.hostname).endsWith(`${suffix}@test`)).length, 2);
    } finally {
      for (const w of workers) await w.stop();
      await receiver.stop();
      await app.close();
    }
  });
});
