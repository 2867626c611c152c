import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CeleriacError, ContentDisallowed, DecodeError, EncodeError } from '../../src/errors/index.js';
import {
  decodePayload,
  decodeTaskMessage,
  encodePayload,
  encodeTaskMessage,
  type SignatureDict,
  type TaskMessageFields,
  type TransportMessage,
} from '../../src/protocol/message.js';
import { SerializerRegistry, jsonSerializer, type Serializer } from '../../src/protocol/serializers.js';
import { CompressionRegistry } from '../../src/protocol/compression.js';
import {
  CHAIN_STEP_ID,
  PLAIN_BODY_BASE64,
  PYTHON_HEADER_KEYS,
  REPLY_TO,
  TASK_ID,
  amqpSample,
  chainEnvelope,
  fromEnvelope,
  jsonCodecs,
  plainEnvelope,
} from './wire-samples.js';

/** Fields for the call Python made in section 1: `tasks.add(1, 2)`. */
function addFields(extra: Partial<TaskMessageFields> = {}): TaskMessageFields {
  return {
    task: 'tasks.add',
    id: TASK_ID,
    args: [1, 2],
    kwargs: {},
    origin: 'gen6994@vm',
    replyTo: REPLY_TO,
    serializer: 'json',
    ...extra,
  };
}

/** A v2 message with the given body text and headers (defaults: a valid `tasks.add` message). */
function v2Message(body: string, headers: Record<string, unknown> = { task: 'tasks.add', id: TASK_ID }): TransportMessage {
  return { body: Buffer.from(body, 'utf8'), contentType: 'application/json', contentEncoding: 'utf-8', headers, properties: {} };
}

describe('decodeTaskMessage: the Redis sample captured from Python Celery (celery-wire.md §1)', () => {
  it('decodes every field of the plain tasks.add(1, 2) message', () => {
    const env = plainEnvelope();
    const d = decodeTaskMessage(fromEnvelope(env), jsonCodecs());
    assert.equal(d.protocol, 2);
    assert.equal(d.task, 'tasks.add');
    assert.equal(d.id, TASK_ID);
    assert.deepEqual(d.args, [1, 2]);
    assert.deepEqual(d.kwargs, {});
    assert.deepEqual(d.embed, { callbacks: null, errbacks: null, chain: null, chord: null });
    assert.equal(d.eta, null);
    assert.equal(d.expires, null);
    assert.equal(d.retries, 0);
    assert.deepEqual(d.timelimit, [null, null]);
    assert.equal(d.headers['root_id'], TASK_ID);
    assert.equal(d.headers['parent_id'], null);
    assert.equal(d.headers['group'], null);
    assert.equal(d.headers['group_index'], null);
    assert.equal(d.headers['shadow'], null);
    assert.equal(d.headers['argsrepr'], '(1, 2)');
    assert.equal(d.headers['kwargsrepr'], '{}');
    assert.equal(d.headers['origin'], 'gen6994@vm');
    assert.equal(d.headers['ignore_result'], false);
    assert.equal(d.headers['lang'], 'py');
    assert.equal(d.properties.correlation_id, TASK_ID);
    assert.equal(d.properties.reply_to, REPLY_TO);
    assert.equal(d.properties.delivery_mode, 2);
    assert.equal(d.properties.priority, 0);
    assert.deepEqual(d.properties['delivery_info'], { exchange: '', routing_key: 'celery' });
  });

  it('decodes the chain embed: remaining steps as signature dicts, last step first', () => {
    const d = decodeTaskMessage(fromEnvelope(chainEnvelope()), jsonCodecs());
    assert.deepEqual(d.args, [1, 2]);
    assert.equal(d.embed.callbacks, null);
    assert.equal(d.embed.errbacks, null);
    assert.equal(d.embed.chord, null);
    const chain = d.embed.chain;
    assert.ok(chain, 'chain embed present');
    assert.equal(chain.length, 1);
    const step: SignatureDict = chain[0]!;
    assert.deepEqual(step, {
      task: 'tasks.add',
      args: [10],
      kwargs: {},
      options: { task_id: CHAIN_STEP_ID, reply_to: REPLY_TO },
      subtask_type: null,
      immutable: false,
    });
  });

  it('keeps the order of a longer chain as sent (the worker pops from the end)', () => {
    const sig = (n: number): SignatureDict => ({
      task: 'tasks.add', args: [n], kwargs: {}, options: { task_id: `step-${n}` }, subtask_type: null, immutable: false,
    });
    const body = JSON.stringify([[1, 2], {}, { callbacks: null, errbacks: null, chain: [sig(30), sig(20), sig(10)], chord: null }]);
    const d = decodeTaskMessage(v2Message(body), jsonCodecs());
    assert.deepEqual(d.embed.chain?.map((s) => s.options['task_id']), ['step-30', 'step-20', 'step-10']);
  });

  it('decodes callbacks, errbacks and a chord signature', () => {
    const cb: SignatureDict = { task: 'tasks.log', args: [], kwargs: {}, options: {}, subtask_type: null, immutable: true };
    const chord: SignatureDict = { ...cb, task: 'tasks.tsum', chord_size: 3 };
    const body = JSON.stringify([[], { x: 1 }, { callbacks: [cb], errbacks: [cb, cb], chain: null, chord }]);
    const d = decodeTaskMessage(v2Message(body), jsonCodecs());
    assert.deepEqual(d.kwargs, { x: 1 });
    assert.deepEqual(d.embed.callbacks, [cb]);
    assert.equal(d.embed.errbacks?.length, 2);
    assert.deepEqual(d.embed.chord, chord);
  });

  it('accepts a two-element body (no embed) and non-default retries and time limits', () => {
    const d = decodeTaskMessage(
      v2Message('[[1], {}]', { task: 't', id: 'i', retries: 3, timelimit: [30, 20.5] }),
      jsonCodecs(),
    );
    assert.deepEqual(d.embed, { callbacks: null, errbacks: null, chain: null, chord: null });
    assert.equal(d.retries, 3);
    assert.deepEqual(d.timelimit, [30, 20.5]);
  });
});

