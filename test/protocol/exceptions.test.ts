import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CeleriacError,
  ContentDisallowed,
  MaxRetriesExceededError,
  NotRegistered,
  OperationalError,
  RemoteTaskError,
  SoftTimeLimitExceeded,
  TaskError,
  TimeoutError,
} from '../../src/errors/index.js';
import { deserializeError, ErrorClassRegistry, isSerializedError, serializeError, type SerializedError } from '../../src/protocol/exceptions.js';
import { fromJson } from '../../src/protocol/json.js';

/** The FAILURE result Python Celery stored for `raise ValueError('boom 1')` (celery-wire.md §2). */
const PYTHON_FAILURE = fromJson(
  '{"status": "FAILURE", "result": {"exc_type": "ValueError", "exc_message": ["boom 1"], "exc_module": "builtins"}, ' +
    '"traceback": "Traceback (most recent call last):\\n ... ValueError: boom 1\\n", "children": [], ' +
    '"date_done": "2026-11-24T01:39:35.959474", "task_id": "5161063c-0000-0000-0000-000000000000"}',
) as { result: unknown; traceback: string };

describe('deserializeError: errors stored by Python workers', () => {
  it('rebuilds the Python ValueError sample as a RemoteTaskError named ValueError', () => {
    assert.ok(isSerializedError(PYTHON_FAILURE.result));
    const err = deserializeError(PYTHON_FAILURE.result, PYTHON_FAILURE.traceback);
    assert.ok(err instanceof RemoteTaskError);
    assert.ok(err instanceof TaskError);
    assert.ok(err instanceof CeleriacError);
    assert.equal(err.name, 'ValueError');
    assert.equal(err.message, 'boom 1');
    assert.equal(err.excType, 'ValueError');
    assert.equal(err.excModule, 'builtins');
    assert.deepEqual(err.excArgs, ['boom 1']);
    assert.equal(err.remoteTraceback, PYTHON_FAILURE.traceback);
    assert.equal(err.code, 'REMOTE_TASK_ERROR');
    assert.match(String(err), /^ValueError: boom 1$/);
  });

  it('serializes a RemoteTaskError back to exactly what was stored', () => {
    const stored = PYTHON_FAILURE.result as SerializedError;
    assert.deepEqual(serializeError(deserializeError(stored)), stored);
    const custom: SerializedError = { exc_type: 'PaymentDeclined', exc_message: ['card', 402], exc_module: 'shop.errors' };
    const err = deserializeError(custom);
    assert.ok(err instanceof RemoteTaskError);
    assert.equal(err.message, 'card, 402');
    assert.deepEqual(serializeError(err), custom);
  });

  it('rebuilds Celery\'s own exceptions from their Python modules as celeriac classes', () => {
    const mre = deserializeError({
      exc_type: 'MaxRetriesExceededError', exc_message: ["Can't retry tasks.add[1] args:(1, 2) kwargs:{}"],
      exc_module: 'celery.exceptions',
    });
    assert.ok(mre instanceof MaxRetriesExceededError);
    assert.equal(mre.message, "Can't retry tasks.add[1] args:(1, 2) kwargs:{}");
    // Python's SoftTimeLimitExceeded lives in billiard.exceptions.
    const soft = deserializeError({ exc_type: 'SoftTimeLimitExceeded', exc_message: [], exc_module: 'billiard.exceptions' });
    assert.ok(soft instanceof SoftTimeLimitExceeded);
    assert.equal(soft.message, '');
    // celery.exceptions.OperationalError is kombu's.
    assert.ok(deserializeError({ exc_type: 'OperationalError', exc_message: ['x'], exc_module: 'kombu.exceptions' }) instanceof OperationalError);
  });

  it('does not mistake same-named errors from other modules for celeriac\'s', () => {
    // Python's builtin TimeoutError (a socket timeout in a task) is not AsyncResult.get()'s timeout.
    const timeout = deserializeError({ exc_type: 'TimeoutError', exc_message: ['timed out'], exc_module: 'builtins' });
    assert.ok(!(timeout instanceof TimeoutError));
    assert.ok(timeout instanceof RemoteTaskError);
    assert.equal(timeout.name, 'TimeoutError');
    assert.equal(timeout.message, 'timed out');
    // A database error is not a broker/backend failure.
    const db = deserializeError({ exc_type: 'OperationalError', exc_message: ['database is locked'], exc_module: 'sqlite3' });
    assert.ok(!(db instanceof OperationalError));
    assert.ok(db instanceof RemoteTaskError);
    assert.equal(db.excModule, 'sqlite3');
    // ...while celery.exceptions.TimeoutError is ours.
    assert.ok(deserializeError({ exc_type: 'TimeoutError', exc_message: ['x'], exc_module: 'celery.exceptions' }) instanceof TimeoutError);
  });

  it('rebuilds JS built-ins by name from builtins/celeriac, and attaches the remote traceback', () => {
    const err = deserializeError({ exc_type: 'TypeError', exc_message: ["unsupported operand type(s) for +: 'int' and 'str'"], exc_module: 'builtins' }, 'Traceback...\nTypeError: ...');
    assert.ok(err instanceof TypeError);
    assert.equal(err.message, "unsupported operand type(s) for +: 'int' and 'str'");
    assert.match(err.stack ?? '', /\[remote traceback\]\nTraceback\.\.\./);
    // The same name from another module is not the built-in.
    assert.ok(!(deserializeError({ exc_type: 'TypeError', exc_message: ['x'], exc_module: 'mylib' }) instanceof TypeError));
  });

  it('copes with exc_message that is not a list, or is empty', () => {
    const one = deserializeError({ exc_type: 'KeyError', exc_message: 'missing' as unknown as unknown[], exc_module: 'builtins' });
    assert.ok(one instanceof RemoteTaskError);
    assert.equal(one.message, 'missing');
    assert.deepEqual(one.excArgs, ['missing']);
    assert.equal(deserializeError({ exc_type: 'KeyError', exc_message: [], exc_module: 'builtins' }).message, '');
  });
});

