/**
 * A worker's log says when its Redis connection drops and when it is back: one line each, however
 * many reconnect attempts lie between. Runs a redis-server of its own (port 16330), killed here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RedisTransport } from '../../src/broker/redis/transport.js';
import { captureLog } from '../helpers/app.js';
import { PrivateRedis, redisServerSkip } from '../helpers/redis-server.js';
import { until } from '../helpers/until.js';

describe('the Redis connection in the log', { skip: redisServerSkip }, () => {
  it('one line when the connection is lost, one when it is restored', { timeout: 60_000 }, async () => {
    const server = new PrivateRedis(16330);
    await server.start();
    const log = captureLog();
    const transport = new RedisTransport({ url: server.url(), transportOptions: { connectTimeout: 5 }, logger: log.logger });
    try {
      await transport.connect();
      await server.kill();
      await until(() => log.grep('lost; reconnecting').length === 1, 'the lost line', { timeout: 10_000 });
      await new Promise((r) => setTimeout(r, 2500)); // several failed reconnects meanwhile
      await server.start();
      await until(() => log.grep('restored after').length === 1, 'the restored line', { timeout: 20_000 });
      assert.equal(log.grep('lost; reconnecting').length, 1, log.lines.join('\n'));
      assert.match(log.grep('restored after')[0]!, /WARNING.*redis broker: connection to redis:\/\/127\.0\.0\.1:16330\/0 restored after \d+\.\d s/);
      await transport.close();
      assert.equal(log.grep('lost; reconnecting').length, 1, 'closing is not a lost connection');
    } finally {
      await transport.close().catch(() => undefined);
      await server.kill();
    }
  });
});
