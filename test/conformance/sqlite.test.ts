/** The broker conformance suite against the SQLite broker (a fresh file per run). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteTransport } from '../../src/broker/sqlite/transport.js';
import { brokerConformance } from './broker-suite.js';

brokerConformance('sqlite://', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-sqlite-conf-'));
  // An absolute path after sqlite:/// gives SQLAlchemy's four slashes.
  const url = `sqlite:///${join(dir, 'broker.db')}`;
  return {
    connect: async () => {
      const t = new SqliteTransport({ url, transportOptions: { visibilityTimeout: 30 } });
      await t.connect();
      return t;
    },
    features: { priorities: true, fanout: true, topic: true, sharedAcrossConnections: true },
    teardown: async () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
