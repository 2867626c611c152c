import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError, SerializerRegistry } from '../../src/index.js';

describe('json serializer', () => {
  it('refuses a body that is not valid UTF-8 (as Python json does), instead of reading U+FFFD', () => {
    const body = Buffer.concat([Buffer.from('[["a'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"], {}, {}]')]);
    assert.throws(() => new SerializerRegistry().decode(body, 'application/json', ['json']), (e: Error) => e instanceof DecodeError && /not valid UTF-8/.test(e.message));
    assert.deepEqual(new SerializerRegistry().decode(Buffer.from('["tâche"]'), 'application/json', ['json']), ['tâche']);
  });
});
