/**
 * Receiving monitoring events (Celery's `app.events.Receiver`): an auto-deleted queue
 * `celeryev.<id>` bound to `celeryev` with `#`, single events and `task.multi` batches alike,
 * handed to handlers by type (`'*'` for all).
 */
import type { Celeriac } from '../app/celeriac.js';
import type { Consumer } from '../broker/port.js';
import { decodePayload } from '../protocol/message.js';
import { uuid } from '../utils/ids.js';
import { EVENT_EXCHANGE, eventExchangeType, type CeleryEvent } from './dispatcher.js';

/** Handlers by event type; `'*'` receives every event. */
export type EventHandlers = Record<string, (event: CeleryEvent) => void>;

/** A running subscription to the events of the cluster. */
export class EventReceiver {
  private consumer: Consumer | undefined;
  /** Reasons already warned about (bounded: reasons may embed varying details). */
  private readonly warned = new Set<string>();

  /**
   * @param options.routingKey which events the queue is bound to: `worker.#` for worker events
   *   only (gossip). @defaultValue `'#'` (all)
   */
  constructor(
    private readonly app: Celeriac,
    private readonly handlers: EventHandlers,
    private readonly options: { routingKey?: string } = {},
  ) {}

  /** Starts receiving. */
  async start(): Promise<void> {
    const transport = await this.app.getTransport();
    const type = eventExchangeType(transport);
    await transport.declareExchange(EVENT_EXCHANGE, type);
    const name = `celeryev.${uuid()}`;
    await transport.declareQueue({
      name,
      exchange: EVENT_EXCHANGE,
      exchangeType: type,
      routingKey: this.options.routingKey ?? '#',
      durable: false,
      autoDelete: true,
      arguments: { 'x-message-ttl': 5000, 'x-expires': 60_000 },
    });
    this.consumer = await transport.consume(
      [name],
      (d) => {
        void d.ack();
        let parsed: unknown;
        try {
          // Celery's receivers accept the event serializer, JSON, and signed events once signing is
          // set up (kombu trusts application/data; it is verified, never parsed unchecked).
          // Plain JSON takes the short path.
          parsed =
            d.message.contentType === 'application/json'
              ? JSON.parse(d.message.body.toString('utf8'))
              : decodePayload(d.message, { ...this.app.codecs, accept: [this.app.conf.eventSerializer, 'json', 'auth'] });
        } catch (err) {
          const reason = (err as Error).message;
          // Events come by the hundred: say each reason once, then only at debug level.
          if (this.warned.has(reason) || this.warned.size >= 100) this.app.logger.debug(`ignoring an unreadable event: ${reason}`);
          else {
            this.warned.add(reason);
            this.app.logger.warn(`ignoring an unreadable event: ${reason}`);
          }
          return;
        }
        for (const event of Array.isArray(parsed) ? parsed : [parsed]) {
          if (!event || typeof event !== 'object' || typeof (event as CeleryEvent).type !== 'string') continue;
          const e = event as CeleryEvent;
          try {
            this.handlers[e.type]?.(e);
            this.handlers['*']?.(e);
          } catch (err) {
            this.app.logger.error({ err }, `event handler for ${e.type} failed`);
          }
        }
      },
      { prefetch: 0 },
    );
  }

  /** Stops receiving. */
  async stop(): Promise<void> {
    const c = this.consumer;
    this.consumer = undefined;
    await c?.close();
  }
}
