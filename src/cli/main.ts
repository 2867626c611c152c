/**
 * The `celeriac` command line. Each command loads the app with `-A module[:export]`, applies
 * the broker/backend flags or `CELERIAC_BROKER_URL` / `CELERIAC_RESULT_BACKEND`, and prints
 * through the logger. Errors in user input end with one clear line and a non-zero exit (the
 * stack only with `--debug`).
 */
import { Command, CommanderError, Option } from 'commander';
import type { Celeriac } from '../app/celeriac.js';
import { Beat } from '../beat/beat.js';
import { CeleriacError } from '../errors/index.js';
import { createLogger, parseLogLevel, type Logger } from '../logging/logger.js';
import type { AsyncResult } from '../result/async-result.js';
import { READY_STATES } from '../result/states.js';
import { sleep } from '../utils/time.js';
import { Worker } from '../worker/worker.js';
import { loadApp } from './load-app.js';
import { registerMonitorCommands } from './monitor.js';
import { renderProgress } from './progress.js';
import { untilStopped } from './signals.js';
import { packageVersion } from './version.js';

/** Where the CLI writes its normal output (stdout) and its log (stderr). */
export interface CliIo {
  out(text: string): void;
  /** Writes to stderr; `newline: false` keeps the line open (progress bars). */
  err(text: string, newline?: boolean): void;
  /** Whether stderr is a terminal (progress bars are drawn only there). */
  isTTY?: boolean;
}

const defaultIo: CliIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t, newline = true) => process.stderr.write(newline ? `${t}\n` : t),
  isTTY: process.stderr.isTTY === true,
};

interface CommonOpts {
  app: string;
  broker?: string;
  resultBackend?: string;
  loglevel: string;
  debug?: boolean;
}