describe('decodeTaskMessage: the AMQP sample (celery-wire.md §4)', () => {
  it('reads priority 5 and the eta ISO string with +00:00 as a Date', () => {
    const d = decodeTaskMessage(amqpSample(), jsonCodecs());
    assert.equal(d.task, 'tasks.add');
    assert.deepEqual(d.args, [2, 3]);
    assert.deepEqual(d.kwargs, {});
    assert.equal(d.properties.priority, 5);
    assert.equal(d.properties.delivery_mode, 2);
    assert.ok(d.eta instanceof Date);
    assert.equal(d.eta.getTime(), Date.UTC(2026, 10, 24, 1, 47, 28, 94));
    assert.equal(d.eta.toISOString(), '2026-11-24T01:47:28.094Z');
    assert.equal(d.expires, null);
    assert.equal(d.headers['argsrepr'], '(2, 3)');
  });

  it('reads eta/expires with other offsets, without offset (UTC) and without a fraction', () => {
    const d = decodeTaskMessage(
      v2Message('[[], {}, {}]', {
        task: 't', id: 'i', eta: '2026-11-24T03:47:28.500000+02:00', expires: '2026-11-24T01:47:28',
      }),
      jsonCodecs(),
    );
    assert.equal(d.eta?.toISOString(), '2026-11-24T01:47:28.500Z');
    assert.equal(d.expires?.toISOString(), '2026-11-24T01:47:28.000Z');
  });
});

