/**
 * The task registry (`app.tasks`): every task the app knows by name, the built-in `celery.*`
 * tasks included.
 */
import { AlreadyRegistered, NotRegistered } from '../errors/index.js';
import type { Task } from '../task/task.js';

/** Tasks by name. */
export class TaskRegistry implements Iterable<[string, Task]> {
  private readonly tasks = new Map<string, Task>();

  /**
   * Adds a task under its name. Registering the same task again does nothing; a different task
   * under a name already taken throws AlreadyRegistered (unregister the old one first to replace it).
   */
  register(task: Task): void {
    const taken = this.tasks.get(task.name);
    if (taken && taken !== task) {
      throw new AlreadyRegistered(
        `a different task is already registered as '${task.name}': give one of them an explicit name ` +
          `(app.task(fn, { name })), or check that two modules do not define the same name`,
      );
    }
    this.tasks.set(task.name, task);
  }

  /** Removes a task; NotRegistered if there is none of that name. */
  unregister(name: string): void {
    if (!this.tasks.delete(name)) throw new NotRegistered(name);
  }

  /** The task of a name, or undefined. */
  get(name: string): Task | undefined {
    return this.tasks.get(name);
  }

  /** The task of a name; NotRegistered if none. */
  require(name: string): Task {
    const task = this.tasks.get(name);
    if (!task) throw new NotRegistered(name);
    return task;
  }

  has(name: string): boolean {
    return this.tasks.has(name);
  }

  /** Registered names, sorted. */
  names(): string[] {
    return [...this.tasks.keys()].sort();
  }

  /** Names of tasks that are not celeriac/Celery built-ins. */
  userNames(): string[] {
    return this.names().filter((n) => !n.startsWith('celery.'));
  }

  get size(): number {
    return this.tasks.size;
  }

  [Symbol.iterator](): Iterator<[string, Task]> {
    return this.tasks[Symbol.iterator]();
  }
}
