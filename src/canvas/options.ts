/**
 * Options of a call (`applyAsync`, `Signature.set`), in the TypeScript API's camelCase and in
 * the snake_case names Celery puts in a signature's `options` dict on the wire.
 */
import type { SignatureDict } from '../protocol/message.js';

/** Something that can stand for a signature: an object with `toJSON()`, or the dict itself. */
export interface SignatureLike {
  toJSON(): SignatureDict;
}

/** Options of one call of a task. Times are in seconds, as Celery's. */
export interface ApplyOptions {
  /** Use this id instead of a new UUID. */
  taskId?: string;
  /** Run no earlier than this many seconds from now. */
  countdown?: number;
  /** Run no earlier than this time. */
  eta?: Date | string;
  /** Seconds from now, or a time, after which the task is revoked instead of run. */
  expires?: number | Date | string;
  /** Retry count to start from (used by `retry()`). */
  retries?: number;
  /** Queue to send to (default from the route or `task_default_queue`). */
  queue?: string;
  exchange?: string;
  routingKey?: string;
  /** Message priority (0-255 on AMQP and memory; see the broker's docs). */
  priority?: number;
  /** Serializer name. @defaultValue the task's, else `task_serializer` */
  serializer?: string;
  /** Compression (`zlib`, `gzip`, `brotli`). */
  compression?: string;
  /** Hard time limit in seconds for this call. */
  timeLimit?: number;
  /** Soft time limit in seconds for this call. */
  softTimeLimit?: number;
  /** Tasks to apply with the result when this one succeeds. */
  link?: SignatureLike | SignatureDict | ReadonlyArray<SignatureLike | SignatureDict>;
  /** Tasks to apply with the task id when this one fails. */
  linkError?: SignatureLike | SignatureDict | ReadonlyArray<SignatureLike | SignatureDict>;
  ignoreResult?: boolean;
  /** Extra message headers. */
  headers?: Record<string, unknown>;
  /** Name shown in logs and monitors instead of the task's. */
  shadow?: string;
  /** Replaces the repr of the positional arguments in logs and monitors (e.g. to hide secrets). */
  argsrepr?: string;
  /** Replaces the repr of the keyword arguments in logs and monitors. */
  kwargsrepr?: string;
  parentId?: string;
  rootId?: string;
  groupId?: string;
  groupIndex?: number;
  /** Remaining chain steps, last first (set by chains). */
  chain?: SignatureDict[];
  chord?: SignatureDict;
  replyTo?: string;
  /** Record this call in the calling task's children. @defaultValue true */
  addToParent?: boolean;
}

const CAMEL_TO_WIRE: Record<keyof ApplyOptions, string> = {
  taskId: 'task_id',
  countdown: 'countdown',
  eta: 'eta',
  expires: 'expires',
  retries: 'retries',
  queue: 'queue',
  exchange: 'exchange',
  routingKey: 'routing_key',
  priority: 'priority',
  serializer: 'serializer',
  compression: 'compression',
  timeLimit: 'time_limit',
  softTimeLimit: 'soft_time_limit',
  link: 'link',
  linkError: 'link_error',
  ignoreResult: 'ignore_result',
  headers: 'headers',
  shadow: 'shadow',
  argsrepr: 'argsrepr',
  kwargsrepr: 'kwargsrepr',
  parentId: 'parent_id',
  rootId: 'root_id',
  groupId: 'group_id',
  groupIndex: 'group_index',
  chain: 'chain',
  chord: 'chord',
  replyTo: 'reply_to',
  addToParent: 'add_to_parent',
};

const WIRE_TO_CAMEL = new Map(Object.entries(CAMEL_TO_WIRE).map(([k, v]) => [v, k as keyof ApplyOptions]));

/** A signature (object or dict) as its dict. */
export function toSignatureDict(s: SignatureLike | SignatureDict): SignatureDict {
  return typeof (s as SignatureLike).toJSON === 'function' ? (s as SignatureLike).toJSON() : (s as SignatureDict);
}

/** A `link`/`linkError` value as a list of dicts. */
export function signatureList(v: ApplyOptions['link']): SignatureDict[] {
  if (v === undefined) return [];
  const list = Array.isArray(v) ? (v as ReadonlyArray<SignatureLike | SignatureDict>) : [v as SignatureLike | SignatureDict];
  return list.map(toSignatureDict);
}

/** Call options as a signature's wire `options` dict. */
export function toWireOptions(options: ApplyOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options) as [keyof ApplyOptions, unknown][]) {
    if (value === undefined) continue;
    const wire = CAMEL_TO_WIRE[key] ?? key;
    if (key === 'link' || key === 'linkError') out[wire] = signatureList(value as ApplyOptions['link']);
    else if (value instanceof Date) out[wire] = value.toISOString();
    else out[wire] = value;
  }
  return out;
}

/** A signature's wire `options` dict as call options (unknown keys are dropped). */
export function fromWireOptions(options: Readonly<Record<string, unknown>>): ApplyOptions {
  const out: Record<string, unknown> = {};
  for (const [wire, value] of Object.entries(options)) {
    if (value === undefined || value === null) continue;
    const key = WIRE_TO_CAMEL.get(wire);
    if (key) out[key] = value;
  }
  return out as ApplyOptions;
}
