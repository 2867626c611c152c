/**
 * Hostile-message generator for the chaos suite: 26 classes of messages a worker must refuse
 * (each with one clear log line, never running them, never crashing), in the Celery v2 shape
 * where one field at a time is broken, plus two Redis-only classes that break kombu's envelope
 * itself. Every hostile message names the task `GOOD_TASK` with args `["bad:<class>:<n>"]`: one
 * that slips through runs and shows up in the run log as a bad run.
 */
import { brotliCompress, constants, createDeflate } from 'node:zlib';
import { encodeTaskMessage, type TransportMessage } from '../../src/index.js';
import { jsonCodecs } from '../protocol/wire-samples.js';

/** The task every message (good or bad) names. */
export const GOOD_TASK = 'chaos.good';

/** Sizes of the big classes, in bytes. */
export interface HostileSizes {
  /** What a bomb inflates to. @defaultValue 128 MiB */
  bomb: number;
  /** A plain body over the default 16 MiB limit. @defaultValue 17 MiB */
  huge: number;
  /** Nesting depth of the deep body. @defaultValue 100,000 */
  depth: number;
}

/** One hostile class: how to break a message. */
export interface HostileClass {
  readonly name: string;
  /** Big ones (huge body, bombs) are sent at most a few times, to keep the suite's size bounded. */
  readonly heavy: boolean;
  /** Broken at kombu's Redis envelope level: a raw string to LPUSH instead of a message. */
  readonly redisOnly?: boolean;
  make(base: TransportMessage, n: number): TransportMessage | string;
}

/** A good task message: `GOOD_TASK` with args `[tag]`. */
export function taskMessage(id: string, tag: string): TransportMessage {
  return encodeTaskMessage({ task: GOOD_TASK, id, args: [tag], kwargs: {}, origin: 'chaos', serializer: 'json' }, jsonCodecs());
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const withHeaders = (m: TransportMessage, h: Record<string, unknown>): TransportMessage => ({ ...m, headers: { ...m.headers, ...h } });

async function deflateZeros(size: number): Promise<Buffer> {
  const z = createDeflate({ level: 1 });
  const chunks: Buffer[] = [];
  z.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => z.on('end', resolve).on('error', reject));
  const block = Buffer.alloc(Math.min(size, 1 << 20), 0x30);
  z.write('[["');
  for (let left = size; left > 0; left -= block.length) {
    if (!z.write(left >= block.length ? block : block.subarray(0, left))) await new Promise((r) => z.once('drain', r));
  }
  z.end('"], {}, {}]');
  await done;
  return Buffer.concat(chunks);
}

