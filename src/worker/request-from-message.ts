/** Turns a decoded task message and its delivery into the task's {@link Request}. */
import type { Delivery } from '../broker/port.js';
import type { DecodedTask } from '../protocol/message.js';
import { Request } from '../task/request.js';

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** Builds the request a worker runs a task with. */
export function requestFromMessage(decoded: DecodedTask, delivery: Delivery, hostname: string, signal: AbortSignal): Request {
  const h = decoded.headers;
  const p = decoded.properties;
  // Assigned field by field: cheaper than a fields object that Object.assign copies (per task).
  const r = new Request();
  r.id = decoded.id;
  r.task = decoded.task;
  r.group = str(h['group']);
  r.groupIndex = typeof h['group_index'] === 'number' ? h['group_index'] : null;
  r.chord = decoded.embed.chord;
  r.correlationId = str(p.correlation_id) ?? decoded.id;
  r.args = decoded.args;
  r.kwargs = decoded.kwargs;
  r.origin = str(h['origin']);
  r.retries = decoded.retries;
  r.isEager = false;
  r.eta = decoded.eta;
  r.expires = decoded.expires;
  r.hostname = hostname;
  r.deliveryInfo = {
    exchange: delivery.exchange,
    routingKey: delivery.routingKey,
    priority: typeof p.priority === 'number' ? p.priority : null,
    redelivered: delivery.redelivered,
    queue: delivery.queue,
  };
  r.replyTo = str(p.reply_to);
  r.calledDirectly = false;
  r.timelimit = decoded.timelimit;
  r.callbacks = decoded.embed.callbacks;
  r.errbacks = decoded.embed.errbacks;
  r.utc = h['utc'] !== false;
  r.headers = h;
  r.properties = p;
  r.rootId = str(h['root_id']) ?? decoded.id;
  r.parentId = str(h['parent_id']);
  r.chain = decoded.embed.chain;
  r.ignoreResult = h['ignore_result'] === true;
  r.argsrepr = str(h['argsrepr']);
  r.kwargsrepr = str(h['kwargsrepr']);
  r.shadow = str(h['shadow']);
  r.signal = signal;
  return r;
}
