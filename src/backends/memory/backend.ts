/**
 * Memory result backend: `memory://` (or `cache+memory://`, Celery's name for it).
 *
 * Features: Celery's key-value records, expiry (`result_expires`), push notification to waiting
 * `get()` calls (no polling). State belongs to the instance (one per app). One process only.
 */
import { EventEmitter } from 'node:events';
import { KeyValueBackend, type KeyValueStore } from '../base.js';
import type { BackendOptions } from '../port.js';

class MemoryStore implements KeyValueStore {
  private readonly data = new Map<string, { value: string; expiresAt: number }>();
  private readonly events = new EventEmitter().setMaxListeners(0);

  async connect(): Promise<void> {}
  async close(): Promise<void> {}

  async get(key: string): Promise<string | null> {
    const entry = this.data.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= Date.now()) {
      this.data.delete(key);
      return null;
    }
    return entry.value;
  }

  async set(key: string, value: string, ttlSeconds: number | null): Promise<void> {
    this.data.set(key, { value, expiresAt: ttlSeconds === null ? Infinity : Date.now() + ttlSeconds * 1000 });
    this.events.emit(key);
  }

  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }

  async incr(key: string, ttlSeconds: number | null): Promise<number> {
    // Read and write in one synchronous step: concurrent callers must each see their own count.
    const entry = this.data.get(key);
    const current = entry && entry.expiresAt > Date.now() ? Number(entry.value) : 0;
    const next = current + 1;
    this.data.set(key, { value: String(next), expiresAt: ttlSeconds === null ? Infinity : Date.now() + ttlSeconds * 1000 });
    return next;
  }

  async subscribe(key: string, onChange: () => void): Promise<{ unsubscribe(): Promise<void> }> {
    this.events.on(key, onChange);
    return {
      unsubscribe: async () => {
        this.events.off(key, onChange);
      },
    };
  }
}

/** The in-memory result backend. */
export class MemoryBackend extends KeyValueBackend {
  constructor(options: Pick<BackendOptions, 'expiresSeconds'>) {
    super('memory', new MemoryStore(), options.expiresSeconds);
  }
}
