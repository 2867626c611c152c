import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RemoteTaskError, States } from '../../src/index.js';
import { testApp, withWorker } from '../helpers/app.js';
import { HttpError } from '../fixtures/errors.js';

class QuotaExceeded extends Error {
  constructor(
    message: string,
    readonly limit: number,
  ) {
    super(message);
    this.name = 'QuotaExceeded';
  }
}

describe('errors crossing the result backend', () => {
  it("rebuilds a class in the task's throws, or registered with registerErrorClass, with its fields", async () => {
    const { app } = testApp();
    const fetchIt = app.task(function fetchIt(url: string) {
      throw new HttpError(`no ${url}`, 404);
    }, { name: 'tasks.fetch_it', throws: [HttpError] });
    const spend = app.task(function spend() {
      throw new QuotaExceeded('over quota', 10);
    }, { name: 'tasks.spend' });
    app.registerErrorClass(QuotaExceeded);
    await withWorker(app, async () => {
      const r = await fetchIt.delay('/x');
      await assert.rejects(r.get({ timeout: 5 }), (err: unknown) => {
        assert.ok(err instanceof HttpError, 'instanceof the class');
        assert.equal(err.statusCode, 404);
        assert.equal(err.message, 'no /x');
        assert.equal(err.name, 'HttpError');
        return true;
      });
      assert.equal(await r.state(), States.FAILURE);
      const info = await r.info();
      assert.ok(info instanceof HttpError && info.statusCode === 404);
      assert.deepEqual((await r.meta()).result, { exc_type: 'HttpError', exc_message: ['no /x'], exc_module: 'celeriac', exc_fields: { statusCode: 404 } });
      await assert.rejects((await spend.delay()).get({ timeout: 5 }), (err: unknown) => err instanceof QuotaExceeded && err.limit === 10);
    });
  });

  it('keeps the fields on the error even where the class is unknown', async () => {
    const { app } = testApp();
    const t = app.task(function fails() {
      throw new QuotaExceeded('over', 3);
    }, { name: 'tasks.fails' });
    await withWorker(app, async () => {
      await assert.rejects((await t.delay()).get({ timeout: 5 }), (err: unknown) => {
        assert.ok(err instanceof RemoteTaskError);
        assert.equal(err.name, 'QuotaExceeded');
        assert.equal((err as unknown as { limit: number }).limit, 3);
        return true;
      });
    });
  });
});
