/** The conformance suites against the memory driver (one transport/backend per app). */
import { MemoryBackend } from '../../src/backends/memory/backend.js';
import { MemoryTransport } from '../../src/broker/memory/transport.js';
import { backendConformance } from './backend-suite.js';
import { brokerConformance } from './broker-suite.js';

brokerConformance('memory://', async () => {
  const transport = new MemoryTransport({ url: 'memory://', transportOptions: {} });
  return {
    connect: async () => {
      await transport.connect();
      return transport;
    },
    features: { priorities: true, fanout: true, topic: true, sharedAcrossConnections: false },
    teardown: async () => undefined,
  };
});

backendConformance('memory://', async () => {
  const backend = new MemoryBackend({ expiresSeconds: 60 });
  await backend.connect();
  return {
    create: async () => backend,
    features: { chords: true, sharedAcrossConnections: false },
    teardown: async () => undefined,
  };
});
