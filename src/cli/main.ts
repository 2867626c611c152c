/**
 * The `celeriac` command line. Each command loads the app with `-A module[:export]`, applies
 * the broker/backend flags or `CELERIAC_BROKER_URL` / `CELERIAC_RESULT_BACKEND`, and prints
 * through the logger. Errors in user input end with one clear line and a non-zero exit (the
 * stack only with `--debug`).
 */
import { Command, CommanderError } from 'commander';
import { Beat } from '../beat/beat.js';
import { CeleriacError } from '../errors/index.js';
import type { AsyncResult } from '../result/async-result.js';
import { READY_STATES, States } from '../result/states.js';
import { sleep } from '../utils/time.js';
import { cliLogger, common, defaultIo, EXIT, prepare, type CliIo, type CommonOpts } from './common.js';
import { registerMonitorCommands } from './monitor.js';
import { json, positiveSeconds, seconds } from './parse.js';
import { renderProgress } from './progress.js';
import { untilStopped } from './signals.js';
import { registerWorkerCommand } from './worker-command.js';
import { packageVersion } from './version.js';

export type { CliIo } from './common.js';

/**
 * In a terminal, draws a progress bar while the task reports `current` / `total` (polling every
 * 200 ms) until it is ready, ending at 100% when it succeeded; elsewhere returns at once. Resolves
 * with the seconds left of `timeoutSeconds`, for the wait that follows (undefined: no timeout).
 */
async function showProgress(result: AsyncResult, io: CliIo, timeoutSeconds: number | undefined): Promise<number | undefined> {
  if (!io.isTTY) return timeoutSeconds;
  const deadline = timeoutSeconds === undefined ? Infinity : Date.now() + timeoutSeconds * 1000;
  let last: { current: number; total: number } | undefined;
  while (Date.now() < deadline) {
    const meta = await result.meta();
    if (READY_STATES.has(meta.status)) {
      if (last && meta.status === States.SUCCESS) io.err(`\r${renderProgress(meta.status, { current: last.total, total: last.total })}`, false);
      break;
    }
    const line = renderProgress(meta.status, meta.result);
    if (line) {
      io.err(`\r${line}`, false);
      last = meta.result as { current: number; total: number };
    }
    await sleep(200);
  }
  if (last) io.err('');
  return timeoutSeconds === undefined ? undefined : Math.max(0, (deadline - Date.now()) / 1000);
}

/** A usage error: printed as one line with a hint, exit code 2. */
export class UsageError extends CeleriacError {
  override readonly code: string = 'USAGE';
}

/** Builds the command tree. `argv` is the command line (for `worker -D`, which runs it again). */
export function buildProgram(io: CliIo = defaultIo, argv: readonly string[] = process.argv): Command {
  const program = new Command('celeriac')
    .description("Celery's task system for Node.js")
    .version(packageVersion(), '-V, --version', 'print the version of celeriac')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  registerWorkerCommand(program, io, () => argv);

  common(program.command('beat').description('run the beat service: send periodic tasks when they are due'))
    .option('-s, --schedule <file>', 'where beat keeps the last run of each entry (default: beat_schedule_filename)')
    .option('--max-interval <seconds>', 'longest sleep between checks', positiveSeconds)
    .action(async (opts: CommonOpts & { schedule?: string; maxInterval?: number }) => {
      const { app } = await prepare(opts);
      const beat = new Beat(app, {
        logger: cliLogger(opts, io),
        ...(opts.schedule ? { scheduleFile: opts.schedule } : {}),
        ...(opts.maxInterval !== undefined ? { maxInterval: opts.maxInterval } : {}),
      });
      for (const e of beat.entries.values()) io.out(`${e.name}: ${e.task} ${String(e.schedule)}`);
      beat.start();
      await untilStopped();
      await beat.stop();
      await app.close();
    });

  common(program.command('call').description('send a task by name and print its id (or result with --wait)'))
    .argument('<task>', 'task name')
    .option('--args <json>', 'positional arguments, a JSON list', json, [])
    .option('--kwargs <json>', 'keyword arguments, a JSON object', json, {})
    .option('--countdown <seconds>', 'run no earlier than this many seconds from now', seconds)
    .option('--queue <name>', 'queue to send to')
    .option('--wait', 'wait for the result and print it (exit 1 if the task failed)')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds', positiveSeconds)
    .action(async (name: string, opts: CommonOpts & { args: unknown; kwargs: unknown; countdown?: number; queue?: string; wait?: boolean; timeout?: number }) => {
      if (!Array.isArray(opts.args)) throw new UsageError('--args must be a JSON list');
      const kwargs = opts.kwargs;
      if (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs)) throw new UsageError('--kwargs must be a JSON object');
      const { app } = await prepare(opts);
      try {
        const result = await app.sendTask(name, opts.args, kwargs as Record<string, unknown>, {
          ...(opts.countdown !== undefined ? { countdown: opts.countdown } : {}),
          ...(opts.queue ? { queue: opts.queue } : {}),
        });
        if (!opts.wait) io.out(result.id);
        else {
          const left = await showProgress(result, io, opts.timeout);
          io.out(JSON.stringify(await result.get(left !== undefined ? { timeout: left } : {})));
        }
      } finally {
        await app.close();
      }
    });

  common(program.command('result').description('print the state and result of a task'))
    .argument('<id>', 'task id')
    .option('--wait', 'wait until the task is ready (exit 1 if it failed)')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds', positiveSeconds)
    .action(async (id: string, opts: CommonOpts & { wait?: boolean; timeout?: number }) => {
      const { app } = await prepare(opts);
      try {
        const result = app.asyncResult(id);
        if (opts.wait) {
          const left = await showProgress(result, io, opts.timeout);
          await result.get({ propagate: false, ...(left !== undefined ? { timeout: left } : {}) });
        }
        const meta = await result.meta();
        io.out(JSON.stringify({ id, state: meta.status, result: meta.result, traceback: meta.traceback }));
        if (opts.wait && meta.status !== States.SUCCESS) process.exitCode = EXIT.failure;
      } finally {
        await app.close();
      }
    });

  common(program.command('purge').description('delete every waiting message of the queues'))
    .option('-Q, --queues <names>', 'comma-separated queues (default: the default queue)')
    .option('-f, --force', 'do not ask for confirmation (needed when not in a terminal)')
    .action(async (opts: CommonOpts & { queues?: string; force?: boolean }) => {
      if (!opts.force && io.stdinIsTTY !== true) {
        throw new UsageError('purge asks for confirmation and stdin is not a terminal: pass -f to purge without asking');
      }
      const { app } = await prepare(opts);
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

  registerMonitorCommands(program, io, common, (opts) => prepare(opts as unknown as CommonOpts), (msg) => new UsageError(msg));
  return program;
}

/** Commander's errors that mean a bad command line (exit 2), as opposed to help or version (exit 0). */
function isUsage(err: CommanderError): boolean {
  return err.exitCode !== 0 && !['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code);
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[] = process.argv, io: CliIo = defaultIo): Promise<number> {
  const program = buildProgram(io, argv);
  const previous = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync([...argv]);
    const code = typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return isUsage(err) ? EXIT.usage : err.exitCode;
    const debug = argv.includes('--debug');
    const usage = err instanceof UsageError;
    io.err(`Error: ${(err as Error).message}${usage ? " (add --help for usage)" : ''}`);
    if (debug && err instanceof Error && err.stack) io.err(err.stack);
    return usage ? EXIT.usage : EXIT.failure;
  } finally {
    process.exitCode = previous;
  }
}
