/**
 * `app.setupSecurity()`: checks the settings the way Celery's `setup_security()` does, loads the
 * key, certificate and store, and registers the `auth` serializer on the app.
 *
 * Why: anyone who can write to the broker can otherwise run any registered task with any
 * arguments. With signing on, a worker runs only messages signed by a key whose certificate is in
 * its store; unsigned (`application/json`) messages are refused by `accept_content = ['auth']`
 * before they are parsed, and signed ones are verified before they are parsed.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Settings } from '../config/settings.js';
import { DecodeError, ImproperlyConfigured, SecurityError } from '../errors/index.js';
import type { Serializer, SerializerRegistry } from '../protocol/serializers.js';
import { AUTH_CONTENT_TYPE, createAuthSerializer, digestName } from './auth-serializer.js';
import { Certificate, CertStore } from './certificate.js';

/** Overrides of the `security*` settings for one {@link setupSecurity} call (Celery's arguments). */
export interface SecurityOptions {
  /** Private key: a PEM file path or PEM text. @defaultValue `conf.securityKey` */
  key?: string;
  /** Passphrase of an encrypted private key. @defaultValue none */
  keyPassphrase?: string;
  /** Certificate of the key: a PEM file path or PEM text. @defaultValue `conf.securityCertificate` */
  cert?: string;
  /** Trusted certificates: file, directory or glob. @defaultValue `conf.securityCertStore` */
  store?: string;
  /** @defaultValue `conf.securityDigest` (`sha256`) */
  digest?: string;
  /** Serializer applied before signing. @defaultValue `'json'` */
  serializer?: string;
}

const SETTINGS_NEEDED =
  "message signing needs taskSerializer = 'auth' and acceptContent = ['auth'] " +
  '(there is no point in signing messages if they are not verified)';

/** PEM given inline, or read from the file it names. */
function pemOrFile(value: string, setting: string): string {
  if (value.includes('-----BEGIN ')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (err) {
    throw new ImproperlyConfigured(`cannot read ${setting} '${value}': ${(err as Error).message}`, { cause: err });
  }
}

function loadKey(pem: string, passphrase: string | undefined): KeyObject {
  try {
    return createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase });
  } catch (err) {
    throw new SecurityError(`invalid private key: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Registers the `auth` serializer on `serializers` from `conf` (and `options`).
 * @throws ImproperlyConfigured when `taskSerializer`/`acceptContent` are not `auth`, or a
 *   setting is missing; SecurityError when the key, certificate or store is unusable (expired,
 *   duplicate, not RSA, key and certificate not a pair).
 */
export function setupSecurity(conf: Settings, serializers: SerializerRegistry, options: SecurityOptions = {}): void {
  const accept = conf.acceptContent;
  const onlyAuth = accept.length === 1 && (accept[0] === 'auth' || accept[0] === AUTH_CONTENT_TYPE);
  if (conf.taskSerializer !== 'auth' || !onlyAuth) throw new ImproperlyConfigured(SETTINGS_NEEDED);
  const keyPath = options.key ?? conf.securityKey;
  const certPath = options.cert ?? conf.securityCertificate;
  const storePath = options.store ?? conf.securityCertStore;
  if (!keyPath || !certPath || !storePath) {
    throw new ImproperlyConfigured('message signing needs the securityKey, securityCertificate and securityCertStore settings');
  }
  const key = loadKey(pemOrFile(keyPath, 'securityKey'), options.keyPassphrase);
  const certificate = new Certificate(pemOrFile(certPath, 'securityCertificate'));
  if (!certificate.publicKey.equals(createPublicKey(key))) {
    throw new SecurityError(`securityKey does not match securityCertificate ('${certificate.id}')`);
  }
  const store = CertStore.fromPath(storePath);
  const inner = serializers.get(options.serializer ?? 'json');
  if (inner.name === 'auth') throw new ImproperlyConfigured('the serializer under auth cannot be auth');
  serializers.register(
    createAuthSerializer({
      key,
      certificate,
      store,
      digest: digestName(options.digest ?? conf.securityDigest),
      inner,
      lookup: innerLookup(serializers),
    }),
  );
}

/** The serializer of a signed body's inner content type: any registered one but `auth` itself. */
function innerLookup(serializers: SerializerRegistry): (contentType: string) => Serializer {
  return (contentType) => {
    let s: Serializer;
    try {
      s = serializers.get(contentType);
    } catch (err) {
      throw new DecodeError(`signed body of unknown content type '${contentType}'`, { cause: err });
    }
    if (s.name === 'auth') throw new SecurityError('signed message wraps another signed message');
    return s;
  };
}
