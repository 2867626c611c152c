/**
 * The lease thread: loads a driver's renewer module, connects, and re-stamps the held messages
 * every `intervalMs`, independent of the main thread's event loop. See ./keeper.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ID_SEPARATOR, type FromLeaseThread, type LeaseRenewer, type RenewerFactory, type ToLeaseThread } from './keeper.js';

interface ThreadData {
  module: string;
  config: unknown;
  intervalMs: number;
}

if (!parentPort) throw new Error('lease thread started outside a worker thread');
const port = parentPort;
const data = workerData as ThreadData;
const held = new Set<string>();
const send = (msg: FromLeaseThread): void => port.postMessage(msg);
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

let renewer: LeaseRenewer;
try {
  const mod = (await import(data.module)) as { createRenewer?: RenewerFactory };
  if (typeof mod.createRenewer !== 'function') throw new Error(`${data.module} exports no createRenewer`);
  renewer = await mod.createRenewer(data.config);
  send({ op: 'ready' });
} catch (err) {
  send({ op: 'error', message: message(err) });
  process.exit(1);
}

let running = false;
async function renew(): Promise<void> {
  if (running || held.size === 0) return;
  running = true;
  try {
    await renewer.renew([...held]);
    send({ op: 'renewed', count: held.size });
  } catch (err) {
    send({ op: 'error', message: message(err) });
  } finally {
    running = false;
  }
}

const timer = setInterval(() => void renew(), data.intervalMs);

function apply(msg: ToLeaseThread): void {
  switch (msg.op) {
    case 'hold':
      for (const id of msg.ids.split(ID_SEPARATOR)) held.add(id);
      break;
    case 'release':
      for (const id of msg.ids.split(ID_SEPARATOR)) held.delete(id);
      break;
    case 'renew':
      void renew();
      break;
    case 'close':
      clearInterval(timer);
      void renewer.close().finally(() => port.close());
      break;
  }
}

port.on('message', apply);
