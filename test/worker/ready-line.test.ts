import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { testApp, withWorker } from '../helpers/app.js';

describe("the worker's ready line", () => {
  it('names the SQLite files of the broker and the result backend by absolute path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-ready-'));
    const file = join(dir, 'celeriac.sqlite');
    const { app, log } = testApp({ broker: `sqlite:///${file}`, backend: `db+sqlite:///${file}` });
    app.task(function noop() {}, { name: 'ready.noop' });
    await withWorker(app, async () => {
      const [line] = log.grep(' ready: ');
      assert.ok(line, 'a ready line');
      assert.ok(line.includes(`broker sqlite file ${file}`), line);
      assert.ok(line.includes(`results db+sqlite file ${file}`), line);
    });
  });

  it('shows other URLs without their password', async () => {
    const { app, log } = testApp({ backend: null });
    await withWorker(app, async () => {
      const [line] = log.grep(' ready: ');
      assert.ok(line?.includes('broker memory://, results disabled'), line);
    });
  });
});
