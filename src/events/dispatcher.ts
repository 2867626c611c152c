/**
 * Monitoring events as Celery sends them (shared/reference/celery-wire.md, §7): JSON bodies with
 * `type`, `hostname`, `utcoffset`, `pid`, `clock`, `timestamp` and the event's own fields,
 * published on the `celeryev` exchange with the type as routing key (`task-succeeded` →
 * `task.succeeded`). Celery makes `celeryev` a topic exchange, except on Redis where it is a
 * fanout (pub/sub); we do the same so `celery events` and Flower read our events.
 */
import type { Celeriac } from '../app/celeriac.js';
import type { Transport } from '../broker/port.js';
import { jsonMessage } from '../control/pidbox.js';
import { encodePayload } from '../protocol/message.js';
import { hostname as machineName } from '../utils/ids.js';

export const EVENT_EXCHANGE = 'celeryev';

/** One event, with Celery's field names. */
export interface CeleryEvent {
  type: string;
  hostname: string;
  timestamp: number;
  clock?: number;
  pid?: number;
  utcoffset?: number;
  [field: string]: unknown;
}

/** The exchange type Celery uses for events on this broker. */
export function eventExchangeType(transport: Transport): 'topic' | 'fanout' {
  return transport.driver === 'redis' ? 'fanout' : 'topic';
}

/** Sends events for one node (a worker, or a producer's `task-sent`). */
export class EventDispatcher {
  private clock = 0;
  private declared: Promise<Transport> | undefined;

  constructor(
    private readonly app: Celeriac,
    readonly hostname: string = `celeriac@${machineName()}`,
  ) {}

  private transport(): Promise<Transport> {
    this.declared ??= (async () => {
      const t = await this.app.getTransport();
      await t.declareExchange(EVENT_EXCHANGE, eventExchangeType(t));
      return t;
    })();
    this.declared.catch(() => (this.declared = undefined));
    return this.declared;
  }

  /** Publishes an event of `type` with `fields`. Never throws: monitoring must not stop work. */
  async send(type: string, fields: Record<string, unknown> = {}): Promise<void> {
    const event: CeleryEvent = {
      hostname: this.hostname,
      utcoffset: -new Date().getTimezoneOffset() / 60,
      pid: process.pid,
      clock: ++this.clock,
      ...fields,
      type,
      timestamp: Date.now() / 1000,
    };
    try {
      const transport = await this.transport();
      const serializer = this.app.conf.eventSerializer;
      const headers = { hostname: this.hostname };
      const message =
        serializer === 'json' ? jsonMessage(event, headers) : encodePayload(event, this.app.codecs, serializer, headers, { delivery_mode: 1 });
      await transport.publish(message, { exchange: EVENT_EXCHANGE, routingKey: type.replace('-', '.') });
    } catch (err) {
      this.app.logger.warn(`could not send event ${type}: ${(err as Error).message}`);
    }
  }
}
