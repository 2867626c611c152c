import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemcachedBackend, memcachedServers } from '../../src/backends/memcached/backend.js';
import { chord, ImproperlyConfigured, OperationalError } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';
import { serviceSkip } from '../helpers/services.js';

describe('memcached backend', async () => {
  it('reads Celery cache URLs, one or several servers', () => {
    assert.equal(memcachedServers('cache+memcached://127.0.0.1:11211/'), '127.0.0.1:11211');
    assert.equal(memcachedServers('cache+memcached://a:1;b:2/'), 'a:1,b:2');
    assert.throws(() => memcachedServers('cache+memcached:///'), ImproperlyConfigured);
  });

  it('reports an unreachable server as OperationalError', async () => {
    const b = new MemcachedBackend({ url: 'cache+memcached://127.0.0.1:1/', expiresSeconds: 60, backendOptions: {} });
    await assert.rejects(b.connect(), OperationalError);
  });

  it('keeps task results and completes a chord through a worker', { skip: await serviceSkip('memcached') }, async () => {
    const { app } = testApp({ backend: 'cache+memcached://127.0.0.1:11211/' });
    const add = app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    const tsum = app.task(function tsum(xs: number[]) {
      return xs.reduce((a, b) => a + b, 0);
    }, { name: 'tasks.tsum' });
    await withWorker(app, async () => {
      assert.equal(await (await add.delay(1, 2)).get({ timeout: 5 }), 3);
      const r = await chord(Array.from({ length: 20 }, (_, i) => add.s(i, 0)), tsum.s()).applyAsync();
      assert.equal(await r.get({ timeout: 10 }), 190);
    });
  });
});
