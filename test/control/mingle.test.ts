/**
 * Revoked ids as Celery's workers exchange them (a mapping of id to a float timestamp), mingle
 * between celeriac workers, and the duplicate node name warning at startup.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Celeriac, Worker } from '../../src/index.js';
import { RevokedSet } from '../../src/control/revoked.js';
import { duplicateNodes } from '../../src/control/client.js';
import { COMMANDS, type ControlContext } from '../../src/control/commands.js';
import { captureLog, testApp } from '../helpers/app.js';
import { serviceSkip } from '../helpers/services.js';

describe('the revoked set', () => {
  it('merges Celery’s mapping of id to timestamp (and plain lists), and sends floats back', () => {
    let now = 1_000_000;
    const set = new RevokedSet(100, 3600, () => now);
    assert.equal(set.update({ 'py-1': 999_999.25, 'py-2': [999_998.5, 'py-2'], bad: 'x' }), 2);
    assert.equal(set.toMapping()['py-1'], 999_999.25);
    assert.equal(set.update(['js-1', 'py-1']), 1);
    assert.deepEqual([...set].sort(), ['js-1', 'py-1', 'py-2']);
    const mapping = set.toMapping();
    // Celery refuses an integer timestamp: every time crosses JSON with a fractional part.
    assert.ok(Object.values(mapping).every((t) => !Number.isInteger(t)), JSON.stringify(mapping));
    assert.ok(!JSON.stringify(mapping).includes('[object Object]'));
    now += 3600 + 1;
    set.add('fresh');
    assert.deepEqual(Object.keys(set.toMapping()), ['fresh'], 'expired ids are dropped');
  });

  it('takes a Python worker’s monotonic timestamps (seconds since boot) as the time it learned them', () => {
    const now = 1_800_000_000.5;
    const set = new RevokedSet(100, 3600, () => now);
    // Celery 5.2's LimitedSet._data: id -> [time.monotonic(), id].
    assert.equal(set.update({ 'py-1': [5123.25, 'py-1'] }), 1);
    assert.deepEqual(set.toMapping(), { 'py-1': now });
  });

  it('keeps at most its size limit, dropping the oldest', () => {
    const set = new RevokedSet(3);
    for (const id of ['a', 'b', 'c', 'd']) set.add(id);
    assert.deepEqual([...set], ['b', 'c', 'd']);
  });

  it('answers hello with the mapping and learns a Python worker’s ids', () => {
    const { app } = testApp();
    const worker = new Worker(app, { hostname: 'me@test', logger: captureLog().logger });
    const ctx: ControlContext = { worker, clock: () => 1, saveRevoked: () => undefined };
    const now = Math.floor(Date.now() / 1000);
    app.revoked.add('mine', now);
    const reply = COMMANDS['hello']!(ctx, { from_node: 'py@test', revoked: { 'from-python': now + 0.5 } }) as { revoked: Record<string, number> };
    assert.ok(app.revoked.has('from-python'));
    assert.deepEqual(Object.keys(reply.revoked).sort(), ['from-python', 'mine']);
    assert.equal(reply.revoked['from-python'], now + 0.5);
    assert.ok(!Number.isInteger(reply.revoked['mine']), 'sent as a float');
    assert.deepEqual(COMMANDS['revoked']!(ctx, {}), ['mine', 'from-python'], '`inspect revoked` lists ids, as Celery does');
  });

  it('finds node names that answered twice', () => {
    assert.deepEqual(duplicateNodes([{ a: 1 }, { b: 1 }, { a: 2 }]), ['a']);
    assert.deepEqual(duplicateNodes([{ a: 1 }, { b: 1 }]), []);
  });
});

describe('mingle on Redis', async () => {
  const skip = await serviceSkip('redis');
  const url = 'redis://127.0.0.1:6379/12';
  const app = (name: string): Celeriac => new Celeriac(name, { broker: url, backend: 'memory://', logger: captureLog().logger });

  it('a worker learns the ids revoked before it started, and warns when its node name is taken', { skip, timeout: 30_000 }, async () => {
    const name = `dup-${process.pid}-${Date.now()}@test`;
    const queue = `mingle-${process.pid}-${Date.now()}`;
    const first = app('first');
    const second = app('second');
    const log1 = captureLog();
    const w1 = new Worker(first, { hostname: name, queues: [queue], logger: log1.logger });
    const log2 = captureLog();
    const w2 = new Worker(second, { hostname: name, queues: [queue], logger: log2.logger });
    const log3 = captureLog();
    const third = app('third');
    const w3 = new Worker(third, { hostname: `other-${name}`, queues: [queue], logger: log3.logger });
    try {
      await w1.start();
      assert.equal(log1.grep('DuplicateNodenameWarning').length, 0, 'its own answer is not a duplicate');
      const id = `revoked-before-${process.pid}-${Date.now()}`;
      await first.control.revoke(id, { destination: [name] });
      await w2.start();
      assert.equal(log2.grep('DuplicateNodenameWarning').length, 1, log2.lines.join('\n'));
      assert.match(log2.grep('DuplicateNodenameWarning')[0]!, new RegExp(name));
      await w3.start();
      assert.ok(third.revoked.has(id), 'learned through mingle');
      // As Celery's flatten_reply: two answers under one name, seen by any worker mingling.
      assert.match(log3.grep('DuplicateNodenameWarning')[0] ?? '', new RegExp(name));
    } finally {
      for (const w of [w3, w2, w1]) await w.stop();
      for (const a of [third, second, first]) await a.close();
    }
  });
});

describe('duplicate node names where two workers of one name share one pidbox queue', async () => {
  const brokers: Array<[string, () => string, string | false]> = [
    ['RabbitMQ', () => 'amqp://guest:guest@127.0.0.1:5672//', await serviceSkip('rabbitmq')],
    ['SQLite', () => `sqlite:///${join(mkdtempSync(join(tmpdir(), 'celeriac-dup-')), 'q.db')}`, false],
  ];
  for (const [broker, makeUrl, skip] of brokers) for (let round = 0; round < 3; round++) {
    it(`${broker}: the newcomer warns, whichever of the two gets its broadcasts (round ${round + 1})`, { skip, timeout: 30_000 }, async () => {
      const url = makeUrl();
      const name = `dup-${process.pid}-${Date.now()}@test`;
      const apps = [0, 1].map((i) => new Celeriac(`amqp-dup-${i}`, { broker: url, backend: 'memory://', logger: captureLog().logger }));
      const logs = [captureLog(), captureLog()];
      const workers = apps.map((a, i) => new Worker(a, { hostname: name, queues: [`${name}-q`], logger: logs[i]!.logger }));
      try {
        await workers[0]!.start();
        await workers[1]!.start();
        // Mingle ends before start() resolves: the warning is there already.
        assert.ok(logs[1]!.grep('DuplicateNodenameWarning').some((line) => line.includes(name)), `the newcomer warns:\n${logs[1]!.lines.join('\n')}`);
      } finally {
        for (const w of workers.reverse()) await w.stop();
        for (const a of apps) await a.close();
      }
    });
  }
});
