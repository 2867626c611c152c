/**
 * Task loggers: `getTaskLogger('tasks')` gives a logger whose lines carry the running task's name
 * and id automatically, written through the logger of the app that runs the task.
 */
import { createLogger, type LogFields, type Logger } from '../logging/logger.js';
import { activeTask } from './request.js';
import type { Task } from './task.js';

let fallback: Logger | undefined;

function target(): Logger {
  const active = activeTask.getStore();
  const app = (active?.task as Task | undefined)?.app;
  if (app) return app.logger;
  fallback ??= createLogger();
  return fallback;
}

function withTask(fields: LogFields): LogFields {
  const request = activeTask.getStore()?.request;
  if (!request) return fields;
  return { task: request.task ?? '???', taskId: request.id ?? '???', ...fields };
}

/** A logger for task code: every line names the task and its id (`tasks.add[<id>]: ...`). */
export function getTaskLogger(name: string, bindings: LogFields = {}): Logger {
  const fields = { component: name, ...bindings };
  const call =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (a: string | LogFields, b?: string): void => {
      const log = target();
      if (typeof a === 'string') log[level](withTask(fields), a);
      else log[level](withTask({ ...fields, ...a }), b);
    };
  return {
    debug: call('debug'),
    info: call('info'),
    warn: call('warn'),
    error: call('error'),
    child: (more) => getTaskLogger(name, { ...bindings, ...more }),
  };
}
