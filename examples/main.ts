/**
 * The main job: a worker and a client on the embedded default broker, the client sending a few of
 * the guide's tasks (an add, a chain, a retrying task, a task reporting progress) and printing
 * their results.
 */
import { chain, Worker } from '../src/index.js';
import { add, app, mul, sendStatus, upload, xsum } from './tasks.js';

const worker = new Worker(app, { concurrency: 4 });
await worker.start();

const print = (label: string, value: unknown): void => {
  process.stdout.write(`${label.padEnd(34)} ${JSON.stringify(value)}\n`);
};

const r1 = await add.delay(2, 3);
print('add(2, 3)', await r1.get({ timeout: 10 }));

const r2 = await chain(add.s(1, 2), add.s(10), mul.s(2)).applyAsync();
print('chain(add(1,2), add(10), mul(2))', await r2.get({ timeout: 10 }));

const r3 = await xsum.delay([1, 2, 3, 4]);
print('xsum([1, 2, 3, 4])', await r3.get({ timeout: 10 }));

const r4 = await sendStatus.delay('token', 'hello from celeriac');
print('sendStatus (fails twice, retries)', await r4.get({ timeout: 10 }));

const r5 = await upload.delay('photo.png', 5);
let last = '';
while (!(await r5.ready())) {
  const info = await r5.info();
  const line = JSON.stringify({ state: await r5.state(), info });
  if (line !== last) process.stdout.write(`  progress ${line}\n`);
  last = line;
  await new Promise((r) => setTimeout(r, 10));
}
print('upload(photo.png, 5)', await r5.get());

await worker.stop();
await app.close();
