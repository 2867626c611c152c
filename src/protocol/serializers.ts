/**
 * Serializer registry, by name (`json`) and by content type (`application/json`), as kombu has it.
 * JSON is the default and the one every Celery peer speaks; others can be registered by the app.
 */
import { isUtf8 } from 'node:buffer';
import { ContentDisallowed, DecodeError, EncodeError, SecurityError } from '../errors/index.js';
import { fromJson, toJson } from './json.js';

/** A serializer: turns values into bytes of one content type and back. */
export interface Serializer {
  /** Short name used in options and `accept_content` (`json`). */
  readonly name: string;
  /** MIME type on the wire (`application/json`). */
  readonly contentType: string;
  /** Character encoding on the wire (`utf-8`, or `binary`). */
  readonly contentEncoding: string;
  encode(value: unknown): Buffer;
  decode(body: Buffer): unknown;
}

/** The JSON serializer, with celeriac's documented mapping of JS-only values. */
export const jsonSerializer: Serializer = {
  name: 'json',
  contentType: 'application/json',
  contentEncoding: 'utf-8',
  encode: (value) => Buffer.from(toJson(value), 'utf8'),
  decode: (body) => {
    // Python's json refuses bytes that are not UTF-8; toString would turn them into U+FFFD.
    if (!isUtf8(body)) throw new DecodeError('body is not valid UTF-8');
    return fromJson(body.toString('utf8'));
  },
};

/** The `auth` serializer exists only once `app.setupSecurity()` has run: say so. */
function authHint(nameOrType: string): string {
  return nameOrType === 'auth' || nameOrType === 'application/data' ? ' (call app.setupSecurity() to register auth)' : '';
}

/** Registry of serializers; each app has its own. */
export class SerializerRegistry {
  private readonly byName = new Map<string, Serializer>();
  private readonly byType = new Map<string, Serializer>();

  constructor(serializers: readonly Serializer[] = [jsonSerializer]) {
    for (const s of serializers) this.register(s);
  }

  /** Adds (or replaces) a serializer. */
  register(serializer: Serializer): void {
    this.byName.set(serializer.name, serializer);
    this.byType.set(serializer.contentType, serializer);
  }

  /** The serializer of a name or content type; throws EncodeError naming what is known. */
  get(nameOrType: string): Serializer {
    const s = this.byName.get(nameOrType) ?? this.byType.get(nameOrType);
    if (!s) {
      throw new EncodeError(
        `unknown serializer '${nameOrType}' (registered: ${[...this.byName.keys()].join(', ')})${authHint(nameOrType)}`,
      );
    }
    return s;
  }

  /** Serializes with the named serializer. */
  encode(value: unknown, name: string): { body: Buffer; contentType: string; contentEncoding: string } {
    const s = this.get(name);
    try {
      return { body: s.encode(value), contentType: s.contentType, contentEncoding: s.contentEncoding };
    } catch (err) {
      // An EncodeError already says what and where (the JSON serializer names the value's path).
      if (err instanceof EncodeError) throw err;
      throw new EncodeError(`cannot serialize with '${name}': ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Deserializes a body, after checking its content type against the `accept` list (names or
   * content types). A type not accepted raises ContentDisallowed; the body is never parsed.
   */
  decode(body: Buffer, contentType: string, accept: readonly string[]): unknown {
    const s = this.byType.get(contentType) ?? this.byName.get(contentType);
    const allowed = accept.some((a) => a === contentType || (s !== undefined && a === s.name));
    if (!allowed) {
      throw new ContentDisallowed(
        `refusing to deserialize untrusted content of type '${contentType}' (accept_content: ${accept.join(', ')})`,
      );
    }
    if (!s) throw new DecodeError(`no serializer registered for content type '${contentType}'${authHint(contentType)}`);
    try {
      return s.decode(body);
    } catch (err) {
      // A refused signature is its own verdict, not a decoding accident: keep it as is.
      if (err instanceof SecurityError) throw err;
      throw new DecodeError(`cannot decode ${contentType} body: ${(err as Error).message}`, { cause: err });
    }
  }
}
