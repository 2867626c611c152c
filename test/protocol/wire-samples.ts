/**
 * Messages as Python Celery 5.2.6 / kombu 5.2.4 put them on the wire
 * (shared/reference/celery-wire.md, sections 1 and 4), and helpers to turn them into the
 * {@link TransportMessage} the broker port hands to the protocol layer.
 */
import { CompressionRegistry } from '../../src/protocol/compression.js';
import type { Codecs, TransportMessage } from '../../src/protocol/message.js';
import { SerializerRegistry } from '../../src/protocol/serializers.js';

/** A kombu Redis envelope (the JSON LPUSHed onto the queue's list). */
export interface RedisEnvelope {
  body: string;
  'content-encoding': string;
  'content-type': string;
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
}

export const TASK_ID = 'ce45dd33-f920-49bc-8182-c159ac78d4fe';
export const REPLY_TO = 'ad1dfb99-4633-33ed-a20d-f312f07b5e4d';
export const CHAIN_STEP_ID = '559b4eee-84cf-40a6-aeda-60e215cebbf3';

/** Headers of section 1, in the order Python wrote them. */
const SAMPLE_HEADERS_JSON =
  '{"lang": "py", "task": "tasks.add", "id": "ce45dd33-f920-49bc-8182-c159ac78d4fe", "shadow": null, "eta": null, ' +
  '"expires": null, "group": null, "group_index": null, "retries": 0, "timelimit": [null, null], ' +
  '"root_id": "ce45dd33-f920-49bc-8182-c159ac78d4fe", "parent_id": null, "argsrepr": "(1, 2)", "kwargsrepr": "{}", ' +
  '"origin": "gen6994@vm", "ignore_result": false}';

const SAMPLE_PROPERTIES_JSON =
  '{"correlation_id": "ce45dd33-f920-49bc-8182-c159ac78d4fe", "reply_to": "ad1dfb99-4633-33ed-a20d-f312f07b5e4d", ' +
  '"delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "celery"}, "priority": 0, ' +
  '"body_encoding": "base64", "delivery_tag": "6f148b39-dafd-483a-a38e-9eeed5dfb01a"}';

/** The body of `add.apply_async((1, 2))`, byte for byte as Python's json wrote it (base64). */
export const PLAIN_BODY_BASE64 =
  'W1sxLCAyXSwge30sIHsiY2FsbGJhY2tzIjogbnVsbCwgImVycmJhY2tzIjogbnVsbCwgImNoYWluIjogbnVsbCwgImNob3JkIjogbnVsbH1d';

/** The body of `chain(add.s(1, 2), add.s(10))` as Python's json writes it. */
export const CHAIN_BODY_TEXT =
  '[[1, 2], {}, {"callbacks": null, "errbacks": null, "chain": [{"task": "tasks.add", "args": [10], "kwargs": {}, ' +
  '"options": {"task_id": "559b4eee-84cf-40a6-aeda-60e215cebbf3", "reply_to": "ad1dfb99-4633-33ed-a20d-f312f07b5e4d"}, ' +
  '"subtask_type": null, "immutable": false}], "chord": null}]';

function envelopeText(bodyBase64: string): string {
  return (
    `{"body": "${bodyBase64}", "content-encoding": "utf-8", "content-type": "application/json", ` +
    `"headers": ${SAMPLE_HEADERS_JSON}, "properties": ${SAMPLE_PROPERTIES_JSON}}`
  );
}

/** Section 1's envelope for `tasks.add(1, 2)` (no embed). */
export function plainEnvelope(): RedisEnvelope {
  return JSON.parse(envelopeText(PLAIN_BODY_BASE64)) as RedisEnvelope;
}

/** Section 1's envelope with the chain body. */
export function chainEnvelope(): RedisEnvelope {
  return JSON.parse(envelopeText(Buffer.from(CHAIN_BODY_TEXT, 'utf8').toString('base64'))) as RedisEnvelope;
}

/** The broker port's view of a Redis envelope: body bytes (base64-decoded), headers, properties. */
export function fromEnvelope(env: RedisEnvelope): TransportMessage {
  return {
    body: Buffer.from(env.body, 'base64'),
    contentType: env['content-type'],
    contentEncoding: env['content-encoding'],
    headers: env.headers,
    properties: env.properties,
  };
}

/** Section 4: `add.apply_async((2, 3), priority=5, countdown=60)` on RabbitMQ (raw JSON body). */
export function amqpSample(): TransportMessage {
  return {
    body: Buffer.from('[[2, 3], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]', 'utf8'),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    headers: {
      lang: 'py', task: 'tasks.add', id: TASK_ID, shadow: null, eta: '2026-11-24T01:47:28.094370+00:00', expires: null,
      group: null, group_index: null, retries: 0, timelimit: [null, null], root_id: TASK_ID, parent_id: null,
      argsrepr: '(2, 3)', kwargsrepr: '{}', origin: 'gen8554@vm', ignore_result: false,
    },
    properties: { correlation_id: TASK_ID, reply_to: REPLY_TO, delivery_mode: 2, priority: 5 },
  };
}

/** JSON codecs accepting `json` only, as Celery's default `accept_content`. */
export function jsonCodecs(accept: readonly string[] = ['json']): Codecs {
  return { serializers: new SerializerRegistry(), compression: new CompressionRegistry(), accept };
}

/** The headers Python Celery 5.2 writes, in its order. */
export const PYTHON_HEADER_KEYS = [
  'lang', 'task', 'id', 'shadow', 'eta', 'expires', 'group', 'group_index', 'retries', 'timelimit', 'root_id',
  'parent_id', 'argsrepr', 'kwargsrepr', 'origin', 'ignore_result',
] as const;