/** The 26 message-level classes and 2 Redis envelope classes, with their bombs built once. */
export async function hostileClasses(sizes: Partial<HostileSizes> = {}): Promise<HostileClass[]> {
  const bombSize = sizes.bomb ?? 128 * 1024 * 1024;
  const hugeSize = sizes.huge ?? 17 * 1024 * 1024;
  const depth = sizes.depth ?? 100_000;
  const zlibBomb = await deflateZeros(bombSize);
  const brotliBomb = await new Promise<Buffer>((resolve, reject) =>
    brotliCompress(Buffer.alloc(bombSize, 0x30), { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }, (err, out) => (err ? reject(err) : resolve(out))),
  );
  const deep = Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`);
  const bz2 = Buffer.concat([Buffer.from('BZh91AY&SY'), Buffer.alloc(4096, 0)]);
  const c = (name: string, make: HostileClass['make'], heavy = false): HostileClass => ({ name, heavy, make });
  return [
    c('not-json', (m) => ({ ...m, body: Buffer.from('{"args": [1, 2') })),
    c('json-scalar-body', (m) => ({ ...m, body: json('just a string') })),
    c('v1-envelope-without-task', (m) => ({ ...m, headers: {}, body: json({ id: 'x', args: [] }) })),
    c('v2-body-not-a-list', (m) => ({ ...m, body: json({ args: [], kwargs: {} }) })),
    c('args-not-a-list', (m) => ({ ...m, body: json([1, {}, {}]) })),
    c('kwargs-not-a-dict', (m) => ({ ...m, body: json([['bad'], ['x'], {}]) })),
    c('bad-base64-binary', (m) => ({ ...m, body: Buffer.from('\x00\x01\x02\xfe\xff=====not base64 at all', 'latin1') })),
    c('invalid-utf8', (m, n) => ({ ...m, body: Buffer.concat([Buffer.from(`[["bad:invalid-utf8:${n}`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"], {}, {}]')]) })),
    c('task-header-wrong-type', (m) => withHeaders(m, { task: 12345 })),
    c('id-header-wrong-type', (m) => withHeaders(m, { id: { nested: true } })),
    c('id-missing', (m) => withHeaders(m, { id: null })),
    c('garbage-eta', (m) => withHeaders(m, { eta: 'tomorrow-ish' })),
    c('garbage-expires', (m) => withHeaders(m, { expires: 1.5e12 })),
    c('garbage-retries', (m) => withHeaders(m, { retries: 'many' })),
    c('garbage-timelimit', (m) => withHeaders(m, { timelimit: 'soon' })),
    c('negative-timelimit', (m) => withHeaders(m, { timelimit: [-5, null] })),
    c('proto-keys', (m) => ({ ...withHeaders(m, { task: '__proto__' }), body: Buffer.from('[[], {"__proto__": {"polluted": true}}, {"__proto__": {"x": 1}}]') })),
    c('constructor-task', (m) => withHeaders(m, { task: 'constructor' })),
    c('pickle-content-type', (m) => ({ ...m, contentType: 'application/x-python-serialize', body: Buffer.from('\x80\x04\x95cos\nsystem\n(S"true"\ntR.', 'latin1') })),
    c('yaml-content-type', (m) => ({ ...m, contentType: 'application/x-yaml', body: Buffer.from('!!python/object/apply:os.system ["true"]') })),
    c('compression-header-wrong-type', (m) => withHeaders(m, { compression: ['application/x-gzip'] })),
    c('deeply-nested-body', (m) => ({ ...m, body: deep })),
    c('huge-body', (m, n) => ({ ...m, body: Buffer.concat([Buffer.from(`[["bad:huge-body:${n}`), Buffer.alloc(hugeSize, 0x61), Buffer.from('"], {}, {}]')]) }), true),
    c('zlib-bomb', (m) => ({ ...withHeaders(m, { compression: 'application/x-gzip' }), body: zlibBomb }), true),
    c('brotli-bomb', (m) => ({ ...withHeaders(m, { compression: 'application/x-brotli' }), body: brotliBomb }), true),
    c('bzip2-bomb', (m) => ({ ...withHeaders(m, { compression: 'application/x-bz2' }), body: bz2 })),
    { name: 'redis-envelope-not-json', heavy: false, redisOnly: true, make: (_m, n) => `{"body": "bad:${n}", "properties": ` },
    { name: 'redis-envelope-without-body', heavy: false, redisOnly: true, make: (_m, n) => JSON.stringify({ headers: { task: GOOD_TASK, id: `env-${n}` }, properties: { delivery_tag: `env-${n}` } }) },
  ];
}

/** One message of the mix: a good task, or a hostile one of a class. */
export interface MixItem {
  kind: 'good' | string;
  /** The message to publish, or (Redis envelope classes) the raw text to push. */
  payload: TransportMessage | string;
  /** What the run log shows if it runs: `good:<n>` or `bad:<class>:<n>`. */
  tag: string;
}

/**
 * `good` good tasks and `bad` hostile messages, interleaved (a hostile one after every
 * good/bad-th good one). Heavy classes are sent at most `maxHeavy` times each; the light classes
 * share the rest in turn. Redis envelope classes only when `redis`.
 */
export function mix(classes: readonly HostileClass[], good: number, bad: number, options: { redis: boolean; maxHeavy?: number; runId: string }): MixItem[] {
  const usable = classes.filter((k) => options.redis || !k.redisOnly);
  const light = usable.filter((k) => !k.heavy);
  const heavyLeft = new Map(usable.filter((k) => k.heavy).map((k) => [k, options.maxHeavy ?? 3]));
  const hostile: MixItem[] = [];
  for (let i = 0; hostile.length < bad; i++) {
    const heavy = [...heavyLeft].find(([, left]) => left > 0)?.[0];
    // A heavy one every 25th, while any remain.
    const k = heavy && i % 25 === 24 ? heavy : light[i % light.length]!;
    if (k.heavy) heavyLeft.set(k, heavyLeft.get(k)! - 1);
    const tag = `bad:${k.name}:${i}`;
    hostile.push({ kind: k.name, tag, payload: k.make(taskMessage(`${options.runId}-bad-${i}`, tag), i) });
  }
  const out: MixItem[] = [];
  let h = 0;
  for (let g = 0; g < good; g++) {
    const tag = `good:${g}`;
    out.push({ kind: 'good', tag, payload: taskMessage(`${options.runId}-good-${g}`, tag) });
    while (h < bad && h * good <= g * bad) out.push(hostile[h++]!);
  }
  while (h < bad) out.push(hostile[h++]!);
  return out;
}
