/**
 * Celery's gossip: a worker listens to the other workers' events (worker-online, -heartbeat,
 * -offline) to know who is up, logs when one joins, leaves or misses its heartbeats, and answers
 * with what it knows. Off with `--without-gossip`.
 */
import type { Celeriac } from '../app/celeriac.js';
import type { CeleryEvent } from '../events/dispatcher.js';
import { EventReceiver } from '../events/receiver.js';
import { HEARTBEAT_FREQ } from '../events/worker-events.js';
import type { Logger } from '../logging/logger.js';

/** A worker seen through gossip. */
export interface Peer {
  hostname: string;
  /** Epoch ms of its last event. */
  lastSeen: number;
  /** Seconds between its heartbeats. */
  freq: number;
  alive: boolean;
}

/** A peer is lost after this many missed heartbeats (Celery's expiry window, 200%). */
const MISSED = 2;

/** Keeps track of the other workers of the cluster. */
export class Gossip {
  private receiver: EventReceiver | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly known = new Map<string, Peer>();

  constructor(
    private readonly app: Celeriac,
    private readonly hostname: string,
    private readonly logger: Logger,
  ) {}

  /** The workers seen, alive or not. */
  peers(): Peer[] {
    return [...this.known.values()].map((p) => ({ ...p }));
  }

  async start(): Promise<void> {
    const on = (e: CeleryEvent): void => this.onEvent(e);
    this.receiver = new EventReceiver(this.app, { 'worker-online': on, 'worker-heartbeat': on, 'worker-offline': on }, { routingKey: 'worker.#' });
    await this.receiver.start();
    this.timer = setInterval(() => this.check(), HEARTBEAT_FREQ * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.receiver?.stop();
  }

  private onEvent(e: CeleryEvent): void {
    if (e.hostname === this.hostname) return;
    const peer = this.known.get(e.hostname);
    if (e.type === 'worker-offline') {
      if (peer?.alive) this.logger.info(`gossip: ${e.hostname} left`);
      if (peer) peer.alive = false;
      return;
    }
    const freq = typeof e['freq'] === 'number' && e['freq'] > 0 ? e['freq'] : HEARTBEAT_FREQ;
    if (!peer || !peer.alive) this.logger.info(`gossip: ${e.hostname} joined`);
    this.known.set(e.hostname, { hostname: e.hostname, lastSeen: Date.now(), freq, alive: true });
  }

  /** Marks peers whose heartbeats stopped. */
  check(now = Date.now()): void {
    for (const peer of this.known.values()) {
      if (peer.alive && now - peer.lastSeen > peer.freq * MISSED * 1000) {
        peer.alive = false;
        this.logger.warn(`gossip: missed heartbeat from ${peer.hostname}`);
      }
    }
  }
}
