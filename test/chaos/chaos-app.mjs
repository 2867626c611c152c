// The chaos suite's app, loaded by the worker from dist/ (plain JS: no TypeScript loader involved).
// Every run of `chaos.good` appends its tag to $CHAOS_RUNLOG, a durable per-task run log.
import { appendFileSync } from 'node:fs';

const { Celeriac } = await import(new URL('../../dist/esm/index.js', import.meta.url).href);
const queue = process.env.CHAOS_QUEUE;
const dlq = process.env.CHAOS_DLQ;

export const app = new Celeriac('chaos', {
  broker: process.env.CHAOS_BROKER,
  backend: null,
  taskDefaultQueue: queue,
  taskQueues: [
    {
      name: queue,
      exchange: '',
      routingKey: queue,
      ...(dlq ? { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq } } : {}),
    },
  ],
});

app.task(function good(tag) {
  appendFileSync(process.env.CHAOS_RUNLOG, `${tag}\n`);
}, { name: 'chaos.good' });
