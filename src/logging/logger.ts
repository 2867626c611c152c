/**
 * The injected logger. Any pino-compatible logger works (`info/warn/error/debug` taking an object
 * and/or a message, plus `child(bindings)`); the default writes Celery-style lines to stderr.
 * Library code never calls `console.*`: it logs through the logger it was given.
 */

/** Log levels, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A logging method: `(msg)` or `(fields, msg)`, as pino has them. */
export interface LogFn {
  (msg: string): void;
  (fields: LogFields, msg?: string): void;
}

/** The logger interface celeriac needs: pino's, reduced to what is used. */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** A logger that adds `bindings` to every line. */
  child(bindings: LogFields): Logger;
  /** Whether lines of `level` are written (pino has it); callers skip building costly lines when not. */
  isLevelEnabled?(level: Exclude<LogLevel, 'silent'>): boolean;
}

/** Whether `logger` writes lines of `level` (true for loggers that cannot tell). */
export function levelEnabled(logger: Logger, level: Exclude<LogLevel, 'silent'>): boolean {
  return logger.isLevelEnabled?.(level) ?? true;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Parses a level name as Celery's `-l` accepts it (`INFO`, `warning`, ...). */
export function parseLogLevel(level: string): LogLevel {
  const l = level.toLowerCase();
  if (l === 'warning') return 'warn';
  if (l === 'critical' || l === 'fatal') return 'error';
  if (l in LEVELS) return l as LogLevel;
  throw new RangeError(`unknown log level '${level}' (expected debug, info, warning, error or silent)`);
}

/** Where the default logger writes; a function so tests can capture lines. */
export type LogSink = (line: string) => void;

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** @defaultValue `'info'` (or `$CELERIAC_LOG_LEVEL`) */
  level?: LogLevel;
  /** @defaultValue writes to `process.stderr` */
  sink?: LogSink;
  /** Fields on every line. */
  bindings?: LogFields;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Error) return v.stack ?? `${v.name}: ${v.message}`;
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/**
 * The default logger: one Celery-style line per call,
 * `[2026-11-24 10:00:00,123: INFO/celeriac] tasks.add[id]: message key=value`.
 * An `err` field is printed after the line with its stack.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const envLevel = process.env['CELERIAC_LOG_LEVEL'];
  const level = options.level ?? (envLevel ? parseLogLevel(envLevel) : 'info');
  const sink: LogSink = options.sink ?? ((line) => process.stderr.write(`${line}\n`));
  const bindings = options.bindings ?? {};
  const threshold = LEVELS[level];

  const make = (lvl: Exclude<LogLevel, 'silent'>): LogFn =>
    ((a: string | LogFields, b?: string) => {
      if (LEVELS[lvl] < threshold) return;
      const fields: LogFields = typeof a === 'string' ? { ...bindings } : { ...bindings, ...a };
      const msg = typeof a === 'string' ? a : (b ?? '');
      const ts = new Date().toISOString().replace('T', ' ').replace('Z', '').replace('.', ',');
      const { task, taskId, err, component, ...rest } = fields;
      const who = task !== undefined ? `${String(task)}[${String(taskId ?? '?')}]: ` : '';
      const where = component !== undefined ? String(component) : 'celeriac';
      const extra = Object.entries(rest)
        .map(([k, v]) => `${k}=${formatValue(v)}`)
        .join(' ');
      let line = `[${ts}: ${lvl.toUpperCase()}/${where}] ${who}${msg}${extra ? ` ${extra}` : ''}`;
      if (err !== undefined) line += `\n${formatValue(err)}`;
      sink(line);
    }) as LogFn;

  const logger: Logger = {
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    // A silent logger's children are silent too: no need for a new one per task.
    child: (more) => (level === 'silent' ? logger : createLogger({ level, sink, bindings: { ...bindings, ...more } })),
    isLevelEnabled: (lvl) => LEVELS[lvl] >= threshold,
  };
  return logger;
}

/**
 * Text from outside (a message's fields, a parser's complaint about them) made fit for one log
 * line: control characters (newlines included) become spaces, and it is cut to `max` characters.
 */
export function logSafe(text: string, max = 500): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger({ level: 'silent' });
