/**
 * Celery's remote-control wire format (kombu's "pidbox"; shared/reference/celery-wire.md, §7):
 * - a command is broadcast on the fanout exchange `celery.pidbox`; every worker consumes its own
 *   queue `<hostname>.celery.pidbox` bound to it. Body: `{method, arguments, destination,
 *   pattern, matcher, ticket, reply_to: {exchange, routing_key}}`; headers `{clock, expires}`.
 * - replies go to the direct exchange `reply.celery.pidbox` with the caller's id as routing key
 *   (the caller consumes `<id>.reply.celery.pidbox`). Body `{<hostname>: <reply>}`; headers
 *   `{ticket, clock}`.
 * Commands and replies are serialized as tasks are (Celery's mailbox uses `task_serializer` and
 * `accept_content`), so with message signing on they are signed and verified too.
 */
import type { ExchangeType, QueueSpec, Transport } from '../broker/port.js';
import { decodePayload, encodePayload, type Codecs, type TransportMessage } from '../protocol/message.js';
import { globToRegExp } from '../utils/glob.js';

export const PIDBOX_EXCHANGE = 'celery.pidbox';
export const REPLY_EXCHANGE = 'reply.celery.pidbox';

/** A control command as it travels. */
export interface ControlMessage {
  method: string;
  arguments: Record<string, unknown>;
  destination: string[] | null;
  pattern: string | null;
  matcher: string | null;
  ticket: string;
  reply_to: { exchange: string; routing_key: string } | null;
}

/** The queue a worker reads its commands from. */
export function workerQueue(hostname: string): QueueSpec {
  return {
    name: `${hostname}.celery.pidbox`,
    exchange: PIDBOX_EXCHANGE,
    exchangeType: 'fanout',
    routingKey: '',
    durable: false,
    autoDelete: true,
    arguments: { 'x-message-ttl': 300_000, 'x-expires': 10_000 },
  };
}

/** The queue a client collects replies in. */
export function replyQueue(clientId: string): QueueSpec {
  return {
    name: `${clientId}.reply.celery.pidbox`,
    exchange: REPLY_EXCHANGE,
    exchangeType: 'direct',
    routingKey: clientId,
    durable: false,
    autoDelete: true,
    arguments: { 'x-message-ttl': 300_000, 'x-expires': 10_000 },
  };
}

/** Declares the two pidbox exchanges (fanout for commands, direct for replies). */
export async function declarePidbox(transport: Transport): Promise<void> {
  const kinds: Array<[string, ExchangeType]> = [
    [PIDBOX_EXCHANGE, 'fanout'],
    [REPLY_EXCHANGE, 'direct'],
  ];
  // As kombu declares them: not durable (a different flag would be an error on RabbitMQ).
  for (const [name, type] of kinds) await transport.declareExchange(name, type, { durable: false });
}

/** A JSON message, as kombu sends control traffic. */
export function jsonMessage(body: unknown, headers: Record<string, unknown>): TransportMessage {
  return {
    body: Buffer.from(JSON.stringify(body), 'utf8'),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    headers,
    properties: { delivery_mode: 1 },
  };
}

/** A command or reply, serialized with `serializer` (the app's task serializer). */
export function controlMessage(body: unknown, headers: Record<string, unknown>, codecs: Codecs, serializer: string): TransportMessage {
  return encodePayload(body, codecs, serializer, headers, { delivery_mode: 1 });
}

/**
 * Parses a command; throws a message naming what is wrong (ContentDisallowed or SecurityError
 * for a command outside `accept_content` or badly signed).
 */
export function parseControlMessage(message: TransportMessage, codecs: Codecs): ControlMessage {
  const body = decodePayload(message, codecs) as Partial<ControlMessage> | null;
  if (!body || typeof body !== 'object' || typeof body.method !== 'string') throw new Error('control message without a method');
  const args = body.arguments;
  return {
    method: body.method,
    arguments: args && typeof args === 'object' && !Array.isArray(args) ? args : {},
    destination: Array.isArray(body.destination) ? body.destination.map(String) : null,
    pattern: typeof body.pattern === 'string' ? body.pattern : null,
    matcher: typeof body.matcher === 'string' ? body.matcher : null,
    ticket: typeof body.ticket === 'string' ? body.ticket : '',
    reply_to:
      body.reply_to && typeof body.reply_to === 'object' && typeof body.reply_to.routing_key === 'string'
        ? { exchange: String(body.reply_to.exchange ?? REPLY_EXCHANGE), routing_key: body.reply_to.routing_key }
        : null,
  };
}

/** Whether a command addressed as in `msg` is for the worker `hostname`. */
export function isForMe(msg: ControlMessage, hostname: string): boolean {
  if (msg.destination && msg.destination.length > 0 && !msg.destination.includes(hostname)) return false;
  if (msg.pattern) {
    const re = msg.matcher === 'pcre' ? new RegExp(msg.pattern) : globToRegExp(msg.pattern);
    if (!re.test(hostname)) return false;
  }
  return true;
}
