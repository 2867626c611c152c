import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LeaseKeeper } from '../../src/broker/lease/keeper.js';
import { HeldTableReader, HeldTableWriter, MAX_ID_BYTES } from '../../src/broker/lease/shared-table.js';
import { captureLog } from '../helpers/app.js';
import { serviceSkip } from '../helpers/services.js';

const MODULE = new URL('../fixtures/lease-renewer.ts', import.meta.url);

function lines(file: string): Array<{ at?: number; ids?: string[]; closed?: boolean }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { at?: number; ids?: string[] });
}

describe('lease keeper', () => {
  it('renews the held set from its own thread, also while the main event loop is blocked', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lease-')), 'renewals.jsonl');
    const log = captureLog();
    const keeper = await LeaseKeeper.start({ module: MODULE, config: { file }, intervalMs: 50, logger: log.logger });
    keeper.hold('a', 'b', 'c');
    keeper.release('b');
    await new Promise((r) => setTimeout(r, 120));
    const blockedFrom = Date.now();
    while (Date.now() - blockedFrom < 600) {
      // A CPU-bound task holding the event loop.
    }
    const blockedTo = Date.now();
    await keeper.close();
    const all = lines(file);
    const during = all.filter((l) => l.at !== undefined && l.at > blockedFrom && l.at < blockedTo);
    assert.ok(during.length >= 5, `expected renewals while blocked, saw ${during.length}`);
    for (const l of during) assert.deepEqual(l.ids, ['a', 'c']);
    assert.deepEqual(all.at(-1), { closed: true }, 'the renewer is closed with the keeper');
    assert.deepEqual(log.grep('lease renewal failed'), []);
  });

  it('renews ids too long or not ASCII for the shared table as well, and forgets them once released', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lease-')), 'renewals.jsonl');
    const keeper = await LeaseKeeper.start({ module: MODULE, config: { file }, intervalMs: 1000, logger: captureLog().logger });
    const long = 'x'.repeat(MAX_ID_BYTES + 1);
    keeper.hold('short', long, 'tâche');
    keeper.renewNow();
    await new Promise((r) => setTimeout(r, 150));
    keeper.release(long, 'short');
    keeper.renewNow();
    await new Promise((r) => setTimeout(r, 150));
    await keeper.close();
    const rounds = lines(file).filter((l) => l.ids).map((l) => [...l.ids!].sort());
    assert.deepEqual(rounds, [[long, 'short', 'tâche'].sort(), ['tâche']]);
  });

  it('fails to start with a clear error when the renewer module has no createRenewer', async () => {
    await assert.rejects(
      LeaseKeeper.start({ module: new URL('../fixtures/pool-app.ts', import.meta.url), config: {}, intervalMs: 50, logger: captureLog().logger }),
      /exports no createRenewer/,
    );
  });
});

describe('shared held table', () => {
  it('shows the reader exactly the held ids, across chunks and reused slots', () => {
    const reader = new HeldTableReader();
    const writer = new HeldTableWriter((buffer) => reader.addChunk(buffer));
    const ids = Array.from({ length: 5000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    for (const id of ids) assert.equal(writer.hold(id), true);
    for (const id of ids.slice(0, 3000)) assert.equal(writer.release(id), true);
    const again = ['reused-a', 'reused-b'];
    for (const id of again) writer.hold(id);
    assert.equal(writer.release('never-held'), false);
    assert.equal(writer.hold('x'.repeat(MAX_ID_BYTES + 1)), false, 'too long for a slot');
    assert.equal(writer.hold('tâche'), false, 'not ASCII');
    assert.equal(writer.size, 2002);
    assert.deepEqual(reader.read().sort(), [...ids.slice(3000), ...again].sort());
  });
});

describe('redis lease renewer', async () => {
  const skip = await serviceSkip('redis');
  it('moves the unacked_index score of held tags only, from its own connection', { skip }, async () => {
    const { Redis } = await import('ioredis');
    const url = 'redis://127.0.0.1:6379/11';
    const redis = new Redis(url);
    const key = `lease-test-${process.pid}-unacked_index`;
    try {
      await redis.zadd(key, 1, 'held', 1, 'other');
      const keeper = await LeaseKeeper.start({
        module: new URL('../../src/broker/lease/redis-renewer.ts', import.meta.url),
        config: { url, unackedIndexKey: key },
        intervalMs: 30,
        logger: captureLog().logger,
      });
      keeper.hold('held', 'acked-meanwhile');
      await new Promise((r) => setTimeout(r, 150));
      await keeper.close();
      const held = Number(await redis.zscore(key, 'held'));
      assert.ok(Math.abs(held - Date.now() / 1000) < 5, `score renewed to now, got ${held}`);
      assert.equal(Number(await redis.zscore(key, 'other')), 1, 'tags not held are left alone');
      assert.equal(await redis.zscore(key, 'acked-meanwhile'), null, 'a tag no longer in the index is not re-added');
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });
});
