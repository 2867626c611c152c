/**
 * Errors as Celery stores them in results: `{exc_type, exc_message, exc_module}`, where
 * `exc_message` is the list of the exception's arguments. A JS error goes out under its `name`;
 * an error that comes back (from a JS or a Python worker) is rebuilt under its original name and
 * message, as an instance of the matching JS or celeriac class where one exists, or of a class
 * the app knows (see {@link ErrorClassRegistry}).
 *
 * An error's own fields (`statusCode` of `class HttpError extends Error`) travel in one more key,
 * `exc_fields`, holding those that JSON can carry. Python Celery (5.2.6 checked) reads only the
 * three keys above and ignores others, so Python clients see the same exception as before; a
 * celeriac client sets the fields back on the rebuilt error.
 */
import { CELERIAC_ERROR_CLASSES, CELERY_ERROR_CLASSES, CeleriacError, RemoteTaskError } from '../errors/index.js';
import type { ErrorClass } from '../task/options.js';
import { toJson } from './json.js';

/** Celery's serialized form of an exception, plus celeriac's `exc_fields`. */
export interface SerializedError {
  exc_type: string;
  exc_message: unknown[];
  exc_module: string | null;
  /** The error's own JSON-safe fields (celeriac's addition; Python ignores it). */
  exc_fields?: Record<string, unknown>;
}

/** Options of {@link ErrorClassRegistry.register}. */
export interface ErrorClassOptions {
  /** The `exc_type` it is stored under. @defaultValue the class's name */
  name?: string;
  /** Only rebuild errors stored with this `exc_module`. @defaultValue any module */
  module?: string;
}

/**
 * Error classes an app knows, so that errors coming back from a worker are rebuilt as instances
 * of them (`instanceof` works, fields restored). The app registers the classes in each task's
 * `throws` and `autoretryFor`, and any given to `app.registerErrorClass()`.
 */
export class ErrorClassRegistry {
  private readonly byName = new Map<string, Array<{ cls: ErrorClass; module: string | undefined }>>();

  /** Adds a class (again: no change). */
  register(cls: ErrorClass, options: ErrorClassOptions = {}): void {
    const name = options.name ?? cls.name;
    const list = this.byName.get(name) ?? [];
    if (list.some((e) => e.cls === cls && e.module === options.module)) return;
    // A class bound to a module is checked before one that takes any module.
    list.push({ cls, module: options.module });
    list.sort((a, b) => Number(b.module !== undefined) - Number(a.module !== undefined));
    this.byName.set(name, list);
  }

  /** The class to rebuild an error of `excType` from `excModule` with, if any. */
  find(excType: string, excModule: string | null): ErrorClass | undefined {
    return this.byName.get(excType)?.find((e) => e.module === undefined || e.module === excModule)?.cls;
  }
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

/** Members every error has, or that celeriac derives from the class: not sent as fields. */
const NOT_FIELDS: ReadonlySet<string> = new Set(['name', 'message', 'stack', 'cause', 'excType', 'excModule', 'excArgs', 'remoteTraceback', 'excFields']);

/** The error's own enumerable fields that JSON can carry faithfully (others are left out). */
function ownFields(err: Error): Record<string, unknown> | undefined {
  // celeriac's own classes are rebuilt by their constructors, which set their fields again.
  const ctor = err.constructor;
  if (CELERY_ERROR_CLASSES.get(ctor.name) === ctor || CELERIAC_ERROR_CLASSES.get(ctor.name) === ctor) return undefined;
  let fields: Record<string, unknown> | undefined;
  for (const key of Object.keys(err)) {
    if (NOT_FIELDS.has(key) || (key === 'code' && err instanceof CeleriacError)) continue;
    const value = (err as unknown as Record<string, unknown>)[key];
    if (value === undefined) continue;
    try {
      toJson(value);
    } catch {
      continue;
    }
    (fields ??= {})[key] = value;
  }
  return fields;
}

function withFields(serialized: SerializedError, fields: Readonly<Record<string, unknown>> | undefined): SerializedError {
  return fields && Object.keys(fields).length > 0 ? { ...serialized, exc_fields: { ...fields } } : serialized;
}

/** Turns any thrown value into Celery's serialized exception form (with `exc_fields` when it has any). */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof RemoteTaskError) {
    return withFields({ exc_type: err.excType, exc_message: [...err.excArgs], exc_module: err.excModule }, err.excFields);
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
    return withFields({ exc_type: name, exc_message: Array.isArray(excArgs) ? [...excArgs] : [err.message], exc_module: module }, ownFields(err));
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

function storedFields(value: SerializedError): Record<string, unknown> | undefined {
  const fields = value.exc_fields;
  return fields !== null && typeof fields === 'object' && !Array.isArray(fields) ? fields : undefined;
}

/** Sets the stored fields on a rebuilt error, never over a member the error has itself. */
function restoreFields(err: Error, fields: Record<string, unknown> | undefined): void {
  if (!fields) return;
  for (const [key, value] of Object.entries(fields)) {
    if (NOT_FIELDS.has(key) || Object.hasOwn(err, key)) continue;
    // defineProperty: a key such as `__proto__` becomes a plain field, never the prototype.
    Object.defineProperty(err, key, { value, writable: true, enumerable: true, configurable: true });
  }
}

/**
 * An instance of a known class without running its constructor (whose parameters we cannot
 * know): a real Error whose prototype is the class's, so `instanceof` holds.
 */
function instanceOf(cls: ErrorClass, excType: string, message: string): Error {
  const err = Reflect.construct(Error, [message], cls as unknown as new () => Error) as Error;
  if (err.name !== excType) Object.defineProperty(err, 'name', { value: excType, writable: true, enumerable: false, configurable: true });
  return err;
}

/**
 * Rebuilds an error from its serialized form: a class the app knows (`classes`), JS built-ins
 * and celeriac's own classes by name, anything else as a {@link RemoteTaskError} whose `name` is
 * the original type name. Stored fields are set back on the error.
 */
export function deserializeError(value: SerializedError, traceback: string | null = null, classes?: ErrorClassRegistry): Error {
  const rawArgs = value.exc_message;
  const args: unknown[] = Array.isArray(rawArgs) ? rawArgs : [rawArgs];
  const message = messageOf(args);
  const fields = storedFields(value);
  const known = classes?.find(value.exc_type, value.exc_module);
  const jsClass = JS_BUILTINS.get(value.exc_type);
  // By name only when the module is Celery's (or ours): builtins.TimeoutError or
  // sqlite3.OperationalError are not celeriac's TimeoutError / OperationalError.
  const ownClass = CELERY_MODULES.has(value.exc_module ?? '')
    ? CELERY_ERROR_CLASSES.get(value.exc_type) ?? CELERIAC_ERROR_CLASSES.get(value.exc_type)
    : undefined;
  let err: Error;
  if (known) {
    err = instanceOf(known, value.exc_type, message);
  } else if (jsClass && (value.exc_module === 'builtins' || value.exc_module === 'celeriac')) {
    err = new jsClass(message);
  } else if (ownClass) {
    err = new ownClass(message);
  } else {
    err = new RemoteTaskError(value.exc_type, message, {
      excModule: value.exc_module,
      excArgs: args,
      traceback,
      ...(fields ? { fields } : {}),
    });
    restoreFields(err, fields);
    return err;
  }
  restoreFields(err, fields);
  if (traceback) err.stack = `${err.name}: ${err.message}\n[remote traceback]\n${traceback}`;
  return err;
}
