/**
 * celeriac against real Python Celery, without a broker: Python publishes onto kombu's in-process
 * memory transport and the test reads the envelopes back; in the other direction the test hands
 * celeriac's envelopes to Python, which takes them off the memory transport with kombu and runs
 * them through Celery's worker `Request` (the code a Python worker runs for each message).
 *
 * Needs `/usr/bin/python3` able to `import celery` (Debian: `apt-get install python3-celery`).
 * Skipped otherwise, unless CELERIAC_REQUIRE_SERVICES=1, which turns the absence into a failure.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { before, describe, it } from 'node:test';
import {
  MaxRetriesExceededError,
  NotRegistered,
  RemoteTaskError,
  SoftTimeLimitExceeded,
  TimeoutError,
} from '../../src/errors/index.js';
import { deserializeError, serializeError, type SerializedError } from '../../src/protocol/exceptions.js';
import { decodeTaskMessage, encodeTaskMessage, type SignatureDict, type TaskMessageFields, type TransportMessage } from '../../src/protocol/message.js';
import { argsRepr, kwargsRepr } from '../../src/protocol/repr.js';
import { CompressionRegistry } from '../../src/protocol/compression.js';
import { SerializerRegistry } from '../../src/protocol/serializers.js';

const PYTHON = '/usr/bin/python3';
const TIMEOUT_MS = 60_000;

/** Why Python Celery cannot be used here, or null when it can. */
function pythonCeleryProblem(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import celery, kombu'], { encoding: 'utf8', timeout: TIMEOUT_MS });
  if (r.error) return `${PYTHON} cannot be run: ${r.error.message}`;
  if (r.status !== 0) return `${PYTHON} cannot import celery: ${r.stderr.trim().split('\n').pop() ?? `exit ${String(r.status)}`}`;
  return null;
}

const problem = pythonCeleryProblem();
const required = process.env['CELERIAC_REQUIRE_SERVICES'] === '1';
const skip =
  problem !== null && !required
    ? `Python Celery unavailable (${problem}); install python3-celery, or set CELERIAC_REQUIRE_SERVICES=1 to fail instead`
    : false;

/** The Python side: `publish` captures what Celery sends; `consume` runs celeriac's messages. */
const SCRIPT = String.raw`
import json, sys
from datetime import datetime, timedelta, timezone
from queue import Empty

from celery import Celery, chain
from celery.exceptions import MaxRetriesExceededError, SoftTimeLimitExceeded
from celery.utils.saferepr import saferepr
from celery.worker.request import Request
from kombu import Queue
from kombu.utils.json import dumps

app = Celery('tasks', broker='memory://')
app.conf.accept_content = ['json']


@app.task(name='tasks.add')
def add(x, y):
    return x + y


@app.task(name='tasks.echo')
def echo(*args, **kwargs):
    return [list(args), kwargs]


def drain(channel):
    out = []
    while True:
        try:
            out.append(channel._get('celery'))
        except Empty:
            return out


def publish(req):
    ids = req['ids']
    eta = datetime(2026, 11, 24, 1, 47, 28, 94000, tzinfo=timezone.utc)
    add.apply_async((1, 2), task_id=ids['plain'])
    chain(add.s(1, 2).set(task_id=ids['chain']), add.s(10).set(task_id=ids['step'])).apply_async()
    add.apply_async((2, 3), task_id=ids['eta'], priority=5, eta=eta, expires=eta + timedelta(hours=1))
    add.apply_async((2, 3), task_id=ids['zlib'], compression='zlib')
    echo.apply_async(tuple(req['args']), req['kwargs'], task_id=ids['echo'], time_limit=60, soft_time_limit=30,
                     shadow='alias', ignore_result=True)
    with app.connection() as conn:
        envelopes = drain(conn.default_channel)
    v1 = app.amqp.as_task_v1(ids['v1'], 'tasks.add', args=(4, 5), kwargs={'z': 1}, eta=eta, retries=2,
                              group_id='g1', time_limit=60, soft_time_limit=50, reply_to='r1')
    reprs = [saferepr(tuple(v) if kind == 'args' else v, size) for kind, v, size in req['repr_cases']]
    errors = [app.backend.prepare_exception(e) for e in (
        ValueError('boom 1'), TimeoutError('timed out'), MaxRetriesExceededError('no more'), SoftTimeLimitExceeded())]
    return {'envelopes': envelopes, 'v1': {'headers': v1.headers, 'properties': v1.properties, 'body': dumps(v1.body)},
            'reprs': reprs, 'errors': errors}


def consume(req):
    done = []
    with app.connection() as conn:
        channel = conn.default_channel
        for envelope in req['messages']:
            channel._put('celery', envelope)
        queue = Queue('celery')(channel)
        for _ in req['messages']:
            message = queue.get(no_ack=False)
            request = Request(message, app=app, hostname='py@interop')
            retval = request.execute()
            done.append({
                'id': request.id, 'name': request.name, 'type': request.type, 'args': list(request.args),
                'kwargs': request.kwargs, 'eta': request.eta and request.eta.isoformat(),
                'expires': request.expires and request.expires.isoformat(),
                'argsrepr': request.argsrepr, 'kwargsrepr': request.kwargsrepr, 'root_id': request.root_id,
                'parent_id': request.parent_id, 'reply_to': request.reply_to,
                'correlation_id': request.correlation_id, 'priority': request.delivery_info['priority'],
                'time_limits': list(request.time_limits), 'ignore_result': request.ignore_result,
                'retval': retval,
            })
        published = drain(channel)
    errors = []
    for stored in req['errors']:
        exc = app.backend.exception_to_python(stored)
        errors.append([type(exc).__module__, type(exc).__name__, list(exc.args)])
    return {'done': done, 'published': published, 'errors': errors}


mode = sys.argv[1]
result = (publish if mode == 'publish' else consume)(json.load(sys.stdin))
sys.stdout.write(dumps(result))
`;

