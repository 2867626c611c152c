/**
 * Celery message protocol v2 (encode and decode) and protocol v1 (decode), field for field as
 * Python Celery 5 produces them: see `shared/reference/celery-wire.md`, sections 1 and 4.
 *
 * A v2 message is headers (task name, id, eta, retries, ...), properties (correlation_id,
 * reply_to, delivery_mode, priority) and a body `[args, kwargs, embed]` where embed carries
 * `callbacks`, `errbacks`, `chain` and `chord` as signature dicts.
 */
import { DecodeError, EncodeError, MessageTooLarge } from '../errors/index.js';
import { parseIso, toPythonIso } from '../utils/time.js';
import type { CompressionRegistry } from './compression.js';
import { formatPath } from './json.js';
import { argsRepr, kwargsRepr } from './repr.js';
import type { SerializerRegistry } from './serializers.js';

/** A signature in Celery's JSON dict form. */
export interface SignatureDict {
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  options: Record<string, unknown>;
  subtask_type: string | null;
  immutable: boolean;
  chord_size?: number | null;
}

/** The third element of a v2 body. */
export interface Embed {
  callbacks: SignatureDict[] | null;
  errbacks: SignatureDict[] | null;
  /** Remaining chain steps, last step first. */
  chain: SignatureDict[] | null;
  chord: SignatureDict | null;
}

/** AMQP-style message properties, under their wire names. */
export interface MessageProperties {
  correlation_id?: string;
  reply_to?: string;
  delivery_mode?: number;
  priority?: number;
  [key: string]: unknown;
}

/** A message as the broker port moves it: opaque body bytes plus headers and properties. */
export interface TransportMessage {
  body: Buffer;
  contentType: string;
  contentEncoding: string;
  headers: Record<string, unknown>;
  properties: MessageProperties;
}

/** Everything needed to build one task message. */
export interface TaskMessageFields {
  task: string;
  id: string;
  args: readonly unknown[];
  kwargs: Readonly<Record<string, unknown>>;
  eta?: Date | null;
  expires?: Date | null;
  retries?: number;
  timelimit?: [number | null, number | null];
  rootId?: string | null;
  parentId?: string | null;
  group?: string | null;
  groupIndex?: number | null;
  shadow?: string | null;
  argsrepr?: string | null;
  kwargsrepr?: string | null;
  origin: string;
  ignoreResult?: boolean;
  lang?: string;
  callbacks?: SignatureDict[] | null;
  errbacks?: SignatureDict[] | null;
  chain?: SignatureDict[] | null;
  chord?: SignatureDict | null;
  replyTo?: string | null;
  priority?: number | null;
  deliveryMode?: 1 | 2;
  /** Extra headers (custom `headers` option), added after Celery's own. */
  extraHeaders?: Readonly<Record<string, unknown>>;
  serializer: string;
  compression?: string | null;
}

/**
 * Largest message body taken, as received and once decompressed (16 MiB). A JSON body takes several
 * times its size once parsed, and a worker decodes up to its prefetch window at once: 16 MiB keeps a
 * worker fed only oversized messages within a few hundred MB, while far above any sane task message
 * (Celery's docs advise passing references, not data).
 */
export const DEFAULT_MESSAGE_MAX_BYTES = 16 * 1024 * 1024;

/** Codecs an encode/decode needs: the app's registries and `accept_content`. */
export interface Codecs {
  serializers: SerializerRegistry;
  compression: CompressionRegistry;
  accept: readonly string[];
  /** Largest body, raw and decompressed (`messageMaxBytes`). @defaultValue {@link DEFAULT_MESSAGE_MAX_BYTES} */
  messageMaxBytes?: number;
}

const BODY_PARTS = ['args', 'kwargs', 'options'] as const;

/**
 * Serializes a v2 body; a part that cannot be encoded is named as the caller wrote it
 * (`args[1].when`, `kwargs.tags`), as kombu names the value it cannot encode.
 */
function encodeBody(body: [readonly unknown[], Readonly<Record<string, unknown>>, Embed], task: string, serializer: string, codecs: Codecs) {
  try {
    return codecs.serializers.encode(body, serializer);
  } catch (err) {
    if (!(err instanceof EncodeError) || err.path === undefined || err.reason === undefined) throw err;
    const [part, ...rest] = err.path;
    const root = typeof part === 'number' ? BODY_PARTS[part] : undefined;
    if (root === undefined) throw err;
    const where = formatPath(root, rest);
    throw new EncodeError(`cannot send task '${task}': ${where} cannot be encoded as ${serializer}: ${err.reason}`, {
      path: err.path,
      reason: err.reason,
      cause: err,
    });
  }
}

