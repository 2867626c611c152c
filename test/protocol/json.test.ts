import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError, EncodeError } from '../../src/errors/index.js';
import { fromJson, toJson } from '../../src/protocol/json.js';
import { SerializerRegistry, jsonSerializer } from '../../src/protocol/serializers.js';

describe('toJson: JS values JSON has no type for', () => {
  it('writes a Date as an ISO string in UTC with six fractional digits and +00:00', () => {
    assert.equal(toJson(new Date(Date.UTC(2026, 10, 24, 1, 47, 28, 94))), '"2026-11-24T01:47:28.094000+00:00"');
    assert.equal(toJson({ at: new Date(Date.UTC(2000, 0, 1)) }), '{"at":"2000-01-01T00:00:00.000000+00:00"}');
  });

  it('writes a bigint as an exact integer literal, even past 2^53', () => {
    assert.equal(toJson(12345678901234567890n), '12345678901234567890');
    assert.equal(toJson({ n: -9007199254740993n, list: [1n, 2n] }), '{"n":-9007199254740993,"list":[1,2]}');
  });

  it('writes a Buffer or Uint8Array as base64', () => {
    assert.equal(toJson(Buffer.from('hello')), '"aGVsbG8="');
    assert.equal(toJson({ raw: new Uint8Array([0, 255, 1]) }), '{"raw":"AP8B"}');
  });

  it('drops undefined object values and writes undefined array items (and a bare undefined) as null', () => {
    assert.equal(toJson({ a: undefined, b: 1 }), '{"b":1}');
    assert.equal(toJson([1, undefined, 3]), '[1,null,3]');
    assert.equal(toJson(undefined), 'null');
  });

  it('writes NaN and ±Infinity as Python\'s json does (bare tokens), leaving look-alike strings alone', () => {
    assert.equal(toJson([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]), '[NaN,Infinity,-Infinity]');
    assert.equal(toJson({ x: Number.NaN, s: 'NaN', t: 'Infinity' }), '{"x":NaN,"s":"NaN","t":"Infinity"}');
  });

  it('writes -0 as -0.0, which Python reads as the float -0.0', () => {
    assert.equal(toJson(-0), '-0.0');
    assert.equal(toJson({ z: -0, p: 0, list: [-0, 1.5] }), '{"z":-0.0,"p":0,"list":[-0.0,1.5]}');
  });

  it('uses toJSON, also of class instances, and accepts objects without a prototype', () => {
    assert.equal(toJson({ v: { toJSON: () => ({ sig: 'x' }) } }), '{"v":{"sig":"x"}}');
    class Money {
      constructor(readonly cents: number) {}
      toJSON(): { cents: number } {
        return { cents: this.cents };
      }
    }
    assert.equal(toJson([new Money(5)]), '[{"cents":5}]');
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    assert.equal(toJson(bare), '{"a":1}');
  });

  it('refuses, naming where, what JSON cannot carry faithfully: Map, Set, functions, symbols, class instances', () => {
    class Point {
      constructor(readonly x: number) {}
      norm(): number {
        return Math.abs(this.x);
      }
    }
    const cases: Array<[unknown, string, RegExp]> = [
      [[1, new Map([['a', 1]])], 'value[1]', /a Map has no JSON form \(convert it, e\.g\. Object\.fromEntries\(map\)\)/],
      [{ tags: new Set(['x']) }, 'value.tags', /a Set has no JSON form/],
      [{ a: { 'odd key': [() => 1] } }, 'value.a["odd key"][0]', /a function has no JSON form/],
      [{ f: function named() {} }, 'value.f', /a function has no JSON form/],
      [[Symbol('s')], 'value[0]', /a symbol has no JSON form/],
      [{ p: new Point(1) }, 'value.p', /an instance of Point would lose its class and methods/],
      [[new Error('x')], 'value[0]', /an instance of Error/],
    ];
    for (const [value, where, reason] of cases) {
      assert.throws(() => toJson(value), (err: unknown) => {
        assert.ok(err instanceof EncodeError, where);
        assert.ok(err.message.startsWith(`cannot encode ${where} as JSON: `), err.message);
        assert.match(err.message, reason);
        return true;
      });
      assert.throws(() => new SerializerRegistry().encode(value, 'json'), EncodeError);
    }
  });

  it('refuses circular structures, as EncodeError through the serializer registry', () => {
    const a: unknown[] = [];
    a.push(a);
    assert.throws(() => toJson(a), TypeError);
    assert.throws(() => new SerializerRegistry().encode(a, 'json'), (err: unknown) => {
      assert.ok(err instanceof EncodeError);
      assert.match(err.message, /cannot serialize with 'json': cannot serialize a circular structure/);
      return true;
    });
    // The same object twice (not a cycle) is fine.
    const shared = { x: 1 };
    assert.equal(toJson([shared, shared]), '[{"x":1},{"x":1}]');
  });
});

