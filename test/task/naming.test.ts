import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Celeriac, ImproperlyConfigured, silentLogger, Task } from '../../src/index.js';

const newApp = (options = {}): Celeriac => new Celeriac('naming', { logger: silentLogger, ...options });

describe('task names and the registry', () => {
  it('uses an explicit name', () => {
    const app = newApp();
    const t = app.task(function add(x: number) {
      return x;
    }, { name: 'proj.tasks.add' });
    assert.equal(t.name, 'proj.tasks.add');
    assert.equal(app.tasks.get('proj.tasks.add'), t);
  });

  it('generates <module>.<function> from the defining file', () => {
    const app = newApp();
    const t = app.task(function multiply(x: number) {
      return x;
    });
    assert.equal(t.name, 'naming.test.multiply');
  });

  it('lets genTaskName change the rule', () => {
    const seen: Array<[string, string | null]> = [];
    const app = newApp({
      genTaskName: (name: string, module: string | null) => {
        seen.push([name, module]);
        return `custom.${name.toUpperCase()}`;
      },
    });
    const t = app.task(function ping() {
      return 'pong';
    });
    assert.equal(t.name, 'custom.PING');
    assert.deepEqual(seen, [['ping', 'naming.test']]);
  });

  it('refuses an anonymous function without a name', () => {
    const app = newApp();
    assert.throws(() => app.task((x: number) => x), ImproperlyConfigured);
    assert.equal(app.task((x: number) => x, { name: 'anon.ok' }).name, 'anon.ok');
  });

  it('includes the built-in tasks in the registry', () => {
    const app = newApp();
    for (const name of ['celery.backend_cleanup', 'celery.accumulate', 'celery.map', 'celery.starmap']) {
      assert.ok(app.tasks.has(name), `${name} registered`);
    }
    assert.deepEqual(app.tasks.userNames(), []);
  });

  it('registers class-based tasks once per process, keeping their state', async () => {
    const app = newApp();
    let instances = 0;
    class Counter extends Task<[number], number> {
      count = 0;
      constructor() {
        super();
        instances++;
      }
      override run(n: number): number {
        this.count += n;
        return this.count;
      }
    }
    const counter = app.registerTask(Counter);
    assert.equal(counter.name, 'naming.test.Counter');
    assert.equal(instances, 1);
    assert.equal(await counter.call(2), 2);
    assert.equal(await counter.call(3), 5);
    assert.equal(app.tasks.get(counter.name), counter);
    assert.equal(instances, 1);
  });

  it('keeps one registry per app', () => {
    const a = newApp();
    const b = newApp();
    a.task(function only() {
      return 1;
    }, { name: 'x.only' });
    assert.ok(a.tasks.has('x.only'));
    assert.ok(!b.tasks.has('x.only'));
  });
});
