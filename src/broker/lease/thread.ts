/**
 * The lease thread: loads a driver's renewer module, connects, and re-stamps the held messages
 * every `intervalMs`, independent of the main thread's event loop. See ./keeper.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ID_SEPARATOR, type FromLeaseThread, type LeaseRenewer, type RenewerFactory, type ToLeaseThread } from './keeper.js';
import { HeldTableReader } from './shared-table.js';

interface ThreadData {
  module: string;
  config: unknown;
  intervalMs: number;
  /** Load and connect the renewer before reporting ready; else at the first renewal. */
  eager: boolean;
}

if (!parentPort) throw new Error('lease thread started outside a worker thread');
const port = parentPort;
const data = workerData as ThreadData;
/** Held ids that came as messages (too long for the shared table). */
const held = new Set<string>();
const table = new HeldTableReader();
const send = (msg: FromLeaseThread): void => port.postMessage(msg);
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The renewer, loaded once (a driver module and its client library take a while to load). */
let loading: Promise<LeaseRenewer> | undefined;
function renewer(): Promise<LeaseRenewer> {
  loading ??= (async () => {
    const mod = (await import(data.module)) as { createRenewer?: RenewerFactory };
    if (typeof mod.createRenewer !== 'function') throw new Error(`${data.module} exports no createRenewer`);
    return mod.createRenewer(data.config);
  })().catch((err: unknown) => {
    loading = undefined; // try again at the next renewal
    throw err;
  });
  return loading;
}

/** Reports ready (after connecting, if eager), then takes messages. No top-level await: the CommonJS build runs this too. */
async function start(): Promise<void> {
  try {
    if (data.eager) await renewer();
    send({ op: 'ready' });
  } catch (err) {
    send({ op: 'error', message: message(err) });
    process.exit(1);
  }
  timer = setInterval(() => void renew(), data.intervalMs);
  port.on('message', apply);
}

let running = false;
async function renew(): Promise<void> {
  if (running) return;
  const ids = table.read([...held]);
  if (ids.length === 0) return;
  running = true;
  try {
    await (await renewer()).renew(ids);
    send({ op: 'renewed', count: ids.length });
  } catch (err) {
    send({ op: 'error', message: message(err) });
  } finally {
    running = false;
  }
}

let timer: NodeJS.Timeout | undefined;

function apply(msg: ToLeaseThread): void {
  switch (msg.op) {
    case 'hold':
      for (const id of msg.ids.split(ID_SEPARATOR)) held.add(id);
      break;
    case 'release':
      for (const id of msg.ids.split(ID_SEPARATOR)) held.delete(id);
      break;
    case 'table':
      table.addChunk(msg.buffer);
      break;
    case 'renew':
      void renew();
      break;
    case 'close':
      clearInterval(timer);
      void (loading ?? Promise.resolve(undefined))
        .then((r) => r?.close())
        .catch(() => undefined)
        .finally(() => port.close());
      break;
  }
}

void start();
