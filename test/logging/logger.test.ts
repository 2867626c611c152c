import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, parseLogFormat } from '../../src/logging/logger.js';
import { Celeriac } from '../../src/index.js';

function capture(format?: 'text' | 'json'): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: 'debug', sink: (l) => lines.push(l), ...(format ? { format } : {}) }) };
}

test('warnings are spelled WARNING, as Celery prints them', () => {
  const { lines, logger } = capture();
  logger.warn('careful');
  assert.match(lines[0]!, /: WARNING\/celeriac\] careful$/);
});

test('a line that already names its task is not prefixed with the task again', () => {
  const { lines, logger } = capture();
  const log = logger.child({ task: 'tasks.add', taskId: 'abc' });
  log.info('Task tasks.add[abc] succeeded in 0.001s: 3');
  log.info('Adding 1 + 2');
  assert.match(lines[0]!, /INFO\/celeriac\] Task tasks\.add\[abc\] succeeded/);
  assert.equal(lines[0]!.split('tasks.add[abc]').length, 2, 'the task appears once');
  assert.match(lines[1]!, /INFO\/celeriac\] tasks\.add\[abc\]: Adding 1 \+ 2$/);
});

test('json format: one pino-shaped object per line, errors as objects', () => {
  const { lines, logger } = capture('json');
  logger.child({ component: 'worker', task: 'tasks.add', taskId: 'x' }).warn({ n: 2n ** 64n }, 'slow');
  logger.error({ err: new TypeError('boom') }, 'failed');
  assert.equal(lines.length, 2);
  const first = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(first['level'], 40);
  assert.equal(first['msg'], 'slow');
  assert.equal(first['component'], 'worker');
  assert.equal(first['task'], 'tasks.add');
  assert.equal(first['n'], '18446744073709551616');
  assert.equal(first['pid'], process.pid);
  assert.equal(typeof first['time'], 'number');
  const second = JSON.parse(lines[1]!) as { level: number; err: { type: string; message: string; stack: string } };
  assert.equal(second.level, 50);
  assert.equal(second.err.type, 'TypeError');
  assert.equal(second.err.message, 'boom');
  assert.match(second.err.stack, /TypeError: boom/);
});

test('the app logger follows the logFormat setting; bad formats are refused', () => {
  assert.equal(parseLogFormat('JSON'), 'json');
  assert.throws(() => parseLogFormat('xml'), /unknown log format 'xml'/);
  assert.throws(() => new Celeriac('t', { broker: 'memory://', backend: null, logFormat: 'xml' as 'json' }), /logFormat/);
  const app = new Celeriac('t', { broker: 'memory://', backend: null, logFormat: 'json' });
  assert.equal(app.conf.logFormat, 'json');
});
