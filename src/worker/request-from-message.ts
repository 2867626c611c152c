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
  return new Request({
    id: decoded.id,
    task: decoded.task,
    group: str(h['group']),
    groupIndex: typeof h['group_index'] === 'number' ? h['group_index'] : null,
    chord: decoded.embed.chord,
    correlationId: str(p.correlation_id) ?? decoded.id,
    args: decoded.args,
    kwargs: decoded.kwargs,
    origin: str(h['origin']),
    retries: decoded.retries,
    isEager: false,
    eta: decoded.eta,
    expires: decoded.expires,
    hostname,
    deliveryInfo: {
      exchange: delivery.exchange,
      routingKey: delivery.routingKey,
      priority: typeof p.priority === 'number' ? p.priority : null,
      redelivered: delivery.redelivered,
      queue: delivery.queue,
    },
    replyTo: str(p.reply_to),
    calledDirectly: false,
    timelimit: decoded.timelimit,
    callbacks: decoded.embed.callbacks,
    errbacks: decoded.embed.errbacks,
    utc: h['utc'] === false ? false : true,
    headers: h,
    rootId: str(h['root_id']) ?? decoded.id,
    parentId: str(h['parent_id']),
    chain: decoded.embed.chain,
    ignoreResult: h['ignore_result'] === true,
    argsrepr: str(h['argsrepr']),
    kwargsrepr: str(h['kwargsrepr']),
    shadow: str(h['shadow']),
    signal,
  });
}