function runPython(mode: 'publish' | 'consume', input: unknown): unknown {
  const r = spawnSync(PYTHON, ['-c', SCRIPT, mode], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (r.error) throw new Error(`running ${PYTHON} (${mode}) failed: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${PYTHON} (${mode}) exited with ${String(r.status)}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}

/** A kombu virtual-transport envelope, as on the memory and Redis transports. */
interface Envelope {
  body: string;
  'content-encoding': string;
  'content-type': string;
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
}

interface Published {
  envelopes: Envelope[];
  v1: { headers: Record<string, unknown>; properties: Record<string, unknown>; body: string };
  reprs: string[];
  errors: SerializedError[];
}

interface Consumed {
  done: Array<Record<string, unknown>>;
  published: Envelope[];
  errors: Array<[string, string, unknown[]]>;
}

const codecs = { serializers: new SerializerRegistry(), compression: new CompressionRegistry(), accept: ['json'] };

function toTransport(env: Envelope): TransportMessage {
  assert.equal(env.properties['body_encoding'], 'base64');
  return {
    body: Buffer.from(env.body, 'base64'),
    contentType: env['content-type'],
    contentEncoding: env['content-encoding'],
    headers: env.headers,
    properties: env.properties,
  };
}

function toEnvelope(m: TransportMessage): Envelope {
  return {
    body: m.body.toString('base64'),
    'content-encoding': m.contentEncoding,
    'content-type': m.contentType,
    headers: m.headers,
    properties: {
      ...m.properties,
      delivery_info: { exchange: '', routing_key: 'celery' },
      body_encoding: 'base64',
      delivery_tag: randomUUID(),
    },
  };
}

/** Celery's own properties of an envelope (without what the virtual transport adds). */
function celeryProperties(env: Envelope): Record<string, unknown> {
  const { delivery_info: _i, body_encoding: _e, delivery_tag: _t, ...rest } = env.properties;
  return rest;
}

function bodyOf(m: TransportMessage): unknown {
  const raw = m.headers['compression'] ? inflateSync(m.body) : m.body;
  return JSON.parse(raw.toString('utf8'));
}

const ids = {
  plain: randomUUID(), chain: randomUUID(), step: randomUUID(), eta: randomUUID(), zlib: randomUUID(),
  echo: randomUUID(), v1: randomUUID(),
};
const echoArgs: unknown[] = ["it's", 'say "hi"', [1, [2, [3, [4]]]], null, true, 1.5];
const echoKwargs: Record<string, unknown> = { name: "O'Brien", nested: { a: { b: { c: 1 } } }, none: null };
const reprCases: Array<['args' | 'kwargs', unknown, number]> = [
  ['args', [1, 2], 1024], ['args', [1], 1024], ['args', [], 1024], ['args', ["it's", 'a\nb\\'], 1024],
  ['args', [[[[[1]]]]], 1024], ['args', Array.from({ length: 500 }, (_, i) => i), 1024], ['args', ['x'.repeat(3000)], 1024],
  ['args', ['hello world foo'], 10], ['args', [[1, [2, [3]]]], 7], ['args', [1, 2], 5], ['args', ['é', 'ü😀'], 6],
  ['kwargs', {}, 1024], ['kwargs', { y: 2, name: "O'Brien" }, 1024], ['kwargs', { a: { b: { c: { d: 1 } } } }, 1024],
  ['kwargs', { abc: [1, 2, 3] }, 8], ['kwargs', { k: 'v'.repeat(2000) }, 50],
];

if (skip) {
  // One visibly skipped test (a skipped suite is not counted in the run's `# skipped` total).
  it('interop with Python Celery 5', { skip }, () => {});
}

describe('interop with Python Celery 5 (no broker: kombu memory transport)', { skip: skip !== false }, () => {
  let py: Published;
  const byId = new Map<string, Envelope>();

  before(() => {
    if (problem !== null) return;
    py = runPython('publish', { ids, args: echoArgs, kwargs: echoKwargs, repr_cases: reprCases }) as Published;
    for (const env of py.envelopes) byId.set(String(env.headers['id']), env);
  });

  it('has a Python that can import celery', () => {
    assert.equal(problem, null, `CELERIAC_REQUIRE_SERVICES=1 but ${String(problem)}`);
  });

  function pyEnvelope(id: string): Envelope {
    const env = byId.get(id);
    assert.ok(env, `Python published a message with id ${id}`);
    return env;
  }

  /** celeriac's message for the same call, with Python's origin and reply_to. */
  function ours(env: Envelope, fields: Partial<TaskMessageFields>): TransportMessage {
    return encodeTaskMessage(
      {
        task: String(env.headers['task']),
        id: String(env.headers['id']),
        args: [],
        kwargs: {},
        origin: String(env.headers['origin']),
        replyTo: String(env.properties['reply_to']),
        serializer: 'json',
        ...fields,
      },
      codecs,
    );
  }

  /**
   * Same headers (keys, order, values, lang aside), properties and body. `ignoredProperties` are
   * left out of the property comparison: Celery's send_task adds `expiration` (the TTL to
   * `expires` in ms, counted from the moment of sending), which is not part of the message
   * layout encodeTaskMessage builds.
   */
  function assertSameMessage(env: Envelope, mine: TransportMessage, ignoredProperties: readonly string[] = []): void {
    assert.deepEqual(Object.keys(mine.headers), Object.keys(env.headers), 'header keys and order');
    assert.deepEqual({ ...mine.headers, lang: 'py' }, env.headers, 'header values (lang aside)');
    assert.equal(mine.headers['lang'], 'js');
    const theirs = Object.fromEntries(Object.entries(celeryProperties(env)).filter(([k]) => !ignoredProperties.includes(k)));
    assert.deepEqual(Object.keys(mine.properties), Object.keys(theirs), 'property keys and order');
    assert.deepEqual(mine.properties, theirs, 'property values');
    assert.equal(mine.contentType, env['content-type']);
    assert.equal(mine.contentEncoding, env['content-encoding']);
    assert.deepEqual(bodyOf(mine), bodyOf(toTransport(env)), 'body structure');
  }

  it('writes the same message as Celery for add.apply_async((1, 2))', () => {
    const env = pyEnvelope(ids.plain);
    assertSameMessage(env, ours(env, { args: [1, 2] }));
  });

  it('writes the same message as Celery for a chain (embed.chain with the next step)', () => {
    const env = pyEnvelope(ids.chain);
    const pyBody = bodyOf(toTransport(env)) as [unknown, unknown, { chain: SignatureDict[] }];
    const step = pyBody[2].chain[0];
    assert.ok(step);
    assert.equal(step.options['task_id'], ids.step);
    assertSameMessage(env, ours(env, { args: [1, 2], chain: pyBody[2].chain }));
  });

  it('writes the same message as Celery with priority, eta and expires', () => {
    const env = pyEnvelope(ids.eta);
    const eta = new Date(Date.UTC(2026, 10, 24, 1, 47, 28, 94));
    assert.equal(env.headers['eta'], '2026-11-24T01:47:28.094000+00:00');
    assert.match(String(env.properties['expiration']), /^\d+$/, 'Celery sends expires as an AMQP expiration in ms');
    assertSameMessage(
      env,
      ours(env, { args: [2, 3], eta, expires: new Date(eta.getTime() + 3_600_000), priority: 5 }),
      ['expiration'],
    );
  });

  it('writes the same message as Celery with zlib compression', () => {
    const env = pyEnvelope(ids.zlib);
    assert.equal(env.headers['compression'], 'application/x-gzip');
    assertSameMessage(env, ours(env, { args: [2, 3], compression: 'zlib' }));
  });

  it('writes the same headers as Celery for awkward arguments, time limits, shadow and ignore_result', () => {
    const env = pyEnvelope(ids.echo);
    assertSameMessage(
      env,
      ours(env, { args: echoArgs, kwargs: echoKwargs, timelimit: [60, 30], shadow: 'alias', ignoreResult: true }),
    );
  });

  it('computes argsrepr/kwargsrepr exactly as Celery\'s saferepr', () => {
    const mine = reprCases.map(([kind, value, size]) =>
      kind === 'args' ? argsRepr(value as unknown[], size) : kwargsRepr(value as Record<string, unknown>, size),
    );
    assert.deepEqual(mine, py.reprs);
  });

  it('decodes every message Python published', () => {
    const plain = decodeTaskMessage(toTransport(pyEnvelope(ids.plain)), codecs);
    assert.equal(plain.task, 'tasks.add');
    assert.equal(plain.id, ids.plain);
    assert.deepEqual(plain.args, [1, 2]);
    assert.equal(plain.headers['root_id'], ids.plain);

    const chained = decodeTaskMessage(toTransport(pyEnvelope(ids.chain)), codecs);
    assert.deepEqual(chained.embed.chain?.map((s) => [s.task, s.args, s.options['task_id']]), [['tasks.add', [10], ids.step]]);

    const timed = decodeTaskMessage(toTransport(pyEnvelope(ids.eta)), codecs);
    assert.equal(timed.eta?.toISOString(), '2026-11-24T01:47:28.094Z');
    assert.equal(timed.expires?.toISOString(), '2026-11-24T02:47:28.094Z');
    assert.equal(timed.properties.priority, 5);

    const zipped = decodeTaskMessage(toTransport(pyEnvelope(ids.zlib)), codecs);
    assert.deepEqual(zipped.args, [2, 3]);

    const echo = decodeTaskMessage(toTransport(pyEnvelope(ids.echo)), codecs);
    assert.deepEqual(echo.args, echoArgs);
    assert.deepEqual(echo.kwargs, echoKwargs);
    assert.deepEqual(echo.timelimit, [60, 30]);
    assert.equal(echo.headers['shadow'], 'alias');
  });

  it('decodes a protocol v1 message made by Celery\'s as_task_v1', () => {
    const d = decodeTaskMessage(
      {
        body: Buffer.from(py.v1.body, 'utf8'),
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        headers: py.v1.headers,
        properties: py.v1.properties,
      },
      codecs,
    );
    assert.equal(d.protocol, 1);
    assert.equal(d.task, 'tasks.add');
    assert.equal(d.id, ids.v1);
    assert.deepEqual(d.args, [4, 5]);
    assert.deepEqual(d.kwargs, { z: 1 });
    assert.equal(d.retries, 2);
    assert.deepEqual(d.timelimit, [60, 50]);
    assert.equal(d.eta?.toISOString(), '2026-11-24T01:47:28.094Z');
    assert.equal(d.headers['group'], 'g1');
    assert.equal(d.properties.reply_to, 'r1');
  });

  it('rebuilds errors as Celery\'s backend serializes them', () => {
    const [value, timeout, maxRetries, soft] = py.errors.map((e) => deserializeError(e));
    assert.ok(value instanceof RemoteTaskError);
    assert.equal(value.name, 'ValueError');
    assert.equal(value.message, 'boom 1');
    assert.ok(timeout instanceof RemoteTaskError && !(timeout instanceof TimeoutError));
    assert.equal(timeout.name, 'TimeoutError');
    assert.ok(maxRetries instanceof MaxRetriesExceededError);
    assert.equal(maxRetries.message, 'no more');
    assert.ok(soft instanceof SoftTimeLimitExceeded);
  });

  describe('Python runs what celeriac sends', () => {
    const sent = {
      plain: randomUUID(), chain: randomUUID(), step: randomUUID(), eta: randomUUID(), zlib: randomUUID(),
      echo: randomUUID(),
    };
    const replyTo = randomUUID();
    const eta = new Date(Date.UTC(2026, 10, 24, 1, 47, 28, 94));
    const expires = new Date(Date.UTC(2099, 0, 1));
    const base = { task: 'tasks.add', kwargs: {}, origin: 'celeriac@interop', replyTo, serializer: 'json' };
    const stepSig: SignatureDict = {
      task: 'tasks.add', args: [10], kwargs: {}, options: { task_id: sent.step, reply_to: replyTo }, subtask_type: null,
      immutable: false,
    };
    let result: Consumed;
    const done = new Map<string, Record<string, unknown>>();

    before(() => {
      if (problem !== null) return;
      const messages = [
        encodeTaskMessage({ ...base, id: sent.plain, args: [1, 2] }, codecs),
        encodeTaskMessage({ ...base, id: sent.chain, args: [1, 2], chain: [stepSig] }, codecs),
        encodeTaskMessage({ ...base, id: sent.eta, args: [2, 3], eta, expires, priority: 5, retries: 1, parentId: 'p1', rootId: 'r1' }, codecs),
        encodeTaskMessage({ ...base, id: sent.zlib, args: [20, 22], compression: 'zlib' }, codecs),
        encodeTaskMessage(
          { ...base, task: 'tasks.echo', id: sent.echo, args: echoArgs, kwargs: echoKwargs, timelimit: [60, 30], ignoreResult: true },
          codecs,
        ),
      ].map(toEnvelope);
      const errors = [
        serializeError(new TypeError('x is not a function')),
        serializeError(new MaxRetriesExceededError('no more')),
        serializeError(new NotRegistered('tasks.missing')),
        serializeError(new RangeError('too big')),
        serializeError(new DOMException('timed out', 'TimeoutError')),
      ];
      result = runPython('consume', { messages, errors }) as Consumed;
      for (const r of result.done) done.set(String(r['id']), r);
    });

    function ran(id: string): Record<string, unknown> {
      const r = done.get(id);
      assert.ok(r, `Python ran ${id}`);
      return r;
    }

    it('a plain message: Request fields and the task\'s return value', () => {
      const r = ran(sent.plain);
      assert.equal(r['name'], 'tasks.add');
      assert.deepEqual(r['args'], [1, 2]);
      assert.deepEqual(r['kwargs'], {});
      assert.equal(r['retval'], 3);
      assert.equal(r['argsrepr'], '(1, 2)');
      assert.equal(r['kwargsrepr'], '{}');
      assert.equal(r['root_id'], sent.plain);
      assert.equal(r['parent_id'], null);
      assert.equal(r['reply_to'], replyTo);
      assert.equal(r['correlation_id'], sent.plain);
      assert.equal(r['priority'], 0);
      assert.equal(r['eta'], null);
    });

    it('eta, expires, priority, retries, parent and root ids', () => {
      const r = ran(sent.eta);
      assert.equal(r['retval'], 5);
      assert.equal(r['eta'], '2026-11-24T01:47:28.094000+00:00');
      assert.equal(r['expires'], '2099-01-01T00:00:00+00:00');
      assert.equal(r['priority'], 5);
      assert.equal(r['parent_id'], 'p1');
      assert.equal(r['root_id'], 'r1');
    });

    it('a zlib-compressed message', () => {
      assert.equal(ran(sent.zlib)['retval'], 42);
    });

    it('awkward arguments, time limits and ignore_result', () => {
      const r = ran(sent.echo);
      assert.deepEqual(r['retval'], [echoArgs, echoKwargs]);
      assert.deepEqual(r['time_limits'], [60, 30]);
      assert.equal(r['ignore_result'], true);
      assert.equal(r['argsrepr'], argsRepr(echoArgs));
    });

    it('the chain embed: Celery publishes the next step with our task id, parent and root', () => {
      assert.equal(ran(sent.chain)['retval'], 3);
      assert.equal(result.published.length, 1, 'exactly one follow-up message');
      const next = decodeTaskMessage(toTransport(result.published[0]!), codecs);
      assert.equal(next.task, 'tasks.add');
      assert.equal(next.id, sent.step);
      assert.deepEqual(next.args, [3, 10]);
      assert.equal(next.headers['parent_id'], sent.chain);
      assert.equal(next.headers['root_id'], sent.chain);
      // The chain is used up: Celery sends the last step with an empty chain list.
      assert.deepEqual(next.embed.chain, []);
    });

    it('errors celeriac stores come back in Python as the matching exception classes', () => {
      assert.deepEqual(result.errors, [
        ['builtins', 'TypeError', ['x is not a function']],
        ['celery.exceptions', 'MaxRetriesExceededError', ['no more']],
        ['celery.exceptions', 'NotRegistered', ['tasks.missing']],
        ['celery.exceptions', 'RangeError', ['too big']],
        ['builtins', 'TimeoutError', ['timed out']],
      ]);
    });
  });
});
