/** The broker conformance suite against the Redis broker (database 6 of the machine's Redis). */
import { RedisBackend } from '../../src/backends/redis/backend.js';
import { RedisTransport } from '../../src/broker/redis/transport.js';
import { serviceSkip } from '../helpers/services.js';
import { backendConformance } from './backend-suite.js';
import { brokerConformance } from './broker-suite.js';

const URL = 'redis://127.0.0.1:6379/6';

brokerConformance('redis://', async () => {
  const skip = await serviceSkip('redis');
  if (skip) return skip;
  return {
    connect: async () => {
      const t = new RedisTransport({ url: URL, transportOptions: { visibilityTimeout: 30 } });
      await t.connect();
      return t;
    },
    // Priorities on Redis follow kombu (lower numbers first): tested in test/broker/redis.test.ts.
    features: { priorities: false, fanout: true, topic: true, sharedAcrossConnections: true },
    teardown: async () => {
      const t = new RedisTransport({ url: URL, transportOptions: {} });
      await t.connect();
      await t.client.flushdb();
      await t.close();
    },
  };
});

backendConformance('redis:// (results)', async () => {
  const skip = await serviceSkip('redis');
  if (skip) return skip;
  return {
    create: async () => {
      const b = new RedisBackend({ url: 'redis://127.0.0.1:6379/7', expiresSeconds: 600, backendOptions: {} });
      await b.connect();
      return b;
    },
    features: { chords: true, sharedAcrossConnections: true },
    teardown: async () => undefined,
  };
});