describe('fromJson: JSON as Python writes it', () => {
  it('reads NaN, Infinity and -Infinity as Python\'s json writes them', () => {
    const v = fromJson('[NaN, Infinity, -Infinity, {"x": NaN}]') as unknown[];
    assert.ok(Number.isNaN(v[0]));
    assert.equal(v[1], Number.POSITIVE_INFINITY);
    assert.equal(v[2], Number.NEGATIVE_INFINITY);
    assert.ok(Number.isNaN((v[3] as { x: number }).x));
  });

  it('leaves NaN/Infinity inside strings (even after escaped quotes) as text', () => {
    assert.deepEqual(fromJson('{"s": "NaN and -Infinity", "q": "say \\"NaN\\"", "n": Infinity}'), {
      s: 'NaN and -Infinity', q: 'say "NaN"', n: Number.POSITIVE_INFINITY,
    });
  });

  it('round-trips non-finite numbers through toJson', () => {
    const v = fromJson(toJson({ a: [Number.NaN, Number.NEGATIVE_INFINITY] })) as { a: number[] };
    assert.ok(Number.isNaN(v.a[0]));
    assert.equal(v.a[1], Number.NEGATIVE_INFINITY);
  });

  it('reads integers past 2^53 exactly, as bigint, and writes them back unchanged', () => {
    const text = '{"a": 9223372036854775808, "b": 1180591620717411303424, "c": [-9223372036854775809, 9007199254740991, 9007199254740992]}';
    const v = fromJson(text) as { a: bigint; b: bigint; c: Array<bigint | number> };
    assert.equal(v.a, 2n ** 63n);
    assert.equal(v.b, 2n ** 70n);
    assert.deepEqual(v.c, [-(2n ** 63n) - 1n, 9007199254740991, 2n ** 53n], 'safe integers stay numbers');
    assert.equal(toJson(v), text.replace(/ /g, ''));
  });

  it('finds a long integer anywhere: alone, first, last, next to other digits', () => {
    assert.equal(fromJson('9223372036854775808'), 2n ** 63n);
    assert.equal(fromJson('-9007199254740993'), -(2n ** 53n) - 1n);
    assert.deepEqual(fromJson('[18446744073709551616,1]'), [2n ** 64n, 1]);
    assert.deepEqual(fromJson('[1,22,333,4444,55555,18446744073709551616]'), [1, 22, 333, 4444, 55555, 2n ** 64n]);
    assert.deepEqual(fromJson('[123456789012345, 1234567890123456]'), [123456789012345, 1234567890123456], '15 and 16 digits below 2^53');
  });

  it('leaves long digit runs in strings, floats and exponents alone', () => {
    assert.deepEqual(fromJson('{"s": "12345678901234567890", "q": "say \\"99999999999999999\\"", "f": 12345678901234567890.5, "e": 1234567890123456789e3}'), {
      s: '12345678901234567890', q: 'say "99999999999999999"', f: 12345678901234567890.5, e: 1234567890123456789e3,
    });
    const mixed = fromJson('[NaN, 99999999999999999999, "NaN 99999999999999999999"]') as unknown[];
    assert.ok(Number.isNaN(mixed[0]));
    assert.deepEqual(mixed.slice(1), [99999999999999999999n, 'NaN 99999999999999999999']);
  });

  it('reads -0.0 as -0 and writes it back as -0.0', () => {
    const v = fromJson('{"z": -0.0}') as { z: number };
    assert.ok(Object.is(v.z, -0));
    assert.equal(toJson(v), '{"z":-0.0}');
  });

  it('still rejects invalid JSON', () => {
    assert.throws(() => fromJson('[1, 2'), SyntaxError);
    assert.throws(() => fromJson('[NaN, '), SyntaxError);
    assert.throws(() => fromJson("{'a': 1}"), SyntaxError);
    assert.throws(() => fromJson('[12345678901234567890, '), SyntaxError);
  });

  it('reads kombu 5.3 tagged datetimes and dates as Date (naive = UTC)', () => {
    const v = fromJson(
      '{"aware": {"__type__": "datetime", "__value__": "2026-11-24T01:39:35.959474+00:00"},' +
        ' "offset": {"__type__": "datetime", "__value__": "2026-11-24T03:39:35.959474+02:00"},' +
        ' "naive": {"__type__": "datetime", "__value__": "2026-11-24T01:39:35.959474"},' +
        ' "day": {"__type__": "date", "__value__": "2026-11-24"}}',
    ) as Record<string, unknown>;
    for (const key of ['aware', 'offset', 'naive']) {
      const d = v[key];
      assert.ok(d instanceof Date, key);
      assert.equal(d.toISOString(), '2026-11-24T01:39:35.959Z', key);
    }
    assert.ok(v['day'] instanceof Date);
    assert.equal(v['day'].toISOString(), '2026-11-24T00:00:00.000Z');
  });

  it('reads kombu tagged bytes, base64, uuid, decimal and time', () => {
    const v = fromJson(
      '{"b": {"__type__": "bytes", "__value__": "héllo"},' +
        ' "b64": {"__type__": "base64", "__value__": "AP8B"},' +
        ' "u": {"__type__": "uuid", "__value__": {"hex": "CE45DD33F92049BC8182C159AC78D4FE"}},' +
        ' "u2": {"__type__": "uuid", "__value__": {"hex": "ce45dd33f92049bc8182c159ac78d4fe", "version": 4}},' +
        ' "d": {"__type__": "decimal", "__value__": "3.14159265358979323846"},' +
        ' "t": {"__type__": "time", "__value__": "01:02:03.000004"}}',
    ) as Record<string, unknown>;
    assert.ok(Buffer.isBuffer(v['b']));
    assert.equal(v['b'].toString('utf8'), 'héllo');
    assert.ok(Buffer.isBuffer(v['b64']));
    assert.deepEqual([...v['b64']], [0, 255, 1]);
    assert.equal(v['u'], 'ce45dd33-f920-49bc-8182-c159ac78d4fe');
    assert.equal(v['u2'], 'ce45dd33-f920-49bc-8182-c159ac78d4fe');
    assert.equal(v['d'], '3.14159265358979323846');
    assert.equal(v['t'], '01:02:03.000004');
  });

  it('leaves dicts that merely look tagged alone', () => {
    assert.deepEqual(fromJson('{"__type__": "datetime", "__value__": "2026-01-01", "extra": 1}'), {
      __type__: 'datetime', __value__: '2026-01-01', extra: 1,
    });
    assert.deepEqual(fromJson('{"__type__": "frobnicator", "__value__": 1}'), { __type__: 'frobnicator', __value__: 1 });
  });
});

describe('the json serializer', () => {
  it('is application/json in utf-8 and decodes through the accept check', () => {
    assert.equal(jsonSerializer.contentType, 'application/json');
    assert.equal(jsonSerializer.contentEncoding, 'utf-8');
    const registry = new SerializerRegistry();
    const { body, contentType } = registry.encode({ when: new Date(Date.UTC(2026, 0, 1)), n: 10n }, 'json');
    assert.equal(body.toString('utf8'), '{"when":"2026-01-01T00:00:00.000000+00:00","n":10}');
    assert.deepEqual(registry.decode(body, contentType, ['json']), { when: '2026-01-01T00:00:00.000000+00:00', n: 10 });
    assert.deepEqual(registry.decode(Buffer.from('{"ü": "ß"}', 'utf8'), 'application/json', ['json']), { ü: 'ß' });
  });

  it('wraps a parse failure in DecodeError with the cause', () => {
    assert.throws(() => new SerializerRegistry().decode(Buffer.from('nope'), 'application/json', ['json']), (err: unknown) => {
      assert.ok(err instanceof DecodeError);
      assert.ok(err.cause instanceof SyntaxError);
      return true;
    });
  });
});
