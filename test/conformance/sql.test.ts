/** The backend conformance suite against the database backend: SQLite always, PostgreSQL and MariaDB when reachable. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlBackend } from '../../src/backends/sql/backend.js';
import { serviceSkip } from '../helpers/services.js';
import { backendConformance } from './backend-suite.js';

function harnessFor(url: string, cleanup: () => void = () => undefined) {
  return {
    create: async () => {
      const b = new SqlBackend({ url, expiresSeconds: 3600, backendOptions: {} });
      await b.connect();
      return b;
    },
    features: { chords: false, sharedAcrossConnections: true },
    teardown: async () => cleanup(),
  };
}

backendConformance('db+sqlite://', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-sql-conf-'));
  return harnessFor(`db+sqlite:///${join(dir, 'results.db')}`, () => rmSync(dir, { recursive: true, force: true }));
});

backendConformance('db+postgresql://', async () => (await serviceSkip('postgres')) || harnessFor('db+postgresql://postgres@127.0.0.1:5432/test'));

backendConformance('db+mysql://', async () => (await serviceSkip('mysql')) || harnessFor('db+mysql://root@127.0.0.1:3306/test'));
