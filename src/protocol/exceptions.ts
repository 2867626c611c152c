/**
 * Errors as Celery stores them in results: `{exc_type, exc_message, exc_module}`, where
 * `exc_message` is the list of the exception's arguments. A JS error goes out under its `name`;
 * an error that comes back (from a JS or a Python worker) is rebuilt under its original name and
 * message, as an instance of the matching JS or celeriac class where one exists.
 */
import { CELERIAC_ERROR_CLASSES, CELERY_ERROR_CLASSES, CeleriacError, RemoteTaskError } from '../errors/index.js';

/** Celery's serialized form of an exception. */
export interface SerializedError {
  exc_type: string;
  exc_message: unknown[];
  exc_module: string | null;
}

/** Python built-in exception names: a JS error of one of these names maps to the Python class. */
const PYTHON_BUILTINS = new Set([
  'Exception', 'ValueError', 'TypeError', 'KeyError', 'IndexError', 'RuntimeError', 'AttributeError',
  'NotImplementedError', 'ZeroDivisionError', 'OSError', 'IOError', 'ConnectionError', 'TimeoutError',
  'LookupError', 'ArithmeticError', 'OverflowError', 'AssertionError', 'PermissionError',
  'FileNotFoundError', 'MemoryError', 'RecursionError', 'StopIteration', 'UnicodeError',
]);

const JS_BUILTINS: ReadonlyMap<string, ErrorConstructor> = new Map<string, ErrorConstructor>([
  ['Error', Error],
  ['TypeError', TypeError],
  ['RangeError', RangeError],
  ['SyntaxError', SyntaxError],
  ['ReferenceError', ReferenceError],
  ['EvalError', EvalError],
  ['URIError', URIError],
]);

/** Modules Celery's own exceptions come from (`exc_module`), plus ours; '' stands for none given. */
const CELERY_MODULES: ReadonlySet<string> = new Set(['celery.exceptions', 'billiard.exceptions', 'kombu.exceptions', 'celeriac', '']);

/** Turns any thrown value into Celery's serialized exception form. */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof RemoteTaskError) {
    return { exc_type: err.excType, exc_message: [...err.excArgs], exc_module: err.excModule };
  }
  if (err instanceof Error) {
    const name = err.name || err.constructor.name || 'Error';
    const module =
      (err as { excModule?: unknown }).excModule !== undefined
        ? String((err as { excModule?: unknown }).excModule)
        : err instanceof CeleriacError && CELERY_ERROR_CLASSES.has(name)
          ? 'celery.exceptions'
          : PYTHON_BUILTINS.has(name)
            ? 'builtins'
            : 'celeriac';
    const excArgs = (err as { excArgs?: unknown }).excArgs;
    return { exc_type: name, exc_message: Array.isArray(excArgs) ? [...excArgs] : [err.message], exc_module: module };
  }
  return { exc_type: 'Error', exc_message: [String(err)], exc_module: 'celeriac' };
}

/** True if a stored result looks like a serialized exception. */
export function isSerializedError(value: unknown): value is SerializedError {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { exc_type?: unknown }).exc_type === 'string'
  );
}

function messageOf(args: readonly unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  if (args.length === 0) return '';
  return args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(', ');
}

/**
 * Rebuilds an error from its serialized form: JS built-ins and celeriac's own classes by name,
 * anything else as a {@link RemoteTaskError} whose `name` is the original type name.
 */
export function deserializeError(value: SerializedError, traceback: string | null = null): Error {
  const rawArgs = value.exc_message;
  const args: unknown[] = Array.isArray(rawArgs) ? rawArgs : [rawArgs];
  const message = messageOf(args);
  const jsClass = JS_BUILTINS.get(value.exc_type);
  // By name only when the module is Celery's (or ours): builtins.TimeoutError or
  // sqlite3.OperationalError are not celeriac's TimeoutError / OperationalError.
  const ownClass = CELERY_MODULES.has(value.exc_module ?? '')
    ? CELERY_ERROR_CLASSES.get(value.exc_type) ?? CELERIAC_ERROR_CLASSES.get(value.exc_type)
    : undefined;
  let err: Error;
  if (jsClass && (value.exc_module === 'builtins' || value.exc_module === 'celeriac')) {
    err = new jsClass(message);
  } else if (ownClass) {
    err = new ownClass(message);
  } else {
    return new RemoteTaskError(value.exc_type, message, {
      excModule: value.exc_module,
      excArgs: args,
      traceback,
    });
  }
  if (traceback) err.stack = `${err.name}: ${err.message}\n[remote traceback]\n${traceback}`;
  return err;
}