/** Builds a protocol v2 task message exactly as Python Celery's `as_task_v2` lays it out. */
export function encodeTaskMessage(f: TaskMessageFields, codecs: Codecs): TransportMessage {
  const headers: Record<string, unknown> = {
    lang: f.lang ?? 'js',
    task: f.task,
    id: f.id,
    shadow: f.shadow ?? null,
    eta: f.eta ? toPythonIso(f.eta, true) : null,
    expires: f.expires ? toPythonIso(f.expires, true) : null,
    group: f.group ?? null,
    group_index: f.groupIndex ?? null,
    retries: f.retries ?? 0,
    timelimit: f.timelimit ?? [null, null],
    root_id: f.rootId ?? f.id,
    parent_id: f.parentId ?? null,
    argsrepr: f.argsrepr ?? argsRepr(f.args),
    kwargsrepr: f.kwargsrepr ?? kwargsRepr(f.kwargs),
    origin: f.origin,
    ignore_result: f.ignoreResult ?? false,
  };
  if (f.extraHeaders) {
    for (const [k, v] of Object.entries(f.extraHeaders)) if (!(k in headers)) headers[k] = v;
  }
  const embed: Embed = {
    callbacks: f.callbacks ?? null,
    errbacks: f.errbacks ?? null,
    chain: f.chain ?? null,
    chord: f.chord ?? null,
  };
  const encoded = encodeBody([f.args, f.kwargs, embed], f.task, f.serializer, codecs);
  let body = encoded.body;
  if (f.compression) {
    const c = codecs.compression.compress(body, f.compression);
    body = c.body;
    headers['compression'] = c.header;
  }
  const properties: MessageProperties = { correlation_id: f.id };
  if (f.replyTo) properties.reply_to = f.replyTo;
  properties.delivery_mode = f.deliveryMode ?? 2;
  properties.priority = f.priority ?? 0;
  return { body, contentType: encoded.contentType, contentEncoding: encoded.contentEncoding, headers, properties };
}

/** A task message after decoding, in protocol v2 shape whatever version it came in. */
export interface DecodedTask {
  protocol: 1 | 2;
  /** Headers with v2 names (`task`, `id`, `eta`, `retries`, `root_id`, ...). */
  headers: Record<string, unknown>;
  task: string;
  id: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  embed: Embed;
  eta: Date | null;
  expires: Date | null;
  retries: number;
  timelimit: [number | null, number | null];
  properties: MessageProperties;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function optString(v: unknown, field: string): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new DecodeError(`task message field '${field}' must be a string, got ${typeof v}`);
  return v;
}

function optTime(v: unknown, field: string, naiveIsLocal = false): Date | null {
  const s = optString(v, field);
  if (s === null) return null;
  try {
    return parseIso(s, naiveIsLocal);
  } catch (err) {
    throw new DecodeError(`task message field '${field}': ${(err as Error).message}`, { cause: err });
  }
}

function sigList(v: unknown, field: string): SignatureDict[] | null {
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v)) throw new DecodeError(`embed '${field}' must be a list of signatures`);
  for (const s of v) {
    if (!isRecord(s) || typeof s['task'] !== 'string') {
      throw new DecodeError(`embed '${field}' holds something that is not a signature`);
    }
  }
  return v as SignatureDict[];
}

/**
 * `timelimit` as the wire has it: absent/null, or `[hard, soft]` where each is null or a
 * non-negative finite number of seconds. Anything else is refused, not read as "no limit".
 */
function toTimelimit(v: unknown): [number | null, number | null] {
  if (v === null || v === undefined) return [null, null];
  const limit = (x: unknown): x is number | null | undefined =>
    x === null || x === undefined || (typeof x === 'number' && Number.isFinite(x) && x >= 0);
  if (!Array.isArray(v) || v.length > 2 || !limit(v[0]) || !limit(v[1])) {
    throw new DecodeError(`task message field 'timelimit' must be [hard, soft] with each null or seconds >= 0, got ${shortRepr(v)}`);
  }
  return [v[0] ?? null, v[1] ?? null];
}

function toRetries(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new DecodeError(`task message field 'retries' must be an integer >= 0, got ${shortRepr(v)}`);
  }
  return v;
}

