/** The backend conformance suite against the memcached backend (the machine's memcached). */
import { MemcachedBackend } from '../../src/backends/memcached/backend.js';
import { serviceSkip } from '../helpers/services.js';
import { backendConformance } from './backend-suite.js';

backendConformance('cache+memcached://', async () => {
  const skip = await serviceSkip('memcached');
  if (skip) return skip;
  return {
    create: async () => {
      const b = new MemcachedBackend({ url: 'cache+memcached://127.0.0.1:11211/', expiresSeconds: 600, backendOptions: {} });
      await b.connect();
      return b;
    },
    features: { chords: true, sharedAcrossConnections: true },
    teardown: async () => undefined,
  };
});
