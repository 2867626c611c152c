/**
 * kombu's Redis message format (shared/reference/celery-wire.md, section 1): every message is a
 * JSON envelope `{body (base64), content-encoding, content-type, headers, properties}` whose
 * properties carry `delivery_info {exchange, routing_key}`, `priority`, `body_encoding: "base64"`
 * and a `delivery_tag` assigned at publish. Also the key names kombu uses: priority sub-queues
 * (`queue\x06\x16<n>`), binding sets and fanout channels.
 */
import { DecodeError } from '../../errors/index.js';
import type { TransportMessage } from '../../protocol/message.js';

/** kombu's separator inside Redis key names and binding entries. */
export const SEP = '\x06\x16';
/** kombu's default priority steps: a message goes to the list of the step at or below it. */
export const PRIORITY_STEPS = [0, 3, 6, 9] as const;
export const UNACKED_KEY = 'unacked';
export const UNACKED_INDEX_KEY = 'unacked_index';
export const UNACKED_MUTEX_KEY = 'unacked_mutex';
/** celeriac's own set of delivery tags its consumers hold (renewed leases; see transport.ts). */
export const LEASED_KEY = 'celeriac.leased';

/** The envelope as JSON. */
export interface Envelope {
  body: string;
  'content-encoding': string;
  'content-type': string;
  headers: Record<string, unknown>;
  properties: Record<string, unknown> & {
    delivery_info: { exchange: string; routing_key: string; redelivered?: boolean };
    delivery_tag: string;
    body_encoding?: string;
    priority?: number;
  };
}

/** The step a priority belongs to (kombu's `priority()`). On Redis, lower numbers go first. */
export function priorityStep(priority: unknown): number {
  const n = typeof priority === 'number' && Number.isFinite(priority) ? Math.max(0, Math.min(255, Math.trunc(priority))) : 0;
  let step: number = PRIORITY_STEPS[0];
  for (const s of PRIORITY_STEPS) if (n >= s) step = s;
  return step;
}

/** The list a message of `priority` in `queue` lives in. */
export function queueKey(queue: string, priority: unknown): string {
  const step = priorityStep(priority);
  return step === 0 ? queue : `${queue}${SEP}${step}`;
}

/** Every list of a queue, highest priority (lowest number) first. */
export function queueKeys(queue: string): string[] {
  return PRIORITY_STEPS.map((s) => (s === 0 ? queue : `${queue}${SEP}${s}`));
}

/** The queue a list key belongs to. */
export function queueOfKey(key: string): string {
  const i = key.lastIndexOf(SEP);
  return i >= 0 && /^\d+$/.test(key.slice(i + SEP.length)) ? key.slice(0, i) : key;
}

/** `_kombu.binding.<exchange>`: the set of bindings of an exchange. */
export function bindingKey(exchange: string): string {
  return `_kombu.binding.${exchange}`;
}

/** A binding entry: `routing_key SEP pattern SEP queue`. */
export function bindingEntry(routingKey: string, queue: string): string {
  return `${routingKey}${SEP}${SEP}${queue}`;
}

/** Parses a binding entry. */
export function parseBinding(entry: string): { routingKey: string; queue: string } {
  const [routingKey = '', , queue = ''] = entry.split(SEP);
  return { routingKey, queue };
}

/** The pub/sub channel of a fanout exchange (kombu with fanout_prefix and fanout_patterns). */
export function fanoutChannel(db: number, exchange: string, routingKey: string): string {
  return routingKey ? `/${db}.${exchange}/${routingKey}` : `/${db}.${exchange}`;
}

/** A message as kombu's envelope, ready to LPUSH. */
export function toEnvelope(message: TransportMessage, exchange: string, routingKey: string, deliveryTag: string): Envelope {
  return {
    body: message.body.toString('base64'),
    'content-encoding': message.contentEncoding,
    'content-type': message.contentType,
    headers: message.headers,
    properties: {
      ...message.properties,
      delivery_info: { exchange, routing_key: routingKey },
      priority: typeof message.properties.priority === 'number' ? message.properties.priority : 0,
      body_encoding: 'base64',
      delivery_tag: deliveryTag,
    },
  };
}

/** What a consumer gets from an envelope. */
export interface Unpacked {
  message: TransportMessage;
  deliveryTag: string;
  exchange: string;
  routingKey: string;
  redelivered: boolean;
}

/** Reads an envelope (as Python or celeriac wrote it). */
export function fromEnvelope(raw: string): { envelope: Envelope; unpacked: Unpacked } {
  let envelope: Envelope;
  try {
    envelope = JSON.parse(raw) as Envelope;
  } catch (err) {
    throw new DecodeError(`redis message is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!envelope || typeof envelope !== 'object' || typeof envelope.body !== 'string' || typeof envelope.properties !== 'object') {
    throw new DecodeError('redis message is not a kombu envelope (body, properties)');
  }
  const props = envelope.properties;
  const info = props.delivery_info ?? { exchange: '', routing_key: '' };
  const body = props.body_encoding === 'base64' ? Buffer.from(envelope.body, 'base64') : Buffer.from(envelope.body, 'utf8');
  const { delivery_info: _info, delivery_tag: _tag, body_encoding: _enc, ...properties } = props;
  const headers = envelope.headers ?? {};
  return {
    envelope,
    unpacked: {
      message: {
        body,
        contentType: envelope['content-type'] ?? 'application/json',
        contentEncoding: envelope['content-encoding'] ?? 'utf-8',
        headers,
        properties,
      },
      deliveryTag: String(props.delivery_tag ?? ''),
      exchange: info.exchange ?? '',
      routingKey: info.routing_key ?? '',
      redelivered: headers['redelivered'] === true || info.redelivered === true,
    },
  };
}
