/**
 * celeriac: Celery's task system for Node.js, speaking Celery's wire protocol.
 *
 * Curated public API; every export is named here (a test pins the list).
 */
export { Celeriac, type CeleriacOptions, type TaskClass, type TaskOf } from './app/celeriac.js';
export { TaskRegistry } from './app/registry.js';
export type { ResolvedRoute } from './app/router.js';
export { Task, type ExceptionInfo, type NoKwargs, type PartialArgs, type RetryOptions, type TrailingArgs, type UpdateStateOptions } from './task/task.js';
export type { TaskOptions, ErrorClass, RetryKwargs } from './task/options.js';
export { Request, currentRequest, type DeliveryInfo, type RequestFields } from './task/request.js';
export { getTaskLogger } from './task/logger.js';
export { backoffCountdown, type BackoffPolicy } from './task/retry-policy.js';
export { Signature } from './canvas/signature.js';
export { Beat, type BeatEntry, type BeatOptions } from './beat/beat.js';
export { Crontab, crontab, IntervalSchedule, parseCronField, type CrontabSpec, type DueState, type Schedule } from './beat/schedules.js';
export { Chain, chain } from './canvas/chain.js';
export { Control, Inspect, type BroadcastOptions, type Replies } from './control/client.js';
export { EventDispatcher, type CeleryEvent } from './events/dispatcher.js';
export { EventReceiver, type EventHandlers } from './events/receiver.js';
export { ClusterState, type TaskInfo, type WorkerInfo } from './events/state.js';
export { Chord, chord } from './canvas/chord.js';
export { Chunks, xmap, xstarmap } from './canvas/chunks.js';
export { Group, group } from './canvas/group.js';
export { GroupResult, resultFromTuple } from './result/group-result.js';
export type { ApplyOptions, SignatureLike } from './canvas/options.js';
export {
  AsyncResult,
  EagerResult,
  type GetOptions,
  type RevokeOptions,
  type ResultTuple,
} from './result/async-result.js';
export {
  States,
  READY_STATES,
  UNREADY_STATES,
  EXCEPTION_STATES,
  PROPAGATE_STATES,
  precedence,
  type TaskState,
  type BuiltinState,
} from './result/states.js';
export {
  CeleriacError,
  ImproperlyConfigured,
  NotRegistered,
  AlreadyRegistered,
  OperationalError,
  DecodeError,
  MessageTooLarge,
  EncodeError,
  ContentDisallowed,
  TimeoutError,
  TaskError,
  Retry,
  Ignore,
  Reject,
  MaxRetriesExceededError,
  SoftTimeLimitExceeded,
  TimeLimitExceeded,
  WorkerLostError,
  TaskRevokedError,
  ChordError,
  RemoteTaskError,
  RuntimeTaskError,
  SecurityError,
  type CeleriacErrorOptions,
  type RejectOptions,
} from './errors/index.js';
export { createLogger, silentLogger, parseLogLevel, type Logger, type LogLevel, type LogFields } from './logging/logger.js';
export type { Settings, SettingsInput, RouteTarget, TaskRoutes, QueueDefinition } from './config/settings.js';
export { Worker, type WorkerOptions, type WorkerEvents } from './worker/worker.js';
export type { Pool } from './pool/port.js';
export type {
  Transport,
  TransportFactory,
  TransportOptions,
  Consumer,
  Delivery,
  DeliveryHandler,
  QueueSpec,
  Route,
  ExchangeType,
} from './broker/port.js';
export type { ResultBackend, BackendFactory, BackendOptions, TaskMeta, GroupMeta, WaitOptions } from './backends/port.js';
export { KeyValueBackend, type KeyValueStore } from './backends/base.js';
export { MemoryTransport } from './broker/memory/transport.js';
export { MemoryBackend } from './backends/memory/backend.js';
export {
  encodeTaskMessage,
  decodeTaskMessage,
  type TransportMessage,
  type TaskMessageFields,
  type DecodedTask,
  type SignatureDict,
  type Embed,
  type MessageProperties,
} from './protocol/message.js';
export { jsonSerializer, SerializerRegistry, type Serializer } from './protocol/serializers.js';
export type { SecurityOptions } from './security/setup.js';
export { CompressionRegistry, type Compressor } from './protocol/compression.js';
export { toJson, fromJson } from './protocol/json.js';
export { serializeError, deserializeError, ErrorClassRegistry, type ErrorClassOptions, type SerializedError } from './protocol/exceptions.js';
export { pyRepr, argsRepr, kwargsRepr } from './protocol/repr.js';
export { sleep } from './utils/time.js';
export { parseRate, TokenBucket } from './worker/rate-limit.js';
