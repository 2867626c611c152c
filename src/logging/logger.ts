/**
 * The injected logger. Any pino-compatible logger works (`info/warn/error/debug` taking an object
 * and/or a message, plus `child(bindings)`); the default writes Celery-style lines to stderr.
 * Library code never calls `console.*`: it logs through the logger it was given.
 */
import { openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

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

/**
 * How lines are written: `text` is Celery's layout, `json` one object per line with pino's
 * fields (`level` as a number, `time` in epoch ms, `pid`, `hostname`, `msg`), for log shippers.
 */
export type LogFormat = 'text' | 'json';

/** Parses a log format name (`--log-format`, `$CELERIAC_LOG_FORMAT`). */
export function parseLogFormat(format: string): LogFormat {
  const f = format.toLowerCase();
  if (f === 'text' || f === 'json') return f;
  throw new RangeError(`unknown log format '${format}' (expected text or json)`);
}

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** @defaultValue `'info'` (or `$CELERIAC_LOG_LEVEL`) */
  level?: LogLevel;
  /** @defaultValue `'text'` (or `$CELERIAC_LOG_FORMAT`) */
  format?: LogFormat;
  /** @defaultValue appends to the file `$CELERIAC_LOG_FILE` if set (`--logfile`), else writes to `process.stderr` */
  sink?: LogSink;
  /** Fields on every line. */
  bindings?: LogFields;
}

/** Level names as Celery prints them. */
const LEVEL_NAMES: Record<Exclude<LogLevel, 'silent'>, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR' };
/** pino's level numbers, for JSON lines. */
const PINO_LEVELS: Record<Exclude<LogLevel, 'silent'>, number> = { debug: 20, info: 30, warn: 40, error: 50 };

/** An error as pino's standard serializer shapes it. */
function errorJson(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  return { type: err.name, message: err.message, stack: err.stack };
}

function jsonLine(lvl: Exclude<LogLevel, 'silent'>, fields: LogFields, msg: string): string {
  const { err, ...rest } = fields;
  const record: LogFields = { level: PINO_LEVELS[lvl], time: Date.now(), pid: process.pid, hostname: hostname(), ...rest, msg };
  if (err !== undefined) record['err'] = errorJson(err);
  try {
    return JSON.stringify(record, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return JSON.stringify({ level: record['level'], time: record['time'], pid: process.pid, msg });
  }
}

function textLine(lvl: Exclude<LogLevel, 'silent'>, fields: LogFields, msg: string): string {
  const ts = new Date().toISOString().replace('T', ' ').replace('Z', '').replace('.', ',');
  const { task, taskId, err, component, ...rest } = fields;
  const label = task !== undefined ? `${String(task)}[${String(taskId ?? '?')}]` : '';
  // Lines that already name their task (`Task tasks.add[id] succeeded`) are not prefixed again.
  const who = label && !msg.includes(label) ? `${label}: ` : '';
  const where = component !== undefined ? String(component) : 'celeriac';
  const extra = Object.entries(rest)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
  let line = `[${ts}: ${LEVEL_NAMES[lvl]}/${where}] ${who}${msg}${extra ? ` ${extra}` : ''}`;
  if (err !== undefined) line += `\n${formatValue(err)}`;
  return line;
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
 * `[2026-11-24 10:00:00,123: INFO/celeriac] tasks.add[id]: message key=value` (levels spelled as
 * Celery does: `WARNING`), or one JSON object per line with `format: 'json'`.
 * An `err` field is printed after the line with its stack (in JSON: as pino's `err` object).
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const envLevel = process.env['CELERIAC_LOG_LEVEL'];
  const level = options.level ?? (envLevel ? parseLogLevel(envLevel) : 'info');
  const envFormat = process.env['CELERIAC_LOG_FORMAT'];
  const format = options.format ?? (envFormat ? parseLogFormat(envFormat) : 'text');
  const render = format === 'json' ? jsonLine : textLine;
  const sink: LogSink = options.sink ?? defaultSink();
  const bindings = options.bindings ?? {};
  const threshold = LEVELS[level];

  const make = (lvl: Exclude<LogLevel, 'silent'>): LogFn =>
    ((a: string | LogFields, b?: string) => {
      if (LEVELS[lvl] < threshold) return;
      const fields: LogFields = typeof a === 'string' ? { ...bindings } : { ...bindings, ...a };
      const msg = typeof a === 'string' ? a : (b ?? '');
      const line = render(lvl, fields, msg);
      sink(line);
    }) as LogFn;

  const logger: Logger = {
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    // A silent logger's children are silent too: no need for a new one per task.
    child: (more) => (level === 'silent' ? logger : createLogger({ level, format, sink, bindings: { ...bindings, ...more } })),
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

const fileSinks = new Map<string, LogSink>();

/**
 * Appends lines to `path` (opened once; each line one synchronous write, so nothing is lost when
 * the process dies, and lines of several processes appending to one file never interleave).
 */
export function fileSink(path: string): LogSink {
  let sink = fileSinks.get(path);
  if (!sink) {
    const fd = openSync(path, 'a');
    sink = (line) => void writeSync(fd, `${line}\n`);
    fileSinks.set(path, sink);
  }
  return sink;
}

function defaultSink(): LogSink {
  const file = process.env['CELERIAC_LOG_FILE'];
  return file ? fileSink(file) : (line) => process.stderr.write(`${line}\n`);
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger({ level: 'silent' });
