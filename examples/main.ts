/**
 * The main job: a worker process and a client process (this one) sharing the embedded default
 * broker and backend, the SQLite file `celeriac.sqlite` in the working directory. The worker is
 * the real CLI (`celeriac worker -A examples/tasks.ts`); the client sends a few of the guide's
 * tasks (an add, a chain, a group, a retrying task, a task reporting progress) and prints their
 * results, then stops the worker with SIGTERM (a warm shutdown).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { chain, group } from 'celeriac';
import { add, app, mul, sendStatus, upload, xsum } from './tasks.js';

const print = (label: string, value: unknown): void => {
  process.stdout.write(`${label.padEnd(36)} ${JSON.stringify(value)}\n`);
};

const worker = spawn(process.execPath, ['bin/celeriac.js', 'worker', '-A', 'examples/tasks.ts', '-c', '4', '-l', 'info'], {
  cwd: new URL('..', import.meta.url).pathname,
  stdio: ['ignore', 'inherit', 'pipe'],
});
const ready = new Promise<void>((resolve, reject) => {
  worker.once('exit', (code) => reject(new Error(`the worker exited before it was ready (code ${code})`)));
  createInterface({ input: worker.stderr! }).on('line', (line) => {
    if (line.includes(' ready: ')) resolve();
    // The worker's own log, indented under the client's output.
    if (/WARN|ERROR|ready|retry|shutdown/.test(line)) process.stdout.write(`    worker | ${line}\n`);
  });
});
await ready;

try {
  const r1 = await add.delay(2, 3);
  print('add(2, 3)', await r1.get({ timeout: 20 }));

  const r2 = await chain(add.s(1, 2), add.s(10), mul.s(2)).applyAsync();
  print('chain(add(1,2), add(10), mul(2))', await r2.get({ timeout: 20 }));

  const r3 = await group([1, 2, 3].map((i) => xsum.s([i, i * 10]))).applyAsync();
  print('group(xsum([1,10]), ...)', await r3.get({ timeout: 20 }));

  const r4 = await sendStatus.delay('token', 'hello from celeriac');
  print('sendStatus (fails twice, retries)', await r4.get({ timeout: 20 }));

  const r5 = await upload.delay('photo.png', 5);
  let last = '';
  while (!(await r5.ready())) {
    const line = JSON.stringify({ state: await r5.state(), info: await r5.info() });
    if (line !== last) process.stdout.write(`  progress ${line}\n`);
    last = line;
    await new Promise((r) => setTimeout(r, 20));
  }
  print('upload(photo.png, 5)', await r5.get());
} finally {
  worker.kill('SIGTERM');
  await new Promise((r) => worker.once('exit', r));
  await app.close();
}
