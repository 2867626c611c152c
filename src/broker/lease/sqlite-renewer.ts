/**
 * Lease renewer for the SQLite broker (loaded inside the lease thread, see ./keeper.ts): pushes
 * `visible_at` of every held message a visibility timeout into the future, on its own connection.
 * Held ids are `<message id>|<consumer id>`; a row is only touched while that consumer still
 * holds it, so a renewal racing an ack or a restore changes nothing.
 */
import type { LeaseRenewer } from './keeper.js';

/** What the thread needs. */
export interface SqliteRenewerConfig {
  path: string;
  visibilityMs: number;
}

/** Opens a dedicated connection and returns the renewer. */
export async function createRenewer(config: unknown): Promise<LeaseRenewer> {
  const { path, visibilityMs } = config as SqliteRenewerConfig;
  const { openDatabase } = await import('../sqlite/store.js');
  const db = await openDatabase(path);
  const stmt = db.prepare('UPDATE celeriac_messages SET visible_at = ? WHERE id = ? AND reserved_by = ?');
  const renewAll = db.transaction((ids: readonly string[], until: number) => {
    for (const held of ids) {
      const bar = held.indexOf('|');
      stmt.run(until, Number(held.slice(0, bar)), held.slice(bar + 1));
    }
  });
  return {
    async renew(ids) {
      renewAll(ids, Date.now() + visibilityMs);
    },
    async close() {
      db.close();
    },
  };
}