describe('encodeTaskMessage: the same message as Python Celery for the same call', () => {
  it('writes exactly Python\'s header keys, in Python\'s order', () => {
    const m = encodeTaskMessage(addFields(), jsonCodecs());
    assert.deepEqual(Object.keys(m.headers), [...PYTHON_HEADER_KEYS]);
    assert.deepEqual(Object.keys(m.headers), Object.keys(plainEnvelope().headers));
  });

  it('writes header values identical to the sample for tasks.add(1, 2), lang aside', () => {
    const m = encodeTaskMessage(addFields(), jsonCodecs());
    assert.equal(m.headers['lang'], 'js');
    assert.deepEqual({ ...m.headers, lang: 'py' }, plainEnvelope().headers);
    assert.equal(m.headers['argsrepr'], '(1, 2)');
    assert.equal(m.headers['kwargsrepr'], '{}');
    assert.deepEqual(m.headers['timelimit'], [null, null]);
    assert.equal(m.headers['root_id'], TASK_ID);
  });

  it('writes the properties Celery writes (correlation_id, reply_to, delivery_mode 2, priority), in order', () => {
    const m = encodeTaskMessage(addFields(), jsonCodecs());
    const sample = plainEnvelope().properties;
    // delivery_info, body_encoding and delivery_tag are added by the Redis transport, not Celery.
    const { delivery_info: _i, body_encoding: _e, delivery_tag: _t, ...celeryProps } = sample;
    assert.deepEqual(m.properties, celeryProps);
    assert.deepEqual(Object.keys(m.properties), ['correlation_id', 'reply_to', 'delivery_mode', 'priority']);
  });

  it('writes the body [args, kwargs, {callbacks, errbacks, chain, chord}] structurally identical to Python\'s', () => {
    const m = encodeTaskMessage(addFields(), jsonCodecs());
    assert.equal(m.contentType, 'application/json');
    assert.equal(m.contentEncoding, 'utf-8');
    const ours: unknown = JSON.parse(m.body.toString('utf8'));
    const python: unknown = JSON.parse(Buffer.from(PLAIN_BODY_BASE64, 'base64').toString('utf8'));
    assert.deepEqual(ours, python);
    const embed = (ours as unknown[])[2] as Record<string, unknown>;
    assert.deepEqual(Object.keys(embed), ['callbacks', 'errbacks', 'chain', 'chord']);
  });

  it('writes the chain embed exactly as the sample carries it', () => {
    const step: SignatureDict = {
      task: 'tasks.add', args: [10], kwargs: {}, options: { task_id: CHAIN_STEP_ID, reply_to: REPLY_TO },
      subtask_type: null, immutable: false,
    };
    const m = encodeTaskMessage(addFields({ chain: [step] }), jsonCodecs());
    const sample = fromEnvelope(chainEnvelope());
    assert.deepEqual(JSON.parse(m.body.toString('utf8')), JSON.parse(sample.body.toString('utf8')));
  });

  it('writes priority, eta and expires like the AMQP sample, and custom header values', () => {
    const eta = new Date(Date.UTC(2026, 10, 24, 1, 47, 28, 94));
    const m = encodeTaskMessage(
      addFields({
        args: [2, 3], eta, expires: new Date(eta.getTime() + 3_600_000), priority: 5, retries: 2,
        timelimit: [60, 30], parentId: 'p', rootId: 'r', group: 'g', groupIndex: 1, shadow: 'alias', ignoreResult: true,
        deliveryMode: 1,
      }),
      jsonCodecs(),
    );
    assert.equal(m.headers['eta'], '2026-11-24T01:47:28.094000+00:00');
    assert.equal(m.headers['expires'], '2026-11-24T02:47:28.094000+00:00');
    assert.equal(m.headers['argsrepr'], '(2, 3)');
    assert.deepEqual(m.headers['timelimit'], [60, 30]);
    assert.equal(m.headers['retries'], 2);
    assert.equal(m.headers['parent_id'], 'p');
    assert.equal(m.headers['root_id'], 'r');
    assert.equal(m.headers['group'], 'g');
    assert.equal(m.headers['group_index'], 1);
    assert.equal(m.headers['shadow'], 'alias');
    assert.equal(m.headers['ignore_result'], true);
    assert.equal(m.properties.priority, 5);
    assert.equal(m.properties.delivery_mode, 1);
    assert.deepEqual(Object.keys(m.headers), [...PYTHON_HEADER_KEYS]);
  });

  it('puts extra headers after Celery\'s own without letting them override those', () => {
    const m = encodeTaskMessage(addFields({ extraHeaders: { tenant: 'acme', task: 'evil', id: 'x' } }), jsonCodecs());
    assert.deepEqual(Object.keys(m.headers), [...PYTHON_HEADER_KEYS, 'tenant']);
    assert.equal(m.headers['task'], 'tasks.add');
    assert.equal(m.headers['id'], TASK_ID);
    assert.equal(m.headers['tenant'], 'acme');
  });

  it('uses given argsrepr/kwargsrepr verbatim and computes saferepr otherwise', () => {
    const given = encodeTaskMessage(addFields({ argsrepr: '(secret,)', kwargsrepr: '{...}' }), jsonCodecs());
    assert.equal(given.headers['argsrepr'], '(secret,)');
    assert.equal(given.headers['kwargsrepr'], '{...}');
    const computed = encodeTaskMessage(addFields({ args: ["it's"], kwargs: { n: null } }), jsonCodecs());
    assert.equal(computed.headers['argsrepr'], "('it\\'s',)");
    assert.equal(computed.headers['kwargsrepr'], "{'n': None}");
  });

  it('round-trips encode → decode with every field intact', () => {
    const eta = new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678));
    const cb: SignatureDict = { task: 'tasks.cb', args: [], kwargs: {}, options: {}, subtask_type: null, immutable: false };
    const fields = addFields({
      args: [1, 'two', [3], { four: 4 }, null, true],
      kwargs: { a: 1, nested: { b: [1, 2] } },
      eta, expires: eta, retries: 4, timelimit: [10, null], callbacks: [cb], errbacks: [cb], chain: [cb], chord: cb,
      priority: 9, parentId: 'parent',
    });
    const d = decodeTaskMessage(encodeTaskMessage(fields, jsonCodecs()), jsonCodecs());
    assert.equal(d.protocol, 2);
    assert.equal(d.task, 'tasks.add');
    assert.equal(d.id, TASK_ID);
    assert.deepEqual(d.args, fields.args);
    assert.deepEqual(d.kwargs, fields.kwargs);
    assert.equal(d.eta?.getTime(), eta.getTime());
    assert.equal(d.expires?.getTime(), eta.getTime());
    assert.equal(d.retries, 4);
    assert.deepEqual(d.timelimit, [10, null]);
    assert.deepEqual(d.embed, { callbacks: [cb], errbacks: [cb], chain: [cb], chord: cb });
    assert.equal(d.headers['parent_id'], 'parent');
    assert.equal(d.headers['root_id'], TASK_ID);
    assert.equal(d.properties.priority, 9);
    assert.equal(d.properties.reply_to, REPLY_TO);
  });

  it('omits reply_to when there is none and refuses an unknown serializer', () => {
    const m = encodeTaskMessage(addFields({ replyTo: null }), jsonCodecs());
    assert.deepEqual(Object.keys(m.properties), ['correlation_id', 'delivery_mode', 'priority']);
    assert.throws(() => encodeTaskMessage(addFields({ serializer: 'pickle' }), jsonCodecs()), (err: unknown) => {
      assert.ok(err instanceof EncodeError);
      assert.match(err.message, /unknown serializer 'pickle'.*json/);
      return true;
    });
  });

  it('wraps a value JSON cannot hold in EncodeError', () => {
    const loop: Record<string, unknown> = {};
    loop['self'] = loop;
    assert.throws(() => encodeTaskMessage(addFields({ kwargs: { loop } }), jsonCodecs()), (err: unknown) => {
      assert.ok(err instanceof EncodeError);
      assert.match(err.message, /circular/);
      return true;
    });
  });
});

