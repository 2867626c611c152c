import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { brotliCompressSync, brotliDecompressSync, deflateSync, gzipSync, inflateSync } from 'node:zlib';
import { DecodeError, EncodeError } from '../../src/errors/index.js';
import { CompressionRegistry, type Compressor } from '../../src/protocol/compression.js';
import { decodeTaskMessage, encodeTaskMessage, type TaskMessageFields, type TransportMessage } from '../../src/protocol/message.js';
import { PLAIN_BODY_BASE64, PYTHON_HEADER_KEYS, REPLY_TO, TASK_ID, jsonCodecs } from './wire-samples.js';

function fields(compression: string | null, extra: Partial<TaskMessageFields> = {}): TaskMessageFields {
  return {
    task: 'tasks.add', id: TASK_ID, args: [1, 2], kwargs: { text: 'x'.repeat(500) }, origin: 'test@host',
    replyTo: REPLY_TO, serializer: 'json', compression, ...extra,
  };
}

/** Python's body for tasks.add(1, 2), as bytes. */
const pythonBody = Buffer.from(PLAIN_BODY_BASE64, 'base64');

describe('compression', () => {
  it('zlib: header application/x-gzip (as kombu registers it), body a zlib stream, round trip', () => {
    const plain = encodeTaskMessage(fields(null), jsonCodecs());
    const m = encodeTaskMessage(fields('zlib'), jsonCodecs());
    assert.equal(m.headers['compression'], 'application/x-gzip');
    assert.deepEqual(Object.keys(m.headers), [...PYTHON_HEADER_KEYS, 'compression']);
    // zlib stream format (RFC 1950, what Python's zlib.compress writes): CMF 0x78, not gzip's 1f 8b.
    assert.equal(m.body[0], 0x78);
    assert.ok(m.body.length < plain.body.length, 'compressed body is smaller');
    assert.deepEqual(inflateSync(m.body), plain.body);
    const d = decodeTaskMessage(m, jsonCodecs());
    assert.deepEqual(d.args, [1, 2]);
    assert.equal(d.kwargs['text'], 'x'.repeat(500));
  });

  it('gzip is an alias of zlib with the same header and stream format', () => {
    const m = encodeTaskMessage(fields('gzip'), jsonCodecs());
    assert.equal(m.headers['compression'], 'application/x-gzip');
    assert.notDeepEqual([m.body[0], m.body[1]], [0x1f, 0x8b]);
    assert.equal(decodeTaskMessage(m, jsonCodecs()).id, TASK_ID);
  });

  it('brotli: header application/x-brotli, round trip', () => {
    const plain = encodeTaskMessage(fields(null), jsonCodecs());
    const m = encodeTaskMessage(fields('brotli'), jsonCodecs());
    assert.equal(m.headers['compression'], 'application/x-brotli');
    assert.deepEqual(brotliDecompressSync(m.body), plain.body);
    const d = decodeTaskMessage(m, jsonCodecs());
    assert.deepEqual(d.args, [1, 2]);
    assert.equal(d.kwargs['text'], 'x'.repeat(500));
  });

  it('decodes a body compressed outside celeriac (node:zlib deflateSync, brotliCompressSync)', () => {
    const base = { contentType: 'application/json', contentEncoding: 'utf-8', properties: {} };
    const zlibbed: TransportMessage = {
      ...base, body: deflateSync(pythonBody), headers: { task: 'tasks.add', id: TASK_ID, compression: 'application/x-gzip' },
    };
    const d = decodeTaskMessage(zlibbed, jsonCodecs());
    assert.deepEqual(d.args, [1, 2]);
    assert.deepEqual(d.embed, { callbacks: null, errbacks: null, chain: null, chord: null });
    const brotlied: TransportMessage = {
      ...base, body: brotliCompressSync(pythonBody), headers: { task: 'tasks.add', id: TASK_ID, compression: 'application/x-brotli' },
    };
    assert.deepEqual(decodeTaskMessage(brotlied, jsonCodecs()).args, [1, 2]);
    // kombu also resolves its aliases when reading.
    const byAlias: TransportMessage = { ...zlibbed, headers: { ...zlibbed.headers, compression: 'zlib' } };
    assert.deepEqual(decodeTaskMessage(byAlias, jsonCodecs()).args, [1, 2]);
  });

  it('an empty compression header means no compression', () => {
    const m: TransportMessage = {
      body: pythonBody, contentType: 'application/json', contentEncoding: 'utf-8',
      headers: { task: 'tasks.add', id: TASK_ID, compression: '' }, properties: {},
    };
    assert.deepEqual(decodeTaskMessage(m, jsonCodecs()).args, [1, 2]);
  });

  it('names an unknown method: EncodeError when sending, DecodeError when receiving', () => {
    assert.throws(() => encodeTaskMessage(fields('lzma'), jsonCodecs()), (err: unknown) => {
      assert.ok(err instanceof EncodeError);
      assert.match(err.message, /unknown compression 'lzma'/);
      return true;
    });
    const m: TransportMessage = {
      body: pythonBody, contentType: 'application/json', contentEncoding: 'utf-8',
      headers: { task: 'tasks.add', id: TASK_ID, compression: 'application/x-bz2' }, properties: {},
    };
    assert.throws(() => decodeTaskMessage(m, jsonCodecs()), (err: unknown) => {
      assert.ok(err instanceof DecodeError);
      assert.match(err.message, /unknown compression 'application\/x-bz2'/);
      return true;
    });
  });

  it('turns corrupt compressed data into DecodeError', () => {
    const m: TransportMessage = {
      body: gzipSync(pythonBody), // gzip framing is not what kombu's zlib method reads
      contentType: 'application/json', contentEncoding: 'utf-8',
      headers: { task: 'tasks.add', id: TASK_ID, compression: 'application/x-gzip' }, properties: {},
    };
    assert.throws(() => decodeTaskMessage(m, jsonCodecs()), (err: unknown) => {
      assert.ok(err instanceof DecodeError);
      assert.match(err.message, /cannot decompress application\/x-gzip body/);
      return true;
    });
  });

  it('takes registered methods by name, alias and content type', () => {
    const reverse: Compressor = {
      name: 'reverse', aliases: ['rev'], contentType: 'application/x-reverse',
      compress: (d) => Buffer.from(d).reverse(), decompress: (d) => Buffer.from(d).reverse(),
    };
    const registry = new CompressionRegistry();
    registry.register(reverse);
    const out = registry.compress(Buffer.from('abc'), 'rev');
    assert.equal(out.header, 'application/x-reverse');
    assert.equal(out.body.toString(), 'cba');
    assert.equal(registry.decompress(out.body, 'application/x-reverse').toString(), 'abc');
    assert.equal(registry.decompress(out.body, 'reverse').toString(), 'abc');
    // A registry built with only this method knows nothing else.
    assert.throws(() => new CompressionRegistry([reverse]).compress(Buffer.from('x'), 'zlib'), EncodeError);
  });
});
