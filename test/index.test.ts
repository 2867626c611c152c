import assert from 'node:assert/strict';
import { it } from 'node:test';
import * as celeriac from '../src/index.js';

it('exports exactly the curated public API', () => {
  assert.deepEqual(Object.keys(celeriac).sort(), [
    'AlreadyRegistered', 'AsyncResult', 'Beat', 'Celeriac', 'CeleriacError', 'Chain', 'Chord', 'ChordError', 'Chunks', 'ClusterState', 'CompressionRegistry',
    'ContentDisallowed', 'Control', 'Crontab', 'DecodeError', 'EXCEPTION_STATES', 'EagerResult', 'EncodeError', 'ErrorClassRegistry', 'EventDispatcher', 'EventReceiver', 'Group', 'GroupResult', 'Ignore', 'ImproperlyConfigured', 'Inspect', 'IntervalSchedule',
    'KeyValueBackend', 'MaxRetriesExceededError', 'MemoryBackend', 'MemoryTransport', 'MessageTooLarge', 'NotRegistered', 'OperationalError',
    'PROPAGATE_STATES', 'READY_STATES', 'Reject', 'RemoteTaskError', 'Request', 'Retry', 'RuntimeTaskError', 'SecurityError',
    'SerializerRegistry', 'Signature', 'SoftTimeLimitExceeded', 'States', 'Task', 'TaskError', 'TaskRegistry',
    'TaskRevokedError', 'TimeLimitExceeded', 'TimeoutError', 'TokenBucket', 'UNREADY_STATES', 'Worker', 'WorkerLostError',
    'argsRepr', 'backoffCountdown', 'chain', 'chord', 'createLogger', 'crontab', 'currentRequest', 'decodeTaskMessage', 'deserializeError',
    'encodeTaskMessage', 'fromJson', 'getTaskLogger', 'group', 'jsonSerializer', 'kwargsRepr', 'parseCronField', 'parseLogLevel', 'parseRate', 'precedence',
    'pyRepr', 'resultFromTuple', 'serializeError', 'silentLogger', 'sleep', 'toJson', 'xmap', 'xstarmap',
  ]);
});

it('roots every error class at CeleriacError', () => {
  for (const [name, value] of Object.entries(celeriac)) {
    if (typeof value === 'function' && value.prototype instanceof Error) {
      assert.ok(value === celeriac.CeleriacError || value.prototype instanceof celeriac.CeleriacError, `${name} extends CeleriacError`);
    }
  }
});
