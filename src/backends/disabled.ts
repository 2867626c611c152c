/**
 * The backend of an app with no `result_backend`: stores nothing, and any attempt to read a
 * result says clearly that no backend is configured.
 */
import { ImproperlyConfigured } from '../errors/index.js';
import type { GroupMeta, ResultBackend, TaskMeta } from './port.js';

function refuse(): never {
  throw new ImproperlyConfigured(
    'no result backend is configured: pass { backend: "<url>" } to the app (or set CELERIAC_RESULT_BACKEND) to read results',
  );
}

/** A backend that keeps nothing. */
export class DisabledBackend implements ResultBackend {
  readonly driver = 'disabled';
  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  async storeResult(_meta: TaskMeta): Promise<void> {}
  async getTaskMeta(_taskId: string): Promise<TaskMeta> {
    return refuse();
  }
  async waitFor(_taskId: string): Promise<TaskMeta> {
    return refuse();
  }
  async forget(_taskId: string): Promise<void> {}
  async saveGroup(_groupId: string, _meta: GroupMeta): Promise<void> {
    refuse();
  }
  async restoreGroup(_groupId: string): Promise<GroupMeta | null> {
    return refuse();
  }
  async deleteGroup(_groupId: string): Promise<void> {}
  async cleanup(): Promise<void> {}
}