describe('decodeTaskMessage: protocol v1', () => {
  /** A v1 message as Celery's `as_task_v1` lays it out (body dict, empty headers). */
  function v1Message(body: Record<string, unknown>): TransportMessage {
    return {
      body: Buffer.from(JSON.stringify(body), 'utf8'),
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: {},
      properties: { correlation_id: 'v1-id', reply_to: REPLY_TO },
    };
  }
  const cb: SignatureDict = { task: 'tasks.cb', args: [], kwargs: {}, options: {}, subtask_type: null, immutable: false };

  it('reads task, id, args, kwargs, retries, eta, expires, utc, callbacks, errbacks, timelimit, taskset, chord', () => {
    const d = decodeTaskMessage(
      v1Message({
        task: 'tasks.add', id: 'v1-id', args: [4, 5], kwargs: { z: 1 }, retries: 2,
        eta: '2026-11-24T01:47:28.094370+00:00', expires: '2026-11-25T00:00:00', utc: true,
        callbacks: [cb], errbacks: [cb], timelimit: [60, 50], taskset: 'group-1', chord: { ...cb, task: 'tasks.body' },
      }),
      jsonCodecs(),
    );
    assert.equal(d.protocol, 1);
    assert.equal(d.task, 'tasks.add');
    assert.equal(d.id, 'v1-id');
    assert.deepEqual(d.args, [4, 5]);
    assert.deepEqual(d.kwargs, { z: 1 });
    assert.equal(d.retries, 2);
    assert.equal(d.eta?.getTime(), Date.UTC(2026, 10, 24, 1, 47, 28, 94));
    assert.equal(d.expires?.getTime(), Date.UTC(2026, 10, 25));
    assert.deepEqual(d.timelimit, [60, 50]);
    assert.deepEqual(d.embed.callbacks, [cb]);
    assert.deepEqual(d.embed.errbacks, [cb]);
    assert.equal(d.embed.chain, null);
    assert.equal(d.embed.chord?.task, 'tasks.body');
    // Headers are given their v2 names, as Celery's proto1_to_proto2 does.
    assert.equal(d.headers['task'], 'tasks.add');
    assert.equal(d.headers['id'], 'v1-id');
    assert.equal(d.headers['group'], 'group-1');
    assert.equal(d.headers['root_id'], 'v1-id');
    assert.equal(d.headers['parent_id'], null);
    assert.equal(d.headers['retries'], 2);
    assert.equal(d.headers['utc'], true);
    assert.equal(d.headers['eta'], '2026-11-24T01:47:28.094370+00:00');
    assert.equal(d.properties.reply_to, REPLY_TO);
  });

  it('defaults missing args/kwargs/retries/timelimit as Celery does', () => {
    const d = decodeTaskMessage(v1Message({ task: 'tasks.noop', id: 'v1-id' }), jsonCodecs());
    assert.deepEqual(d.args, []);
    assert.deepEqual(d.kwargs, {});
    assert.equal(d.retries, 0);
    assert.deepEqual(d.timelimit, [null, null]);
    assert.equal(d.eta, null);
    assert.deepEqual(d.embed, { callbacks: null, errbacks: null, chain: null, chord: null });
  });

  it('reads naive eta/expires as local time when the v1 sender had utc=False, as UTC otherwise', () => {
    const naive = '2026-11-24T10:00:00.000000';
    const local = decodeTaskMessage(v1Message({ task: 't', id: 'i', eta: naive, expires: naive, utc: false }), jsonCodecs());
    const expected = new Date(2026, 10, 24, 10, 0, 0).getTime();
    assert.equal(local.eta?.getTime(), expected);
    assert.equal(local.expires?.getTime(), expected);
    const utc = decodeTaskMessage(v1Message({ task: 't', id: 'i', eta: naive }), jsonCodecs());
    assert.equal(utc.eta?.toISOString(), '2026-11-24T10:00:00.000Z');
  });

  it('rejects a v1 body without id or with kwargs that are not a dict', () => {
    assert.throws(() => decodeTaskMessage(v1Message({ task: 't' }), jsonCodecs()), {
      name: 'DecodeError', message: /protocol v1 task message has no id/,
    });
    assert.throws(() => decodeTaskMessage(v1Message({ task: 't', id: 'i', args: 'x' }), jsonCodecs()), {
      name: 'DecodeError', message: /protocol v1 body: args must be a list/,
    });
    assert.throws(() => decodeTaskMessage(v1Message({ task: 't', id: 'i', kwargs: [1] }), jsonCodecs()), {
      name: 'DecodeError', message: /protocol v1 body: kwargs must be a dict/,
    });
  });
});

