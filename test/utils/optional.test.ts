import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ImproperlyConfigured } from '../../src/index.js';
import { loadOptional } from '../../src/utils/optional.js';

describe('optional packages', () => {
  it('a missing package is ImproperlyConfigured naming it and the install command', async () => {
    const pkg = 'celeriac-test-no-such-driver';
    await assert.rejects(
      loadOptional(pkg, 'redis://', () => import(pkg)),
      (err: unknown) => {
        assert.ok(err instanceof ImproperlyConfigured);
        assert.equal(err.message, `redis:// needs ${pkg}: npm install ${pkg}`);
        return true;
      },
    );
  });

  it('a package that fails to load for another reason says so, with the cause', async () => {
    const cause = new Error('boom at load');
    await assert.rejects(
      loadOptional('ioredis', 'redis://', () => Promise.reject(cause)),
      (err: unknown) => err instanceof ImproperlyConfigured && err.message === 'redis:// could not load ioredis: boom at load' && err.cause === cause,
    );
  });

  it('an installed package loads', async () => {
    const mod = await loadOptional('ioredis', 'redis://', () => import('ioredis'));
    assert.equal(typeof mod.Redis, 'function');
  });
});
