import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Task, TransportMessage } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';

// The Redis envelope captured from Python Celery 5.2.6 (shared/reference/celery-wire.md, §1), with
// the body of `chain(add.s(1, 2), add.s(10))`.
const body = [
  [1, 2],
  {},
  {
    callbacks: null,
    errbacks: null,
    chain: [
      {
        task: 'tasks.add',
        args: [10],
        kwargs: {},
        options: { task_id: '559b4eee-84cf-40a6-aeda-60e215cebbf3', reply_to: 'ad1dfb99-4633-33ed-a20d-f312f07b5e4d' },
        subtask_type: null,
        immutable: false,
      },
    ],
    chord: null,
  },
];
const envelope = {
  body: Buffer.from(JSON.stringify(body)).toString('base64'),
  'content-encoding': 'utf-8',
  'content-type': 'application/json',
  headers: {
    lang: 'py', task: 'tasks.add', id: 'ce45dd33-f920-49bc-8182-c159ac78d4fe', shadow: null, eta: null, expires: null,
    group: null, group_index: null, retries: 0, timelimit: [null, null], root_id: 'ce45dd33-f920-49bc-8182-c159ac78d4fe',
    parent_id: null, argsrepr: '(1, 2)', kwargsrepr: '{}', origin: 'gen6994@vm', ignore_result: false,
  },
  properties: {
    correlation_id: 'ce45dd33-f920-49bc-8182-c159ac78d4fe', reply_to: 'ad1dfb99-4633-33ed-a20d-f312f07b5e4d',
    delivery_mode: 2, delivery_info: { exchange: '', routing_key: 'celery' }, priority: 0, body_encoding: 'base64',
    delivery_tag: '6f148b39-dafd-483a-a38e-9eeed5dfb01a',
  },
};

describe('a message captured from Python Celery', () => {
  it('runs, including the chain step it embeds, and records results as Celery does', async () => {
    const { app } = testApp();
    app.task(function add(x: number, y: number) {
      return x + y;
    }, { name: 'tasks.add' });
    const message: TransportMessage = {
      body: Buffer.from(envelope.body, 'base64'),
      contentType: envelope['content-type'],
      contentEncoding: envelope['content-encoding'],
      headers: envelope.headers,
      properties: envelope.properties,
    };
    await withWorker(app, async () => {
      await (await app.getTransport()).publish(message, { exchange: '', routingKey: 'celery' });
      const last = app.asyncResult('559b4eee-84cf-40a6-aeda-60e215cebbf3');
      assert.equal(await last.get({ timeout: 5 }), 13);
      const first = await app.asyncResult('ce45dd33-f920-49bc-8182-c159ac78d4fe').meta();
      // Same record layout as the Python worker stored for this message (§2).
      assert.deepEqual(Object.keys(first), ['status', 'result', 'traceback', 'children', 'date_done', 'task_id']);
      assert.equal(first.result, 3);
      assert.deepEqual(first.children, [[['559b4eee-84cf-40a6-aeda-60e215cebbf3', null], null]]);
      assert.match(first.date_done ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
      const second = await last.meta();
      assert.deepEqual(Object.keys(second), ['status', 'result', 'traceback', 'children', 'date_done', 'parent_id', 'task_id']);
      assert.equal(second.parent_id, 'ce45dd33-f920-49bc-8182-c159ac78d4fe');
    });
  });

  it('gives the task the message properties as request.properties (Celery: apply_async(app_id=...))', async () => {
    const { app } = testApp();
    app.task(function props(self: Task) {
      return self.request.properties['app_id'] ?? null;
    }, { name: 'tasks.props', bind: true });
    const id = 'a7c6a3f5-3b55-4a57-9d1b-2f0b8b7c4a11';
    const message: TransportMessage = {
      body: Buffer.from(JSON.stringify([[], {}, { callbacks: null, errbacks: null, chain: null, chord: null }])),
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: { ...envelope.headers, task: 'tasks.props', id, root_id: id },
      properties: { correlation_id: id, delivery_mode: 2, priority: 0, app_id: '1234' },
    };
    await withWorker(app, async () => {
      await (await app.getTransport()).publish(message, { exchange: '', routingKey: 'celery' });
      assert.equal(await app.asyncResult(id).get({ timeout: 5 }), '1234');
    });
  });
});