describe('decodeTaskMessage: malformed input', () => {
  function decodeError(message: TransportMessage, pattern: RegExp): void {
    assert.throws(() => decodeTaskMessage(message, jsonCodecs()), (err: unknown) => {
      assert.ok(err instanceof DecodeError, `expected DecodeError, got ${String(err)}`);
      assert.ok(err instanceof CeleriacError);
      assert.equal(err.code, 'DECODE_ERROR');
      assert.match(err.message, pattern);
      return true;
    });
  }

  it('bad JSON', () => {
    decodeError(v2Message('[[1, 2], {}'), /cannot decode application\/json body/);
  });

  it('a body that is not a list', () => {
    decodeError(v2Message('{"args": [1]}'), /protocol v2 body must be a list \[args, kwargs, embed\]/);
    decodeError(v2Message('[[1, 2]]'), /protocol v2 body must be a list/);
  });

  it('args that are not a list, kwargs that are not a dict', () => {
    decodeError(v2Message('[{"x": 1}, {}, {}]'), /args must be a list/);
    decodeError(v2Message('[[1], [2], {}]'), /kwargs must be a dict/);
    decodeError(v2Message('[[1], null, {}]'), /kwargs must be a dict/);
  });

  it('a missing or non-string id', () => {
    decodeError(v2Message('[[], {}, {}]', { task: 'tasks.add' }), /no id header/);
    decodeError(v2Message('[[], {}, {}]', { task: 'tasks.add', id: 42 }), /field 'id' must be a string, got number/);
  });

  it('an eta that is not an ISO time', () => {
    decodeError(v2Message('[[], {}, {}]', { task: 't', id: 'i', eta: 'tomorrow' }), /field 'eta'.*not an ISO 8601 time/);
    decodeError(v2Message('[[], {}, {}]', { task: 't', id: 'i', expires: 123 }), /field 'expires' must be a string/);
  });

  it('embeds that are not signature lists', () => {
    decodeError(v2Message('[[], {}, {"chain": {"task": "x"}}]'), /embed 'chain' must be a list of signatures/);
    decodeError(v2Message('[[], {}, {"callbacks": [1]}]'), /embed 'callbacks' holds something that is not a signature/);
  });

  it('neither a v2 task header nor a v1 body', () => {
    decodeError(v2Message('[[], {}, {}]', {}), /not a task message/);
  });

  it('refuses a content type outside accept_content with ContentDisallowed, without parsing', () => {
    let parsed = 0;
    const pickle: Serializer = {
      name: 'pickle',
      contentType: 'application/x-python-serialize',
      contentEncoding: 'binary',
      encode: () => Buffer.alloc(0),
      decode: () => {
        parsed++;
        return [[], {}, {}];
      },
    };
    const serializers = new SerializerRegistry([jsonSerializer, pickle]);
    const codecs = { serializers, compression: new CompressionRegistry(), accept: ['json'] };
    const message: TransportMessage = {
      body: Buffer.from('\x80\x04\x95 not really pickle', 'latin1'),
      contentType: 'application/x-python-serialize',
      contentEncoding: 'binary',
      headers: { task: 'tasks.add', id: TASK_ID },
      properties: {},
    };
    assert.throws(() => decodeTaskMessage(message, codecs), (err: unknown) => {
      assert.ok(err instanceof ContentDisallowed);
      assert.equal(err.code, 'CONTENT_DISALLOWED');
      assert.match(err.message, /application\/x-python-serialize/);
      assert.match(err.message, /accept_content: json/);
      return true;
    });
    assert.equal(parsed, 0);
    // Accepting it by name or by content type lets it through.
    assert.equal(decodeTaskMessage(message, { ...codecs, accept: ['pickle'] }).id, TASK_ID);
    assert.equal(decodeTaskMessage(message, { ...codecs, accept: ['application/x-python-serialize'] }).id, TASK_ID);
    assert.equal(parsed, 2);
  });

  it('accepts json by content type too, and names an accepted type with no serializer', () => {
    const ok = decodeTaskMessage(fromEnvelope(plainEnvelope()), jsonCodecs(['application/json']));
    assert.equal(ok.id, TASK_ID);
    const yaml: TransportMessage = { ...v2Message('a: 1'), contentType: 'application/x-yaml' };
    assert.throws(() => decodeTaskMessage(yaml, jsonCodecs(['json', 'application/x-yaml'])), {
      name: 'DecodeError', message: /no serializer registered for content type 'application\/x-yaml'/,
    });
    assert.throws(() => decodeTaskMessage(yaml, jsonCodecs()), ContentDisallowed);
  });
});

describe('encodePayload / decodePayload', () => {
  it('round-trips a plain value (a result message over rpc://)', () => {
    const value = { task_id: 'x', status: 'SUCCESS', result: 5, traceback: null, children: [] };
    const m = encodePayload(value, jsonCodecs(), 'json', {}, { correlation_id: 'x', delivery_mode: 1 });
    assert.equal(m.contentType, 'application/json');
    assert.deepEqual(JSON.parse(m.body.toString('utf8')), value);
    assert.deepEqual(decodePayload(m, jsonCodecs()), value);
    assert.throws(() => decodePayload(m, jsonCodecs(['yaml'])), ContentDisallowed);
  });
});
