/**
 * Monitoring commands of the CLI, with `celery`'s output layout: `celeriac status`,
 * `celeriac inspect <command>`, `celeriac control <command>`, `celeriac events [--dump]`.
 */
import type { Command } from 'commander';
import type { Celeriac } from '../app/celeriac.js';
import type { Replies } from '../control/client.js';
import { EXIT, type CliIo } from './common.js';
import { positiveSeconds } from './parse.js';
import { untilStopped } from './signals.js';

interface MonitorOpts {
  app: string;
  destination?: string;
  timeout: number;
  json?: boolean;
}

type Prepare = (opts: MonitorOpts & Record<string, unknown>) => Promise<{ app: Celeriac }>;

const INSPECT = ['ping', 'stats', 'active', 'reserved', 'scheduled', 'revoked', 'registered', 'query_task', 'conf', 'report', 'active_queues', 'clock'];
const CONTROL = ['revoke', 'terminate', 'rate_limit', 'time_limit', 'add_consumer', 'cancel_consumer', 'pool_grow', 'pool_shrink', 'shutdown'];

/** Arguments each control command takes: [fewest, most, how to write them]. */
const CONTROL_ARITY: Record<string, [number, number, string]> = {
  revoke: [1, Infinity, 'revoke <task_id>...'],
  terminate: [2, Infinity, 'terminate <signal> <task_id>...'],
  rate_limit: [2, 2, 'rate_limit <task_name> <rate_limit> (for example 10/m)'],
  time_limit: [2, 3, 'time_limit <task_name> <soft_secs> [hard_secs]'],
  add_consumer: [1, 1, 'add_consumer <queue>'],
  cancel_consumer: [1, 1, 'cancel_consumer <queue>'],
  pool_grow: [0, 1, 'pool_grow [n]'],
  pool_shrink: [0, 1, 'pool_shrink [n]'],
  shutdown: [0, 0, 'shutdown'],
};

/** One reply as `celery` prints it. */
function formatReply(value: unknown): string[] {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    if (typeof v['ok'] === 'string' && Object.keys(v).length === 1) return [`        ${v['ok']}`];
    if (typeof v['error'] === 'string' && Object.keys(v).length === 1) return [`        error: ${v['error']}`];
  }
  if (Array.isArray(value)) return value.length === 0 ? ['    - empty -'] : value.map((item) => `    * ${typeof item === 'string' ? item : JSON.stringify(item)}`);
  return JSON.stringify(value, null, 4).split('\n').map((l) => `    ${l}`);
}

/** Prints replies in `celery inspect` / `celery control` layout. */
export function printReplies(io: CliIo, replies: Replies, json: boolean): number {
  if (json) {
    io.out(JSON.stringify(Object.assign({}, ...replies)));
    return replies.length;
  }
  for (const reply of replies) {
    for (const [host, value] of Object.entries(reply)) {
      const failed = value && typeof value === 'object' && 'error' in (value as object);
      io.out(`->  ${host}: ${failed ? 'ERROR' : 'OK'}`);
      for (const line of formatReply(value)) io.out(line);
    }
  }
  if (replies.length === 0) io.err('Error: No nodes replied within time constraint');
  return replies.length;
}

function options(opts: MonitorOpts): { timeout: number; destination?: string[] } {
  return { timeout: opts.timeout, ...(opts.destination ? { destination: opts.destination.split(',').map((d) => d.trim()).filter(Boolean) } : {}) };
}

/** Positional command arguments as Celery's `control` takes them. */
function controlArguments(command: string, args: string[], flags: { terminate?: boolean; signal?: string }): Record<string, unknown> {
  const [a, b, c] = args;
  switch (command) {
    case 'revoke':
      return { task_id: args, terminate: flags.terminate ?? false, signal: flags.signal ?? null };
    case 'terminate':
      return { signal: a, task_id: args.slice(1), terminate: true };
    case 'rate_limit':
      return { task_name: a, rate_limit: b };
    case 'time_limit':
      return { task_name: a, soft: b === undefined ? null : Number(b), hard: c === undefined ? null : Number(c) };
    case 'add_consumer':
    case 'cancel_consumer':
      return { queue: a };
    case 'pool_grow':
    case 'pool_shrink':
      return { n: a === undefined ? 1 : Number(a) };
    default:
      return {};
  }
}

