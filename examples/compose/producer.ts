/**
 * The producer of the compose example: sends tasks every 2 s and prints their results; stops on
 * SIGTERM or Ctrl-C after closing its connections.
 */
import { add, app, countWords } from './tasks.js';

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => (stopping = true));

for (let i = 1; !stopping; i++) {
  const sum = await add.delay(i, i);
  const words = await countWords.delay(`message number ${i} from the producer`);
  console.log(`add(${i}, ${i}) = ${await sum.get({ timeout: 30 })}, words = ${await words.get({ timeout: 30 })}`);
  await new Promise((resolve) => setTimeout(resolve, 2000));
}
await app.close();
