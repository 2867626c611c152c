/**
 * The tasks of the compose example. The broker and result backend come from
 * CELERIAC_BROKER_URL / CELERIAC_RESULT_BACKEND (Redis in compose.yaml).
 */
import { Celeriac, getTaskLogger } from 'celeriac';

const logger = getTaskLogger('tasks');

/** The app; the worker loads it with `celeriac worker -A tasks.ts`. */
export const app = new Celeriac('compose');

/** Adds two numbers. */
export const add = app.task(function add(x: number, y: number): number {
  logger.info(`Adding ${x} + ${y}`);
  return x + y;
});

/** Counts the words of a text, slowly (a stand-in for real work). */
export const countWords = app.task(async function countWords(text: string): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 200));
  return text.split(/\s+/).filter(Boolean).length;
});