/** Adds the monitoring commands to the program. */
export function registerMonitorCommands(
  program: Command,
  io: CliIo,
  common: (cmd: Command) => Command,
  prepare: Prepare,
  usageError: (message: string) => Error,
): void {
  const addressing = (cmd: Command): Command =>
    cmd
      .option('-d, --destination <hosts>', 'comma-separated worker hostnames (default: all)')
      .option('-t, --timeout <seconds>', 'how long to wait for replies', positiveSeconds, 1)
      .option('-j, --json', 'print the replies as JSON');

  addressing(common(program.command('status').description('list the workers online')))
    .action(async (opts: MonitorOpts) => {
      const { app } = await prepare({ ...opts });
      try {
        const replies = await app.control.ping(options(opts));
        if (opts.json) io.out(JSON.stringify(Object.assign({}, ...replies)));
        else {
          for (const reply of replies) for (const host of Object.keys(reply)) io.out(`->  ${host}: OK`);
          io.out(`\n${replies.length} node${replies.length === 1 ? '' : 's'} online.`);
        }
        if (replies.length === 0) {
          if (!opts.json) io.err('Error: No nodes replied within time constraint');
          process.exitCode = EXIT.unavailable;
        }
      } finally {
        await app.close();
      }
    });

  addressing(common(program.command('inspect').description(`ask workers (${INSPECT.join(', ')})`)))
    .argument('<command>', 'what to ask')
    .argument('[args...]', 'task ids for query_task')
    .action(async (command: string, args: string[], opts: MonitorOpts) => {
      if (!INSPECT.includes(command)) throw usageError(`unknown inspect command '${command}' (known: ${INSPECT.join(', ')})`);
      const { app } = await prepare({ ...opts });
      try {
        const replies = await app.control.broadcast(command, { ...options(opts), reply: true, arguments: command === 'query_task' ? { ids: args } : {} });
        const n = printReplies(io, replies, opts.json ?? false);
        if (!opts.json) io.out(`\n${n} node${n === 1 ? '' : 's'} online.`);
        if (n === 0) process.exitCode = EXIT.unavailable;
      } finally {
        await app.close();
      }
    });

  addressing(common(program.command('control').description(`tell workers (${CONTROL.join(', ')})`)))
    .argument('<command>', 'what to do')
    .argument('[args...]', 'its arguments (task ids, task name and rate, queue, n)')
    .option('--terminate', 'revoke: also stop the task if it is running')
    .option('--signal <name>', 'revoke --terminate: the signal (TERM, KILL)')
    .action(async (command: string, args: string[], opts: MonitorOpts & { terminate?: boolean; signal?: string }) => {
      if (!CONTROL.includes(command)) throw usageError(`unknown control command '${command}' (known: ${CONTROL.join(', ')})`);
      const [fewest, most, usage] = CONTROL_ARITY[command]!;
      if (args.length < fewest || args.length > most) throw usageError(`control ${command} takes ${fewest === most ? fewest : `${fewest} to ${most === Infinity ? 'any number of' : most}`} argument(s): celeriac control ${usage}`);
      const { app } = await prepare({ ...opts });
      try {
        const method = command === 'terminate' ? 'revoke' : command;
        const flags = { ...(opts.terminate !== undefined ? { terminate: opts.terminate } : {}), ...(opts.signal !== undefined ? { signal: opts.signal } : {}) };
        const replies = await app.control.broadcast(method, {
          ...options(opts),
          reply: command !== 'shutdown',
          arguments: controlArguments(command, args, flags),
        });
        if (command !== 'shutdown' && printReplies(io, replies, opts.json ?? false) === 0) process.exitCode = EXIT.unavailable;
      } finally {
        await app.close();
      }
    });

  common(program.command('events').description('print the events of the cluster as they happen'))
    .option('--dump', 'one raw JSON event per line')
    .option('--duration <seconds>', 'stop after this long (default: until interrupted)', positiveSeconds)
    .action(async (opts: MonitorOpts & { dump?: boolean; duration?: number }) => {
      const { app } = await prepare({ ...opts });
      const receiver = app.events.receiver({
        '*': (e) => {
          if (opts.dump) {
            io.out(JSON.stringify(e));
            return;
          }
          const when = new Date(e.timestamp * 1000).toISOString().replace('T', ' ').slice(0, 23);
          const task = e['uuid'] ? ` ${String(e['name'] ?? '')}[${String(e['uuid'])}]` : '';
          const detail = e['result'] !== undefined ? ` result=${String(e['result'])}` : e['exception'] !== undefined ? ` ${String(e['exception'])}` : '';
          io.out(`${when} ${e.hostname} ${e.type}${task}${detail}`);
        },
      });
      await receiver.start();
      await untilStopped(opts.duration !== undefined ? opts.duration * 1000 : undefined);
      await receiver.stop();
      await app.close();
    });
}
