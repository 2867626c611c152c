/**
 * What every CLI command shares: where output goes, the `-A/-b/--result-backend/-l/--debug`
 * options, and loading the app with them applied.
 */
import type { Command } from 'commander';
import type { Celeriac } from '../app/celeriac.js';
import { createLogger, parseLogLevel, type LogFormat, type Logger, type LogSink } from '../logging/logger.js';
import { loadApp } from './load-app.js';

/** Where the CLI writes its normal output (stdout) and its log (stderr). */
export interface CliIo {
  out(text: string): void;
  /** Writes to stderr; `newline: false` keeps the line open (progress bars). */
  err(text: string, newline?: boolean): void;
  /** Whether stderr is a terminal (progress bars are drawn only there). */
  isTTY?: boolean;
  /** Whether stdin is a terminal (`purge` asks for confirmation only there). */
  stdinIsTTY?: boolean;
}

/** The process's own stdout and stderr. */
export const defaultIo: CliIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t, newline = true) => process.stderr.write(newline ? `${t}\n` : t),
  isTTY: process.stderr.isTTY === true,
  stdinIsTTY: process.stdin.isTTY === true,
};

/** Options every command takes. */
export interface CommonOpts {
  app: string;
  broker?: string;
  resultBackend?: string;
  loglevel: string;
  debug?: boolean;
}

/** Exit codes, as Celery's command line uses them. */
export const EXIT = {
  ok: 0,
  failure: 1,
  /** Bad command line. */
  usage: 2,
  /** No worker answered (`status`, `inspect`): sysexits' EX_UNAVAILABLE. */
  unavailable: 69,
} as const;

/** Adds the options every command takes. */
export function common(cmd: Command): Command {
  return cmd
    .requiredOption('-A, --app <module>', 'module exporting the app, as path[:export] (export defaults to "app")')
    .option('-b, --broker <url>', "broker URL (default: the app's, or $CELERIAC_BROKER_URL)")
    .option('--result-backend <url>', "result backend URL (default: the app's, or $CELERIAC_RESULT_BACKEND)")
    .option('-l, --loglevel <level>', 'debug, info, warning, error', 'info')
    .option('--debug', 'print stack traces of errors');
}

/** The command's logger: its `-l` level, `format` if given, writing to `sink` (else stderr). */
export function cliLogger(opts: CommonOpts, io: CliIo, format?: LogFormat, sink?: LogSink): Logger {
  return createLogger({ level: parseLogLevel(opts.loglevel), sink: sink ?? ((line) => io.err(line)), ...(format ? { format } : {}) });
}

/** Loads the app and applies the broker and backend options (or their environment variables). */
export async function prepare(opts: CommonOpts): Promise<{ app: Celeriac }> {
  const app = await loadApp(opts.app);
  if (opts.broker) app.conf.brokerUrl = opts.broker;
  else if (process.env['CELERIAC_BROKER_URL']) app.conf.brokerUrl = process.env['CELERIAC_BROKER_URL'];
  if (opts.resultBackend) app.conf.resultBackend = opts.resultBackend;
  else if (process.env['CELERIAC_RESULT_BACKEND']) app.conf.resultBackend = process.env['CELERIAC_RESULT_BACKEND'];
  return { app };
}