describe('serializeError: what celeriac stores for Python clients', () => {
  it('stores a JS TypeError under builtins, and it round-trips as TypeError', () => {
    const s = serializeError(new TypeError('x is not a function'));
    assert.deepEqual(s, { exc_type: 'TypeError', exc_message: ['x is not a function'], exc_module: 'builtins' });
    const back = deserializeError(s);
    assert.ok(back instanceof TypeError);
    assert.equal(back.message, 'x is not a function');
  });

  it('stores JS-only errors under celeriac, and they round-trip', () => {
    const s = serializeError(new RangeError('too big'));
    assert.deepEqual(s, { exc_type: 'RangeError', exc_message: ['too big'], exc_module: 'celeriac' });
    assert.ok(deserializeError(s) instanceof RangeError);
    const plain = serializeError(new Error('plain'));
    assert.deepEqual(plain, { exc_type: 'Error', exc_message: ['plain'], exc_module: 'celeriac' });
  });

  it('maps celeriac\'s Celery-named errors to celery.exceptions and back to the class', () => {
    const s = serializeError(new MaxRetriesExceededError("Can't retry tasks.add[1]"));
    assert.deepEqual(s, { exc_type: 'MaxRetriesExceededError', exc_message: ["Can't retry tasks.add[1]"], exc_module: 'celery.exceptions' });
    const back = deserializeError(s);
    assert.ok(back instanceof MaxRetriesExceededError);
    assert.equal(back.message, "Can't retry tasks.add[1]");
    assert.equal(serializeError(new TimeoutError('waited')).exc_module, 'celery.exceptions');
  });

  it('keeps NotRegistered\'s argument (the task name) as Celery does', () => {
    const s = serializeError(new NotRegistered('tasks.missing'));
    assert.deepEqual(s, { exc_type: 'NotRegistered', exc_message: ['tasks.missing'], exc_module: 'celery.exceptions' });
    const back = deserializeError(s);
    assert.ok(back instanceof NotRegistered);
    assert.equal(back.message, "Task of kind 'tasks.missing' is not registered");
  });

  it('stores celeriac-only errors under celeriac and rebuilds them', () => {
    const s = serializeError(new ContentDisallowed('nope'));
    assert.deepEqual(s, { exc_type: 'ContentDisallowed', exc_message: ['nope'], exc_module: 'celeriac' });
    assert.ok(deserializeError(s) instanceof ContentDisallowed);
  });

  it('does not tag a JS error that only shares a Celery name as celery.exceptions', () => {
    // AbortSignal.timeout() rejects with a DOMException named TimeoutError: Python's closest is builtins.TimeoutError.
    const domTimeout = new DOMException('The operation timed out', 'TimeoutError');
    assert.equal(serializeError(domTimeout).exc_module, 'builtins');
    class OperationalErrorLike extends Error {
      override name = 'OperationalError';
    }
    assert.equal(serializeError(new OperationalErrorLike('db down')).exc_module, 'celeriac');
  });

  it('honours excModule/excArgs set on an error, and turns non-errors into Error', () => {
    const err = Object.assign(new Error('bad'), { name: 'ValidationError', excModule: 'myapp.errors', excArgs: ['field', 3] });
    assert.deepEqual(serializeError(err), { exc_type: 'ValidationError', exc_message: ['field', 3], exc_module: 'myapp.errors' });
    assert.deepEqual(serializeError('just a string'), { exc_type: 'Error', exc_message: ['just a string'], exc_module: 'celeriac' });
    assert.deepEqual(serializeError(42), { exc_type: 'Error', exc_message: ['42'], exc_module: 'celeriac' });
  });

  it('recognises serialized errors', () => {
    assert.equal(isSerializedError({ exc_type: 'X', exc_message: [], exc_module: null }), true);
    assert.equal(isSerializedError({ current: 1, total: 2 }), false);
    assert.equal(isSerializedError(null), false);
    assert.equal(isSerializedError('ValueError'), false);
  });
});

