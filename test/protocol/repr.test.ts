import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REPR_MAXSIZE, argsRepr, kwargsRepr, pyRepr } from '../../src/protocol/repr.js';

// Expected strings below were produced by Python 3 / Celery 5.2.6 (`repr()` for pyRepr,
// `celery.utils.saferepr.saferepr(value, maxsize)` for argsRepr / kwargsRepr, as `as_task_v2` does).

describe('pyRepr: Python\'s repr() of one value', () => {
  it('writes None, True, False and numbers as Python does', () => {
    assert.equal(pyRepr(null), 'None');
    assert.equal(pyRepr(undefined), 'None');
    assert.equal(pyRepr(true), 'True');
    assert.equal(pyRepr(false), 'False');
    assert.equal(pyRepr(42), '42');
    assert.equal(pyRepr(-1.5), '-1.5');
    assert.equal(pyRepr(Number.NaN), 'nan');
    assert.equal(pyRepr(Number.POSITIVE_INFINITY), 'inf');
    assert.equal(pyRepr(Number.NEGATIVE_INFINITY), '-inf');
    assert.equal(pyRepr(123456789012345678901234567890n), '123456789012345678901234567890');
    assert.equal(pyRepr(-0), '-0.0', 'the float -0.0 it travels as');
    assert.equal(pyRepr(0), '0');
  });

  it('quotes strings as Python chooses: single quotes unless the text has \' and no "', () => {
    assert.equal(pyRepr('abc'), "'abc'");
    assert.equal(pyRepr("it's"), `"it's"`);
    assert.equal(pyRepr('say "hi"'), `'say "hi"'`);
    assert.equal(pyRepr(`both ' and "`), `'both \\' and "'`);
    assert.equal(pyRepr('a\nb\tc\\d\re\x01'), "'a\\nb\\tc\\\\d\\re\\x01'");
    assert.equal(pyRepr('é'), "'é'");
  });

  it('writes lists and nested dicts', () => {
    assert.equal(pyRepr([1, 'a', null]), "[1, 'a', None]");
    assert.equal(pyRepr({ a: { b: [1, { c: null }] }, d: true }), "{'a': {'b': [1, {'c': None}]}, 'd': True}");
    assert.equal(pyRepr([]), '[]');
    assert.equal(pyRepr({}), '{}');
  });

  it('marks cycles instead of recursing forever', () => {
    const a: unknown[] = [1];
    a.push(a);
    assert.equal(pyRepr(a), '[1, [...]]');
  });

  it('writes bytes with a b prefix', () => {
    assert.equal(pyRepr(Buffer.from('hi')), "b'hi'");
  });
});

describe('argsRepr: the argsrepr header (Celery\'s saferepr of the args tuple)', () => {
  it('formats tuples: (1, 2), (1,), ()', () => {
    assert.equal(argsRepr([1, 2]), '(1, 2)');
    assert.equal(argsRepr([1]), '(1,)');
    assert.equal(argsRepr([]), '()');
    assert.equal(argsRepr([null, true, false, 1.5, -3]), '(None, True, False, 1.5, -3)');
  });

  it('quotes every string in single quotes, escaping only the single quote', () => {
    assert.equal(argsRepr(["it's"]), "('it\\'s',)");
    assert.equal(argsRepr(['say "hi"']), `('say "hi"',)`);
    // saferepr does not escape newlines or backslashes.
    assert.equal(argsRepr(['a\nb\\']), "('a\nb\\',)");
  });

  it('formats nested containers, stopping at three levels like saferepr', () => {
    assert.equal(argsRepr([[1, [2]], { k: 'v' }]), "([1, [2]], {'k': 'v'})");
    assert.equal(argsRepr([{ a: { b: [1, { c: null }] } }]), "({'a': {'b': [...]}},)");
    assert.equal(argsRepr([[[[[1]]]]]), '([[[...]]],)');
    assert.equal(argsRepr([[[[]]]]), '([[[...]]],)');
  });

  it('truncates at maxsize the way saferepr does, closing the open brackets', () => {
    const long = argsRepr(Array.from({ length: 500 }, (_, i) => i));
    assert.ok(long.startsWith('(0, 1, 2, 3, '));
    assert.ok(long.endsWith(', 224, 225, 226..., ...)'), long.slice(-40));
    assert.equal(long.length, 1033);
    assert.equal(argsRepr(['hello world foo'], 10), "('hello...', ...");
    assert.equal(argsRepr([[1, [2, [3]]]], 7), '([1, [2..., ...]],)');
    assert.equal(argsRepr([1, 2], 5), '(1, 2..., ...');
    assert.equal(argsRepr([1, 2], 6), '(1, 2)');
    assert.equal(argsRepr(['word '.repeat(300)], 40), "('word word word word word word word...', ...");
    const big = argsRepr(['x'.repeat(2000)]);
    assert.equal(big, `('${'x'.repeat(1023)}...', ...`);
  });

  it('uses Celery\'s default maxsize of 1024', () => {
    assert.equal(REPR_MAXSIZE, 1024);
    assert.equal(argsRepr(['y'.repeat(5000)]), argsRepr(['y'.repeat(5000)], 1024));
    assert.notEqual(argsRepr(['y'.repeat(5000)], 2048), argsRepr(['y'.repeat(5000)]));
  });
});

describe('kwargsRepr: the kwargsrepr header (saferepr of the kwargs dict)', () => {
  it('formats dicts with Python quoting', () => {
    assert.equal(kwargsRepr({}), '{}');
    assert.equal(kwargsRepr({ y: 2 }), "{'y': 2}");
    assert.equal(kwargsRepr({ y: 2, name: "O'Brien" }), "{'y': 2, 'name': 'O\\'Brien'}");
    assert.equal(kwargsRepr({ flag: true, none: null, list: [1, 'a'] }), "{'flag': True, 'none': None, 'list': [1, 'a']}");
  });

  it('leaves out undefined values, which JSON leaves out too', () => {
    assert.equal(kwargsRepr({ a: 1, b: undefined }), "{'a': 1}");
  });

  it('stops at three levels and truncates like saferepr', () => {
    assert.equal(kwargsRepr({ a: { b: { c: { d: 1 } } } }), "{'a': {'b': {'c': {...}}}}");
    assert.equal(kwargsRepr({ abc: [1, 2, 3] }, 8), "{'abc': , ...]}");
    assert.equal(kwargsRepr({ k: 'v'.repeat(2000) }, 50), `{'k': '${'v'.repeat(44)}...', ...`);
  });
});