interface WorkerCliOpts {
  queues?: string;
  concurrency?: string;
  hostname: string;
  prefetchMultiplier?: string;
  pool: 'async' | 'solo' | 'process' | 'threads';
  optimization?: 'default' | 'fair';
  maxTasksPerChild?: string;
  maxMemoryPerChild?: string;
  beat?: boolean;
  schedule?: string;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CeleriacError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function positiveInt(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new CeleriacError(`${what} must be a whole number, got '${value}'`);
  return n;
}

async function prepare(opts: CommonOpts, io: CliIo): Promise<{ app: Celeriac; logger: Logger }> {
  const logger = createLogger({ level: parseLogLevel(opts.loglevel), sink: io.err });
  const app = await loadApp(opts.app);
  if (opts.broker) app.conf.brokerUrl = opts.broker;
  else if (process.env['CELERIAC_BROKER_URL']) app.conf.brokerUrl = process.env['CELERIAC_BROKER_URL'];
  if (opts.resultBackend) app.conf.resultBackend = opts.resultBackend;
  else if (process.env['CELERIAC_RESULT_BACKEND']) app.conf.resultBackend = process.env['CELERIAC_RESULT_BACKEND'];
  return { app, logger };
}

function common(cmd: Command): Command {
  return cmd
    .requiredOption('-A, --app <module>', 'module exporting the app, as path[:export] (export defaults to "app")')
    .option('-b, --broker <url>', 'broker URL (default: the app\'s, or $CELERIAC_BROKER_URL)')
    .option('--result-backend <url>', 'result backend URL (default: the app\'s, or $CELERIAC_RESULT_BACKEND)')
    .option('-l, --loglevel <level>', 'debug, info, warning, error', 'info')
    .option('--debug', 'print stack traces of errors');
}

/**
 * In a terminal, draws a progress bar while the task reports `current` / `total` (polling every
 * 200 ms) until it is ready; elsewhere returns at once. Resolves with the seconds left of
 * `timeoutSeconds`, for the wait that follows (undefined: no timeout).
 */
async function showProgress(result: AsyncResult, io: CliIo, timeoutSeconds: number | undefined): Promise<number | undefined> {
  if (!io.isTTY) return timeoutSeconds;
  const deadline = timeoutSeconds === undefined ? Infinity : Date.now() + timeoutSeconds * 1000;
  let drawn = false;
  while (Date.now() < deadline) {
    const meta = await result.meta();
    if (READY_STATES.has(meta.status)) break;
    const line = renderProgress(meta.status, meta.result);
    if (line) {
      io.err(`\r${line}`, false);
      drawn = true;
    }
    await sleep(200);
  }
  if (drawn) io.err('');
  return timeoutSeconds === undefined ? undefined : Math.max(0, (deadline - Date.now()) / 1000);
}

/** Builds the command tree. */
export function buildProgram(io: CliIo = defaultIo): Command {
  const program = new Command('celeriac')
    .description("Celery's task system for Node.js")
    .version(packageVersion(), '-V, --version', 'print the version of celeriac')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  common(program.command('worker').description('start a worker'))
    .option('-Q, --queues <names>', 'comma-separated queues to consume')
    .option('-c, --concurrency <n>', 'tasks at once')
    .option('-n, --hostname <name>', 'node name (%h = host name)', 'celeriac@%h')
    .option('--prefetch-multiplier <n>', 'prefetch = concurrency x this')
    .addOption(new Option('-P, --pool <kind>', 'execution pool').choices(['async', 'solo', 'process', 'threads']).default('async'))
    .addOption(new Option('-O, --optimization <profile>', "'fair': give a pool child work only when it is free").choices(['default', 'fair']))
    .option('--max-tasks-per-child <n>', 'replace a pool child after this many tasks')
    .option('--max-memory-per-child <KiB>', 'replace a pool child whose memory exceeds this after a task')
    .option('-B, --beat', 'also run the beat service (periodic tasks) in this worker')
    .option('-s, --schedule <file>', 'with -B: where beat keeps the last run of each entry')
    .action(async (opts: CommonOpts & WorkerCliOpts) => {
      const { app } = await prepare(opts, io);
      const logger = createLogger({ level: parseLogLevel(opts.loglevel), sink: io.err });
      const worker = new Worker(app, {
        logger,
        hostname: opts.hostname,
        pool: opts.pool,
        appModule: opts.app,
        logLevel: opts.loglevel,
        fair: opts.optimization === 'fair',
        ...(opts.beat ? { beat: opts.schedule ? { scheduleFile: opts.schedule } : true } : {}),
        ...(opts.maxTasksPerChild ? { maxTasksPerChild: positiveInt(opts.maxTasksPerChild, '--max-tasks-per-child') } : {}),
        ...(opts.maxMemoryPerChild ? { maxMemoryPerChild: positiveInt(opts.maxMemoryPerChild, '--max-memory-per-child') } : {}),
        ...(opts.queues ? { queues: opts.queues.split(',').map((q) => q.trim()).filter(Boolean) } : {}),
        ...(opts.concurrency ? { concurrency: positiveInt(opts.concurrency, '--concurrency') } : {}),
        ...(opts.prefetchMultiplier ? { prefetchMultiplier: positiveInt(opts.prefetchMultiplier, '--prefetch-multiplier') } : {}),
      });
      const removeHandlers = worker.installSignalHandlers();
      await worker.start();
      await worker.done;
      removeHandlers();
      await app.close();
    });

  common(program.command('beat').description('run the beat service: send periodic tasks when they are due'))
    .option('-s, --schedule <file>', 'where beat keeps the last run of each entry (default: beat_schedule_filename)')
    .option('--max-interval <seconds>', 'longest sleep between checks')
    .action(async (opts: CommonOpts & { schedule?: string; maxInterval?: string }) => {
      const { app } = await prepare(opts, io);
      const logger = createLogger({ level: parseLogLevel(opts.loglevel), sink: io.err });
      const beat = new Beat(app, {
        logger,
        ...(opts.schedule ? { scheduleFile: opts.schedule } : {}),
        ...(opts.maxInterval ? { maxInterval: positiveInt(opts.maxInterval, '--max-interval') } : {}),
      });
      for (const e of beat.entries.values()) io.out(`${e.name}: ${e.task} ${String(e.schedule)}`);
      beat.start();
      await untilStopped();
      await beat.stop();
      await app.close();
    });

  common(program.command('call').description('send a task by name and print its id (or result with --wait)'))
    .argument('<task>', 'task name')
    .option('--args <json>', 'positional arguments, a JSON list', '[]')
    .option('--kwargs <json>', 'keyword arguments, a JSON object', '{}')
    .option('--countdown <seconds>', 'run no earlier than this many seconds from now')
    .option('--queue <name>', 'queue to send to')
    .option('--wait', 'wait for the result and print it')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds')
    .action(async (name: string, opts: CommonOpts & { args: string; kwargs: string; countdown?: string; queue?: string; wait?: boolean; timeout?: string }) => {
      const { app } = await prepare(opts, io);
      const args = parseJson(opts.args, '--args');
      const kwargs = parseJson(opts.kwargs, '--kwargs');
      if (!Array.isArray(args)) throw new CeleriacError('--args must be a JSON list');
      if (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs)) throw new CeleriacError('--kwargs must be a JSON object');
      try {
        const result = await app.sendTask(name, args, kwargs as Record<string, unknown>, {
          ...(opts.countdown ? { countdown: Number(opts.countdown) } : {}),
          ...(opts.queue ? { queue: opts.queue } : {}),
        });
        if (!opts.wait) io.out(result.id);
        else {
          const left = await showProgress(result, io, opts.timeout ? Number(opts.timeout) : undefined);
          io.out(JSON.stringify(await result.get(left !== undefined ? { timeout: left } : {})));
        }
      } finally {
        await app.close();
      }
    });

