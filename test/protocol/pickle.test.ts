/**
 * The pickle codec against Python's own pickle: bytes Python writes (protocols 0 and 2 to 5) read
 * back as the documented JS values; bytes celeriac writes load in Python as the expected objects;
 * and pickles that would run code are refused without running anything.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DecodeError, EncodeError } from '../../src/errors/index.js';
import { PyCall, pickle } from '../../src/protocol/pickle/pickle.js';
import { unpickle } from '../../src/protocol/pickle/unpickle.js';
import { PYTHON, pythonSkip } from '../helpers/python.js';

/** Runs a Python script; returns its stdout lines. */
function python(script: string, input = ''): string[] {
  const r = spawnSync(PYTHON, ['-c', script], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout.trim().split('\n');
}

/** Python expression → the JS value celeriac must read. */
const CASES: Array<[string, unknown]> = [
  ['None', null],
  ['True', true],
  ['False', false],
  ['0', 0],
  ['255', 255],
  ['65535', 65535],
  ['-1', -1],
  ['2**31 - 1', 2 ** 31 - 1],
  ['-(2**31)', -(2 ** 31)],
  ['2**40', 2 ** 40],
  ['2**53 - 1', Number.MAX_SAFE_INTEGER],
  ['2**53', 2n ** 53n],
  ['2**63', 2n ** 63n],
  ['-(2**63) - 1', -(2n ** 63n) - 1n],
  ['2**70', 2n ** 70n],
  ['10**400', 10n ** 400n],
  ['1.5', 1.5],
  ['-0.0', -0],
  ['1e300', 1e300],
  ["float('inf')", Infinity],
  ["''", ''],
  ["'text'", 'text'],
  ["'ünïcødé ✓ 中文 😀'", 'ünïcødé ✓ 中文 😀'],
  ["'x' * 70000", 'x'.repeat(70000)],
  ["b'\\x00\\xffraw'", Buffer.from([0, 255, 114, 97, 119])],
  ['[]', []],
  ['[1, [2, [3]], "a", None]', [1, [2, [3]], 'a', null]],
  ['(1, "two", 3.0)', [1, 'two', 3]],
  ['()', []],
  ['(1,)', [1]],
  ['list(range(2500))', Array.from({ length: 2500 }, (_, i) => i)],
  ['{}', {}],
  ['{"a": 1, "b": {"c": [True, None]}, "__proto__": "data"}', JSON.parse('{"a":1,"b":{"c":[true,null]},"__proto__":"data"}')],
  ['{1: "one", 2.5: "x", None: "n", False: "f"}', { 1: 'one', 2.5: 'x', null: 'n', false: 'f' }],
  ['{str(i): i for i in range(1500)}', Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [String(i), i]))],
  ["{'exc_type': 'ValueError', 'exc_message': ('bad value',), 'exc_module': 'builtins'}", { exc_type: 'ValueError', exc_message: ['bad value'], exc_module: 'builtins' }],
  ['datetime.datetime(2026, 12, 1, 3, 4, 5, 678901)', new Date(Date.UTC(2026, 11, 1, 3, 4, 5, 678))],
  ['datetime.datetime(2026, 12, 1, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))', new Date(Date.UTC(2026, 11, 1, 1, 4, 5))],
  ['datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)', new Date(Date.UTC(2026, 11, 1))],
  ['datetime.date(1999, 12, 31)', new Date(Date.UTC(1999, 11, 31))],
  ['datetime.timedelta(days=1, seconds=2, microseconds=500000)', 86402.5],
  ['collections.OrderedDict([("z", 1), ("a", 2)])', { z: 1, a: 2 }],
  ['{1, 2}', [1, 2]],
  ['frozenset()', []],
  ['bytearray(b"ab")', Buffer.from('ab')],
  ['[s := "shared", s, s]', ['shared', 'shared', 'shared']],
];

