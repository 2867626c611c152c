/**
 * Helpers for tests of the package as users get it: `npm pack` of this repository, a fresh
 * project made with `npm init -y` that installs the tarball, and commands run in it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The repository's root. */
export const repoRoot = new URL('../..', import.meta.url).pathname;

/** What a finished command printed and how it ended. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed past `timeoutMs`); never rejects on a non-zero exit. */
export function run(command: string, args: readonly string[], cwd: string, options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} took over ${options.timeoutMs} ms\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs a command and fails with its output unless it exits 0. */
export async function mustRun(command: string, args: readonly string[], cwd: string, options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const result = await run(command, args, cwd, options);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** npm's flags for installs that use the local cache first and print little. */
const NPM_QUIET = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

/** `npm pack` of the repository (which builds it: `prepare`) into `dir`; the tarball's path. */
export async function packRepository(dir: string): Promise<string> {
  const { stdout } = await mustRun('npm', ['pack', '--pack-destination', dir, '--loglevel=error'], repoRoot, { timeoutMs: 180_000 });
  const name = stdout.trim().split('\n').pop()!;
  return join(dir, name);
}

/**
 * A fresh project in `dir` (`npm init -y`, CommonJS; `type: module` for 'module'), with the
 * tarball and `packages` installed. Install scripts are skipped and better-sqlite3's native
 * addon is taken from this repository's install when the versions match: this machine cannot
 * download prebuilt binaries, and compiling SQLite takes minutes.
 */
export async function makeProject(dir: string, kind: 'commonjs' | 'module', tarball: string, packages: readonly string[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await mustRun('npm', ['init', '-y', '--loglevel=error'], dir);
  if (kind === 'module') await mustRun('npm', ['pkg', 'set', 'type=module'], dir);
  await mustRun('npm', ['install', tarball, ...packages, '--ignore-scripts', ...NPM_QUIET], dir, { timeoutMs: 180_000 });
  const version = (path: string): string => (JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) as { version: string }).version;
  const ours = join(repoRoot, 'node_modules/better-sqlite3');
  const theirs = join(dir, 'node_modules/better-sqlite3');
  if (version(ours) === version(theirs) && existsSync(join(ours, 'build/Release/better_sqlite3.node'))) {
    mkdirSync(join(theirs, 'build/Release'), { recursive: true });
    copyFileSync(join(ours, 'build/Release/better_sqlite3.node'), join(theirs, 'build/Release/better_sqlite3.node'));
  } else {
    await mustRun('npm', ['rebuild', 'better-sqlite3', '--loglevel=error'], dir, { timeoutMs: 600_000 });
  }
}

/** Writes files (name → text) into `dir`. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

/**
 * Typechecks `files` with this repository's TypeScript and no tsconfig: `--strict`, ES2022,
 * Node's module rules (what `tsc --init` sets), celeriac's declarations checked too.
 */
export function typecheck(dir: string, files: readonly string[]): Promise<RunResult> {
  const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
  return mustRun(process.execPath, [tsc, '--strict', '--noEmit', '--target', 'es2022', '--module', 'nodenext', ...files], dir, { timeoutMs: 180_000 });
}

/** A running `npx celeriac worker`, ready (its ready line seen). */
export interface RunningWorker {
  child: ChildProcess;
  /** Everything it logged so far. */
  log(): string;
  /** SIGTERM (a warm shutdown); resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `npx celeriac worker <args>` in `dir` and waits for its ready line. */
export function startWorker(dir: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 60_000): Promise<RunningWorker> {
  // npx runs the command under a shell in a child process and does not pass SIGTERM on: the
  // worker gets its own process group, and the signal goes to the worker process itself.
  const child = spawn('npx', ['--no-install', 'celeriac', 'worker', ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const worker: RunningWorker = {
    child,
    log: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const ps = await run('ps', ['-o', 'pid=,args=', '-g', String(child.pid)], dir);
        const line = ps.stdout.split('\n').find((l) => /^\s*\d+ node .*celeriac worker/.test(l));
        if (line) process.kill(Number(line.trim().split(' ')[0]), 'SIGTERM');
        else process.kill(-child.pid!, 'SIGTERM');
      }
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 30_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
      reject(new Error(`the worker was not ready in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      output += d.toString();
      if (output.includes(' ready: ')) {
        clearTimeout(timer);
        resolve(worker);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the worker exited (${code}) before it was ready:\n${output}`));
    });
  });
}