describe('custom error fields and known classes', () => {
  class HttpError extends Error {
    override name = 'HttpError';
    constructor(
      message: string,
      readonly statusCode: number,
      readonly headers: Record<string, string> = {},
    ) {
      super(message);
    }
    describe(): string {
      return `${this.statusCode} ${this.message}`;
    }
  }

  it('stores the fields JSON can carry in exc_fields, next to the three keys Celery reads', () => {
    const err = Object.assign(new HttpError('not found', 404, { 'retry-after': '5' }), { big: 2n ** 64n, onRetry: () => 1, when: undefined });
    assert.deepEqual(serializeError(err), {
      exc_type: 'HttpError',
      exc_message: ['not found'],
      exc_module: 'celeriac',
      exc_fields: { statusCode: 404, headers: { 'retry-after': '5' }, big: 2n ** 64n },
    });
    assert.equal('exc_fields' in serializeError(new Error('plain')), false, 'an error without fields is stored exactly as before');
  });

  it('rebuilds a known class with instanceof, its name, message, fields and methods', () => {
    const classes = new ErrorClassRegistry();
    classes.register(HttpError);
    const stored = serializeError(new HttpError('not found', 404));
    const back = deserializeError(stored, 'Traceback...', classes);
    assert.ok(back instanceof HttpError);
    assert.ok(back instanceof Error);
    assert.equal(back.name, 'HttpError');
    assert.equal(back.message, 'not found');
    assert.equal(back.statusCode, 404);
    assert.equal(back.describe(), '404 not found');
    assert.match(back.stack ?? '', /^HttpError: not found\n\[remote traceback\]/);
    assert.deepEqual(serializeError(back), stored, 'and is stored again the same way');
  });

  it('sets the fields on a RemoteTaskError when the class is unknown, and keeps them onward', () => {
    const back = deserializeError({ exc_type: 'HttpError', exc_message: ['gone'], exc_module: 'celeriac', exc_fields: { statusCode: 410, code: 'E_GONE' } });
    assert.ok(back instanceof RemoteTaskError);
    assert.equal((back as unknown as { statusCode: number }).statusCode, 410);
    assert.equal(back.code, 'REMOTE_TASK_ERROR', 'its own members are not overwritten');
    assert.deepEqual(back.excFields, { statusCode: 410, code: 'E_GONE' });
    assert.deepEqual(serializeError(back).exc_fields, { statusCode: 410, code: 'E_GONE' });
  });

  it('never lets a stored field reach the prototype or replace name and message', () => {
    const classes = new ErrorClassRegistry();
    classes.register(HttpError);
    const stored = fromJson('{"exc_type": "HttpError", "exc_message": ["x"], "exc_module": "celeriac", "exc_fields": {"__proto__": {"polluted": 1}, "name": "Other", "message": "changed", "statusCode": 500}}') as SerializedError;
    const back = deserializeError(stored, null, classes);
    assert.ok(back instanceof HttpError);
    assert.equal(back.name, 'HttpError');
    assert.equal(back.message, 'x');
    assert.equal((back as unknown as { polluted?: number }).polluted, undefined);
    assert.equal(({} as { polluted?: number }).polluted, undefined);
  });

  it('matches a class registered for a module only to errors from that module', () => {
    class PaymentDeclined extends Error {}
    const classes = new ErrorClassRegistry();
    classes.register(PaymentDeclined, { module: 'shop.errors' });
    assert.ok(deserializeError({ exc_type: 'PaymentDeclined', exc_message: ['card'], exc_module: 'shop.errors' }, null, classes) instanceof PaymentDeclined);
    assert.ok(deserializeError({ exc_type: 'PaymentDeclined', exc_message: ['card'], exc_module: 'other' }, null, classes) instanceof RemoteTaskError);
  });
});