describe('unpickle: bytes written by Python pickle', { skip: pythonSkip(['pickle']) }, () => {
  for (const protocol of [0, 2, 3, 4, 5]) {
    it(`reads every data value of protocol ${protocol}`, () => {
      const lines = python(
        'import base64, collections, datetime, pickle, sys\n' +
          `for expr in sys.stdin.read().split("\\0"):\n    print(base64.b64encode(pickle.dumps(eval(expr), protocol=${protocol})).decode())`,
        CASES.map(([expr]) => expr).join('\0'),
      );
      assert.equal(lines.length, CASES.length);
      CASES.forEach(([expr, expected], i) => {
        const value = unpickle(Buffer.from(lines[i]!, 'base64'));
        assert.deepEqual(value, expected, `protocol ${protocol}: ${expr}`);
        if (Object.is(expected, -0)) assert.ok(Object.is(value, -0), 'keeps -0.0');
      });
    });
  }

  it("reads a pickled Celery GroupResult (the database backend's celery_tasksetmeta.result) as its tuple form", () => {
    const lines = python(
      'import base64, pickle\nfrom celery import Celery\nfrom celery.result import AsyncResult, GroupResult\n' +
        "app = Celery('x', backend='db+sqlite:///' + '/tmp/never-opened.db')\n" +
        "g = GroupResult('g1', [AsyncResult('a', app=app), AsyncResult('b', app=app, parent=AsyncResult('p', app=app))], app=app)\n" +
        'for p in (0, 2, 3, 4, 5):\n    print(base64.b64encode(pickle.dumps(g, protocol=p)).decode())',
    );
    assert.equal(lines.length, 5);
    for (const line of lines) {
      assert.deepEqual(unpickle(Buffer.from(line, 'base64')), [['g1', null], [[['a', null], null], [['b', [['p', null], null]], null]]]);
    }
  });
});

describe('pickle: bytes Python reads', { skip: pythonSkip(['pickle']) }, () => {
  /** JS value → Python's repr of what it unpickles to. */
  const WRITES: Array<[unknown, string]> = [
    [null, 'None'],
    [undefined, 'None'],
    [true, 'True'],
    [0, '0'],
    [200, '200'],
    [60000, '60000'],
    [-5, '-5'],
    [2 ** 40, '1099511627776'],
    [-(2 ** 40), '-1099511627776'],
    [2n ** 64n, '18446744073709551616'],
    [-(2n ** 63n), '-9223372036854775808'],
    [-128n, '-128'],
    [255n, '255'],
    [10n ** 700n, String(10n ** 700n)],
    [1.5, '1.5'],
    [-0, '-0.0'],
    [Number.NaN, 'nan'],
    [2 ** 60, '1.152921504606847e+18'],
    ['ünïcødé ✓ 中文 😀', "'ünïcødé ✓ 中文 😀'"],
    ['x'.repeat(300), `'${'x'.repeat(300)}'`],
    [Buffer.from([0, 1, 255]), "b'\\x00\\x01\\xff'"],
    [new Uint8Array(300).fill(7), `b'${'\\x07'.repeat(300)}'`],
    [[1, [2, 'a'], null], "[1, [2, 'a'], None]"],
    [Array.from({ length: 2001 }, () => 1), `[${Array(2001).fill('1').join(', ')}]`],
    [{ a: 1, skip: undefined, b: { c: [true] } }, "{'a': 1, 'b': {'c': [True]}}"],
    [Object.fromEntries([['__proto__', 1]]), "{'__proto__': 1}"],
    [new Date(Date.UTC(2026, 11, 1, 3, 4, 5, 678)), 'datetime.datetime(2026, 12, 1, 3, 4, 5, 678000)'],
    [{ toJSON: () => 'custom' }, "'custom'"],
    [new PyCall('celery.result', 'GroupResult', ['g1', []]), 'GroupResult']
  ];

  it('writes values Python loads as the expected objects', () => {
    const lines = python(
      'import base64, datetime, pickle, sys\n' +
        'for line in sys.stdin.read().split():\n' +
        '    v = pickle.loads(base64.b64decode(line))\n' +
        '    print(type(v).__name__ if type(v).__name__ == "GroupResult" else repr(v))',
      WRITES.map(([v]) => pickle(v).toString('base64')).join('\n'),
    );
    assert.deepEqual(lines, WRITES.map(([, repr]) => repr));
  });

  it('round-trips through its own reader', () => {
    const value = { n: 2n ** 80n, list: [1, 'two', 3.5, null, false], when: new Date(Date.UTC(2020, 1, 29)), raw: Buffer.from('x') };
    assert.deepEqual(unpickle(pickle(value)), value);
  });

  it('refuses values Python would read differently, naming where they are', () => {
    for (const [value, where] of [
      [{ a: [1, new Map()] }, /Map at value\.a\[1\]/],
      [{ f: () => 1 }, /function at value\.f/],
      [[Symbol('s')], /symbol/],
      [new (class Point { x = 1 })(), /Point/],
      [new Set([1]), /Set/],
      [new Date(Number.NaN), /invalid Date/],
    ] as Array<[unknown, RegExp]>) {
      assert.throws(() => pickle(value), (e: Error) => e instanceof EncodeError && where.test(e.message), String(where));
    }
    const cycle: unknown[] = [];
    cycle.push(cycle);
    assert.throws(() => pickle(cycle), EncodeError);
  });
});

