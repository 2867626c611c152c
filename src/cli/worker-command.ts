/**
 * `celeriac worker`: Celery's worker command and its flags. Logging options (`-l`, `--logfile`,
 * `--log-format`) are passed to the app and to pool children through the environment
 * (`CELERIAC_LOG_LEVEL`, `CELERIAC_LOG_FILE`, `CELERIAC_LOG_FORMAT`), so every line the worker,
 * its children and its tasks write goes the same way.
 */
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { fileSink, parseLogFormat, type LogFormat } from '../logging/logger.js';
import { createPidfile } from '../utils/pidfile.js';
import { Worker } from '../worker/worker.js';
import { cliLogger, common, prepare, type CliIo, type CommonOpts } from './common.js';
import { autoscale, positiveSeconds, wholeNumber } from './parse.js';

interface WorkerCliOpts extends CommonOpts {
  queues?: string;
  concurrency?: number;
  hostname: string;
  prefetchMultiplier?: number;
  pool: 'async' | 'solo' | 'process' | 'threads';
  optimization?: 'default' | 'fair';
  maxTasksPerChild?: number;
  maxMemoryPerChild?: number;
  beat?: boolean;
  schedule?: string;
  taskEvents?: boolean;
  withoutHeartbeat?: boolean;
  withoutGossip?: boolean;
  withoutMingle?: boolean;
  statedb?: string;
  timeLimit?: number;
  softTimeLimit?: number;
  autoscale?: { max: number; min: number };
  logfile?: string;
  logFormat?: LogFormat;
  pidfile?: string;
  detach?: boolean;
}

/** `-D`: starts the same command again in the background, its output in the log file, and returns. */
function detach(opts: WorkerCliOpts, io: CliIo, argv: readonly string[]): void {
  const args = argv.slice(1).filter((a) => a !== '-D' && a !== '--detach');
  const out = openSync(opts.logfile ? resolve(opts.logfile) : '/dev/null', 'a');
  const child = spawn(process.execPath, [...process.execArgv, ...args], { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  io.out(`worker started in the background (pid ${child.pid ?? '?'})${opts.logfile ? `, logging to ${resolve(opts.logfile)}` : ''}`);
}

/** Adds the `worker` command. */
export function registerWorkerCommand(program: Command, io: CliIo, argv: () => readonly string[]): void {
  common(program.command('worker').description('start a worker'))
    .option('-Q, --queues <names>', 'comma-separated queues to consume')
    .option('-c, --concurrency <n>', 'tasks at once', wholeNumber)
    .option('-n, --hostname <name>', 'node name (%h = host name)', 'celeriac@%h')
    .option('--prefetch-multiplier <n>', 'prefetch = concurrency x this', wholeNumber)
    .addOption(new Option('-P, --pool <kind>', 'execution pool').choices(['async', 'solo', 'process', 'threads']).default('async'))
    .addOption(new Option('-O, --optimization <profile>', "'fair': give a pool child work only when it is free").choices(['default', 'fair']))
    .option('--max-tasks-per-child <n>', 'replace a pool child after this many tasks', wholeNumber)
    .option('--max-memory-per-child <KiB>', 'replace a pool child whose memory exceeds this after a task', wholeNumber)
    .option('--autoscale <max,min>', 'grow the pool up to max with the load, shrink it back to min', autoscale)
    .option('--time-limit <seconds>', 'hard time limit of every task (task_time_limit)', positiveSeconds)
    .option('--soft-time-limit <seconds>', 'soft time limit of every task (task_soft_time_limit)', positiveSeconds)
    .option('-E, --task-events', 'send task events (for monitors such as `celeriac events`)')
    .option('--without-heartbeat', 'send no worker-heartbeat events')
    .option('--without-gossip', "don't follow the other workers' events")
    .option('--without-mingle', "don't ask the other workers for their revoked tasks at start")
    .option('-S, --statedb <file>', 'keep revoked task ids in this file across restarts')
    .option('-B, --beat', 'also run the beat service (periodic tasks) in this worker')
    .option('-s, --schedule <file>', 'with -B: where beat keeps the last run of each entry')
    .option('-f, --logfile <file>', 'append the log here instead of stderr (pool children and tasks too)')
    .addOption(new Option('--log-format <format>', 'text (Celery\'s lines) or json (one object per line)').choices(['text', 'json']))
    .option('--pidfile <file>', 'write the pid here; refuse to start if a running worker holds it')
    .option('-D, --detach', 'run in the background (with --logfile for its output)')
    .action(async (opts: WorkerCliOpts) => {
      if (opts.detach) return detach(opts, io, argv());
      // Set before the app module is loaded, so its logger, its tasks' and the children's follow.
      process.env['CELERIAC_LOG_LEVEL'] = opts.loglevel;
      if (opts.logFormat) process.env['CELERIAC_LOG_FORMAT'] = opts.logFormat;
      if (opts.logfile) process.env['CELERIAC_LOG_FILE'] = resolve(opts.logfile);
      const format = opts.logFormat ?? (process.env['CELERIAC_LOG_FORMAT'] ? parseLogFormat(process.env['CELERIAC_LOG_FORMAT']) : undefined);
      const logger = cliLogger(opts, io, format, opts.logfile ? fileSink(resolve(opts.logfile)) : undefined);
      const removePidfile = opts.pidfile ? createPidfile(resolve(opts.pidfile), (pid) => logger.warn(`removing stale pidfile ${opts.pidfile} (process ${pid} is gone)`)) : undefined;
      try {
        const { app } = await prepare(opts);
        if (format) app.conf.logFormat = format;
        if (opts.timeLimit !== undefined) app.conf.taskTimeLimit = opts.timeLimit;
        if (opts.softTimeLimit !== undefined) app.conf.taskSoftTimeLimit = opts.softTimeLimit;
        const worker = new Worker(app, {
          logger,
          hostname: opts.hostname,
          pool: opts.pool,
          appModule: opts.app,
          logLevel: opts.loglevel,
          fair: opts.optimization === 'fair',
          ...(opts.withoutHeartbeat ? { heartbeat: false } : {}),
          ...(opts.withoutGossip ? { gossip: false } : {}),
          ...(opts.withoutMingle ? { mingle: false } : {}),
          ...(opts.taskEvents ? { sendEvents: true } : {}),
          ...(opts.statedb ? { statedb: opts.statedb } : {}),
          ...(opts.autoscale ? { autoscale: opts.autoscale } : {}),
          ...(opts.beat ? { beat: opts.schedule ? { scheduleFile: opts.schedule } : true } : {}),
          ...(opts.maxTasksPerChild !== undefined ? { maxTasksPerChild: opts.maxTasksPerChild } : {}),
          ...(opts.maxMemoryPerChild !== undefined ? { maxMemoryPerChild: opts.maxMemoryPerChild } : {}),
          ...(opts.queues ? { queues: opts.queues.split(',').map((q) => q.trim()).filter(Boolean) } : {}),
          ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
          ...(opts.prefetchMultiplier !== undefined ? { prefetchMultiplier: opts.prefetchMultiplier } : {}),
        });
        await worker.start();
        await worker.done;
        await app.close();
      } finally {
        removePidfile?.();
      }
    });
}