  common(program.command('result').description('print the state and result of a task'))
    .argument('<id>', 'task id')
    .option('--wait', 'wait until the task is ready')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds')
    .action(async (id: string, opts: CommonOpts & { wait?: boolean; timeout?: string }) => {
      const { app } = await prepare(opts, io);
      try {
        const result = app.asyncResult(id);
        if (opts.wait) {
          const left = await showProgress(result, io, opts.timeout ? Number(opts.timeout) : undefined);
          await result.get({ propagate: false, ...(left !== undefined ? { timeout: left } : {}) });
        }
        const meta = await result.meta();
        io.out(JSON.stringify({ id, state: meta.status, result: meta.result, traceback: meta.traceback }));
      } finally {
        await app.close();
      }
    });

  common(program.command('purge').description('delete every waiting message of the queues'))
    .option('-Q, --queues <names>', 'comma-separated queues (default: the default queue)')
    .option('-f, --force', 'do not ask for confirmation')
    .action(async (opts: CommonOpts & { queues?: string; force?: boolean }) => {
      const { app } = await prepare(opts, io);
      const queues = opts.queues ? opts.queues.split(',').map((q) => q.trim()).filter(Boolean) : [app.conf.taskDefaultQueue];
      try {
        if (!opts.force) {
          const { createInterface } = await import('node:readline/promises');
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          const answer = await rl.question(`Delete every waiting message in ${queues.join(', ')}? This cannot be undone. [y/N] `);
          rl.close();
          if (!/^y(es)?$/i.test(answer.trim())) {
            io.out('purge cancelled');
            return;
          }
        }
        const transport = await app.getTransport();
        let total = 0;
        for (const q of queues) total += await transport.purge(q);
        io.out(`purged ${total} message${total === 1 ? '' : 's'} from ${queues.join(', ')}`);
      } finally {
        await app.close();
      }
    });

  registerMonitorCommands(program, io, common, (opts) => prepare(opts as unknown as CommonOpts, io));
  return program;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[] = process.argv, io: CliIo = defaultIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const debug = argv.includes('--debug');
    io.err(`Error: ${(err as Error).message}`);
    if (debug && err instanceof Error && err.stack) io.err(err.stack);
    return 1;
  }
}