describe('unpickle: pickles that would run code', { skip: pythonSkip(['pickle']) }, () => {
  const marker = join(mkdtempSync(join(tmpdir(), 'celeriac-pickle-')), 'ran');
  /** Python expressions whose pickles make Python call something. */
  const MALICIOUS: Array<[string, RegExp]> = [
    [`type('E', (), {'__reduce__': lambda s: (__import__('os').system, ('touch ${marker}',))})()`, /posix\.system|os\.system/],
    [`type('E', (), {'__reduce__': lambda s: (eval, ('1+1',))})()`, /\.eval: refused/],
    ["ValueError('boom')", /\.ValueError: refused/],
    ['type', /\.type: refused/],
    ["__import__('celery.result', fromlist=['x']).AsyncResult", /celery\.result\.AsyncResult used as a value/],
    ["[__import__('datetime').timezone.utc]", /tzinfo used as a value/],
  ];

  for (const protocol of [0, 2, 5]) {
    it(`refuses other globals with a clear error and never calls them (protocol ${protocol})`, () => {
      const lines = python(
        'import base64, pickle, sys\n' +
          `for expr in sys.stdin.read().split("\\0"):\n    print(base64.b64encode(pickle.dumps(eval(expr), protocol=${protocol})).decode())`,
        MALICIOUS.map(([expr]) => expr).join('\0'),
      );
      MALICIOUS.forEach(([expr, message], i) => {
        assert.throws(() => unpickle(Buffer.from(lines[i]!, 'base64')), (e: Error) => e instanceof DecodeError && message.test(e.message), expr);
      });
      assert.equal(existsSync(marker), false, 'nothing ran');
    });
  }

  it('refuses object-building opcodes by name, and malformed input', () => {
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.from('\x80\x02}b.', 'latin1'), /BUILD refused/], // dict.__setstate__
      [Buffer.from('(ios\nsystem\nS"true"\no.', 'latin1'), /INST refused/],
      [Buffer.from('\x80\x02)\x81.', 'latin1'), /NEWOBJ refused/],
      [Buffer.from('\x80\x02\x82\x01.', 'latin1'), /EXT1 refused/],
      [Buffer.from('P1\n.', 'latin1'), /PERSID refused/],
      [Buffer.from('\x80\x05\x97.', 'latin1'), /NEXT_BUFFER refused/],
      [Buffer.from('cbuiltins\nexec\n.', 'latin1'), /builtins\.exec: refused/],
      [Buffer.from('\x80\x04\x8c\x08datetime\x8c\x08datetime\x93K\x01R.', 'latin1'), /REDUCE arguments are not a tuple/],
      [Buffer.from('\x80\x04K\x01)R.', 'latin1'), /not an allowed global/],
      [Buffer.from('\x80\x04\x8c\x0aceleriac.x\x8c\x01y\x93.', 'latin1'), /celeriac\.x\.y: refused/],
      [Buffer.from('\x80\x04X\xff\xff\xff\x00ab.', 'latin1'), /truncated/],
      [Buffer.from('\x80\x04K\x01', 'latin1'), /truncated/],
      [Buffer.from('\x80\x04h\x05.', 'latin1'), /memo key 5/],
      [Buffer.from('\x80\x04.', 'latin1'), /underflow/],
      [Buffer.from('\x80\x04\xff.', 'latin1'), /unknown opcode 0xff/],
      [Buffer.from('\x80\x04(K\x01K\x02\x8c\x04tupl\x93.', 'latin1'), /STACK_GLOBAL needs two strings|unexpected MARK|refused/],
      [Buffer.from('\x80\x04]K\x01K\x02s.', 'latin1'), /SETITEM on something that is not a dict/],
      // A builder never passes a global through into the data it builds.
      [Buffer.from('\x80\x04\x8c\x0dcelery.result\x8c\x0bAsyncResult\x93(\x8c\x01xNNN\x8c\x08datetime\x8c\x08datetime\x93tR.', 'latin1'), /result parent is not a result/],
      [Buffer.from('\x80\x04\x8c\x08builtins\x8c\x03set\x93]\x8c\x08datetime\x8c\x04date\x93a\x85R.', 'latin1'), /datetime\.date used as a value/],
    ];
    for (const [bytes, message] of cases) {
      assert.throws(() => unpickle(bytes), (e: Error) => e instanceof DecodeError && message.test(e.message), String(message));
    }
  });
});
