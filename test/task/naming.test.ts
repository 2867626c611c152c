import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlreadyRegistered, Celeriac, ImproperlyConfigured, silentLogger, Task } from '../../src/index.js';
import { defineTasks as defineA } from '../fixtures/naming/moduleA/tasks.js';
import { defineTasks as defineB } from '../fixtures/naming/moduleB/tasks.js';
import { defineTasks as defineReports } from '../fixtures/naming/reports/index.js';

const fixtures = new URL('../fixtures/naming/', import.meta.url);

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

  it("names tasks by their module's dotted path relative to the app's root: no collision across folders", async () => {
    const app = newApp({ root: fixtures });
    const a = defineA(app);
    const b = defineB(app);
    assert.equal(a.name, 'moduleA.tasks.taskA');
    assert.equal(b.name, 'moduleB.tasks.taskA');
    assert.equal(defineReports(app).name, 'reports.weekly', 'an index module is named after its folder');
    assert.equal(app.tasks.get('moduleA.tasks.taskA'), a);
    assert.deepEqual([await a.call(), await b.call()], ['A', 'B']);
  });

  it('defaults the root to the folder of the module that created the app', () => {
    const app = newApp();
    assert.equal(app.root, new URL('.', import.meta.url).pathname.replace(/\/$/, ''));
    assert.equal(defineA(app).name, 'fixtures.naming.moduleA.tasks.taskA', "'..' segments are dropped");
    assert.equal(newApp({ root: '/elsewhere' }).root, '/elsewhere');
  });

  it('gives genTaskName the dotted module path', () => {
    const seen: Array<[string, string | null]> = [];
    const app = newApp({
      root: fixtures,
      genTaskName: (name: string, module: string | null) => {
        seen.push([name, module]);
        return `proj.${module}.${name}`;
      },
    });
    assert.equal(defineB(app).name, 'proj.moduleB.tasks.taskA');
    assert.deepEqual(seen, [['taskA', 'moduleB.tasks']]);
  });

  it('refuses a different task under a name already taken, and accepts the same one again', () => {
    const app = newApp();
    function add(x: number, y: number): number {
      return x + y;
    }
    const first = app.task(add, { name: 'tasks.add' });
    assert.equal(app.task(add, { name: 'tasks.add' }), first, 'the same function again is the same task');
    assert.equal(app.registerTask(first), first);
    assert.throws(
      () => app.task(function add(x: number) {
        return x;
      }, { name: 'tasks.add' }),
      (err: unknown) => err instanceof AlreadyRegistered && /a different task is already registered as 'tasks\.add'/.test(err.message),
    );
    assert.equal(app.tasks.get('tasks.add'), first, 'the first stays');
    class Job extends Task {
      override name = 'tasks.job';
    }
    const job = app.registerTask(Job);
    assert.equal(app.registerTask(Job), job, 'the same class again is the same task');
    assert.throws(() => app.registerTask(new (class Other extends Task {
      override name = 'tasks.job';
    })()), AlreadyRegistered);
    app.tasks.unregister('tasks.job');
    assert.ok(app.registerTask(new Job()) !== job, 'unregister first to replace');
  });
});
