/**
 * The backend conformance suite against the database backend, in Celery's table layout: SQLite
 * always, PostgreSQL and MariaDB when reachable, each in a database of its own.
 */
import { SqlBackend } from '../../src/backends/sql/backend.js';
import type { Dialect } from '../../src/backends/sql/drivers.js';
import { serviceSkip } from '../helpers/services.js';
import { privateDatabase } from '../helpers/sql.js';
import { backendConformance } from './backend-suite.js';

function harnessFor(dialect: Dialect) {
  return async () => {
    const db = await privateDatabase(dialect);
    return {
      create: async () => {
        const b = new SqlBackend({ url: db.url, expiresSeconds: 3600, backendOptions: {} });
        await b.connect();
        return b;
      },
      // Celery's tables have no columns for children, parent and group ids; MySQL's BLOB holds 64 KiB.
      features: { chords: false, sharedAcrossConnections: true, keepsLinks: false, ...(dialect === 'mysql' ? { maxValueBytes: 65535 } : {}) },
      teardown: () => db.drop(),
    };
  };
}

backendConformance('db+sqlite://', harnessFor('sqlite'));

backendConformance('db+postgresql://', async () => (await serviceSkip('postgres')) || harnessFor('postgresql')());

backendConformance('db+mysql://', async () => (await serviceSkip('mysql')) || harnessFor('mysql')());
