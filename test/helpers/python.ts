/**
 * Running the Python Celery peer (Debian's python3-celery, /usr/bin/python3) in interop tests:
 * availability, worker processes waited on until ready, and client scripts run asynchronously
 * (so a celeriac worker in the test process keeps running meanwhile).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { servicesRequired } from './services.js';

export const PYTHON = '/usr/bin/python3';
/** The Python side's modules (pyapp.py). */
export const PY_DIR = new URL('../fixtures/py/', import.meta.url).pathname;

/** Why Python Celery with `modules` cannot be used (a skip reason), or false when it can (or CI requires it). */
export function pythonSkip(modules: string[]): string | false {
  const r = spawnSync(PYTHON, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
  const problem = r.error ? r.error.message : r.status === 0 ? null : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
  return problem && !servicesRequired ? `Python Celery unavailable (${problem}); apt-get install python3-celery` : false;
}

/** Which Python app a worker runs: its module, the folder it lives in, and the pool arguments. */
export interface PythonWorkerApp {
  /** @defaultValue 'pyapp' */
  module?: string;
  /** @defaultValue PY_DIR */
  cwd?: string;
  /** @defaultValue ['--pool=solo'] */
  pool?: string[];
}

/** Starts `python -m celery -A <module> worker <args>`; resolves once it logs that it is ready. */
export async function startPythonWorker(args: string[], env: NodeJS.ProcessEnv, pyApp: PythonWorkerApp = {}): Promise<ChildProcess> {
  const { module = 'pyapp', cwd = PY_DIR, pool = ['--pool=solo'] } = pyApp;
  const child = spawn(PYTHON, ['-m', 'celery', '-A', module, 'worker', ...pool, '-l', 'info', ...args], {
    env,
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`python worker not ready: ${log.slice(-500)}`)), 40_000);
    child.stderr!.on('data', (b: Buffer) => {
      log += b.toString();
      if (log.includes('ready.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`python worker exited ${code}: ${log.slice(-500)}`));
    });
  });
  return child;
}

/**
 * Runs `python <args>` in PY_DIR, with `input` on its stdin when given; resolves with its stdout
 * (rejects on a non-zero exit unless `allowFailure`).
 */
export function runPython(args: string[], env: NodeJS.ProcessEnv, allowFailure = false, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { env, cwd: PY_DIR });
    if (input !== undefined) child.stdin.end(input);
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0 || allowFailure) resolve(out);
      else reject(new Error(`python ${args.join(' ')} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

/** The last line a Python run printed. */
export function lastLine(out: string): string {
  return out.trim().split('\n').pop() ?? '';
}

/** Runs Python's `celery -A pyapp <args>` CLI in PY_DIR; resolves with its stdout, whatever its exit code. */
export function celeryCli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<string> {
  return runPython(['-m', 'celery', '-A', 'pyapp', ...args], env, true);
}