/** A value for an error line: JSON cut to 60 characters. */
function shortRepr(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = typeof v;
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function maxBytes(codecs: Codecs): number {
  return codecs.messageMaxBytes ?? DEFAULT_MESSAGE_MAX_BYTES;
}

function checkSize(message: TransportMessage, max: number): void {
  if (message.body.length > max) {
    throw new MessageTooLarge(`message body of ${message.body.length} bytes is larger than ${max} (messageMaxBytes)`);
  }
}

function compressionOf(message: TransportMessage): string | null {
  const c = message.headers['compression'];
  if (c === null || c === undefined || c === '') return null;
  if (typeof c !== 'string') throw new DecodeError(`message header 'compression' must be a string, got ${shortRepr(c)}`);
  return c;
}

function decodeBody(message: TransportMessage, codecs: Codecs, plain?: Buffer): unknown {
  let body = plain;
  if (body === undefined) {
    const max = maxBytes(codecs);
    checkSize(message, max);
    const compression = compressionOf(message);
    body = compression ? codecs.compression.decompress(message.body, compression, max) : message.body;
  }
  return codecs.serializers.decode(body, message.contentType, codecs.accept);
}

/**
 * The body of a compressed message, decompressed off the event loop and no larger than
 * `messageMaxBytes` ({@link MessageTooLarge} otherwise); undefined for an uncompressed one, which
 * {@link decodeTaskMessage} reads as it is. The worker calls this before decoding.
 */
export async function inflateBody(message: TransportMessage, codecs: Codecs): Promise<Buffer | undefined> {
  const max = maxBytes(codecs);
  checkSize(message, max);
  const compression = compressionOf(message);
  if (!compression) return undefined;
  return codecs.compression.decompressAsync(message.body, compression, max);
}

/**
 * Decodes a task message of protocol v2 (headers carry `task`) or v1 (the body is a dict with
 * `task`, `id`, `args`, ...). Throws {@link DecodeError} naming what is wrong ({@link MessageTooLarge}
 * past `messageMaxBytes`), or `ContentDisallowed` for a content type outside `accept_content`.
 * `plainBody` is the body already decompressed by {@link inflateBody}, if it was.
 */
export function decodeTaskMessage(message: TransportMessage, codecs: Codecs, plainBody?: Buffer): DecodedTask {
  const body = decodeBody(message, codecs, plainBody);
  const h = message.headers;
  if (typeof h['task'] === 'string') {
    if (!Array.isArray(body) || body.length < 2) {
      throw new DecodeError('protocol v2 body must be a list [args, kwargs, embed]');
    }
    const [args, kwargs, rawEmbed] = body as [unknown, unknown, unknown];
    if (!Array.isArray(args)) throw new DecodeError('protocol v2 body: args must be a list');
    if (!isRecord(kwargs)) throw new DecodeError('protocol v2 body: kwargs must be a dict');
    const embed = isRecord(rawEmbed) ? rawEmbed : {};
    const id = optString(h['id'], 'id');
    if (!id) throw new DecodeError('task message has no id header');
    const chord = embed['chord'];
    return {
      protocol: 2,
      headers: h,
      task: h['task'],
      id,
      args,
      kwargs,
      embed: {
        callbacks: sigList(embed['callbacks'], 'callbacks'),
        errbacks: sigList(embed['errbacks'], 'errbacks'),
        chain: sigList(embed['chain'], 'chain'),
        chord: isRecord(chord) && typeof chord['task'] === 'string' ? (chord as unknown as SignatureDict) : null,
      },
      eta: optTime(h['eta'], 'eta'),
      expires: optTime(h['expires'], 'expires'),
      retries: toRetries(h['retries']),
      timelimit: toTimelimit(h['timelimit']),
      properties: message.properties,
    };
  }
  return decodeV1(body, message);
}

function decodeV1(body: unknown, message: TransportMessage): DecodedTask {
  if (!isRecord(body) || typeof body['task'] !== 'string') {
    throw new DecodeError("not a task message: no 'task' header (protocol 2) nor body field (protocol 1)");
  }
  const id = optString(body['id'], 'id');
  if (!id) throw new DecodeError('protocol v1 task message has no id');
  const args = body['args'] ?? [];
  const kwargs = body['kwargs'] ?? {};
  if (!Array.isArray(args)) throw new DecodeError('protocol v1 body: args must be a list');
  if (!isRecord(kwargs)) throw new DecodeError('protocol v1 body: kwargs must be a dict');
  const headers: Record<string, unknown> = {
    ...message.headers,
    lang: 'py',
    task: body['task'],
    id,
    eta: body['eta'] ?? null,
    expires: body['expires'] ?? null,
    group: body['taskset'] ?? null,
    retries: body['retries'] ?? 0,
    timelimit: body['timelimit'] ?? [null, null],
    root_id: id,
    parent_id: null,
    utc: body['utc'] ?? true,
  };
  const chord = body['chord'];
  return {
    protocol: 1,
    headers,
    task: body['task'],
    id,
    args,
    kwargs,
    embed: {
      callbacks: sigList(body['callbacks'], 'callbacks'),
      errbacks: sigList(body['errbacks'], 'errbacks'),
      chain: null,
      chord: isRecord(chord) && typeof chord['task'] === 'string' ? (chord as unknown as SignatureDict) : null,
    },
    // Protocol 1 senders with utc=False wrote naive local times.
    eta: optTime(body['eta'], 'eta', body['utc'] === false),
    expires: optTime(body['expires'], 'expires', body['utc'] === false),
    retries: toRetries(body['retries']),
    timelimit: toTimelimit(body['timelimit']),
    properties: message.properties,
  };
}

/** Encodes any value as a plain message (results over rpc://, control replies, events). */
export function encodePayload(
  value: unknown,
  codecs: Codecs,
  serializer = 'json',
  headers: Record<string, unknown> = {},
  properties: MessageProperties = {},
): TransportMessage {
  const e = codecs.serializers.encode(value, serializer);
  return { body: e.body, contentType: e.contentType, contentEncoding: e.contentEncoding, headers, properties };
}

/** Decodes a plain (non-task) message's body. */
export function decodePayload(message: TransportMessage, codecs: Codecs): unknown {
  return decodeBody(message, codecs);
}
