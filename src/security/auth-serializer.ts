/**
 * The `auth` serializer: Celery's message signing, byte for byte as Celery 5.2 lays it out, so
 * Python Celery workers and clients configured with `app.setup_security()` verify what celeriac
 * signs and the other way round.
 *
 * Wire format (content type `application/data`, encoding `utf-8`): the base64 text of
 *   signer id  \x00\x01  signature  \x00\x01  inner content type  \x00\x01  inner encoding  \x00\x01  inner body
 * where the inner body is the message serialized by the inner serializer (JSON), the signature is
 * RSA-PSS over exactly those inner bytes (MGF1 with the same digest, the longest salt the key
 * allows), and the signer id names the certificate to verify with (see certificate.ts). The
 * signature has a fixed length (the key's size in bytes), so it may contain the separator.
 *
 * The receiver checks the signature over the serialized bytes before parsing anything.
 */
import { constants, createHash, getHashes, sign, verify, type KeyObject } from 'node:crypto';
import { ImproperlyConfigured, SecurityError } from '../errors/index.js';
import type { Serializer } from '../protocol/serializers.js';
import type { Certificate, CertStore } from './certificate.js';

/** Content type of signed messages (Celery registers `auth` under it). */
export const AUTH_CONTENT_TYPE = 'application/data';

const SEP = Buffer.from([0x00, 0x01]);

/**
 * The Node digest name of a Celery `security_digest` (`sha256`, `sha512`, `sha3_256`, ...).
 * @throws ImproperlyConfigured for a digest Node does not know.
 */
export function digestName(digest: string): string {
  const name = digest.toLowerCase().replace(/_/g, '-');
  if (!getHashes().includes(name)) {
    throw new ImproperlyConfigured(`unknown security_digest '${digest}' (try sha256, sha384, sha512)`);
  }
  return name;
}

/** PSS options as Celery (python `cryptography`, `PSS.MAX_LENGTH`) uses them for a key size. */
function pss(digest: string, keyBits: number): { padding: number; saltLength: number } {
  const hashBytes = createHash(digest).digest().length;
  return { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Math.ceil((keyBits - 1) / 8) - hashBytes - 2 };
}

/** What the `auth` serializer signs with and verifies against. */
export interface AuthSerializerOptions {
  /** The private key that signs outgoing messages (RSA). */
  key: KeyObject;
  /** The certificate of that key: its id travels as the signer. */
  certificate: Certificate;
  /** Certificates whose signatures are accepted. */
  store: CertStore;
  /** Node digest name (see {@link digestName}). @defaultValue `'sha256'` */
  digest?: string;
  /** Serializes the message before signing (Celery's `serializer` argument). */
  inner: Serializer;
  /** Finds the serializer of a signed body's inner content type (never `auth` itself). */
  lookup: (contentType: string) => Serializer;
}

function indexOrThrow(buf: Buffer, from: number, what: string): number {
  const at = buf.indexOf(SEP, from);
  if (at < 0) throw new SecurityError(`signed message is malformed: no ${what}`);
  return at;
}

/** Builds the `auth` serializer (name `auth`, content type `application/data`). */
export function createAuthSerializer(options: AuthSerializerOptions): Serializer {
  const digest = options.digest ?? 'sha256';
  const keyBits = options.key.asymmetricKeyDetails?.modulusLength;
  if (options.key.asymmetricKeyType !== 'rsa' || keyBits === undefined) {
    throw new ImproperlyConfigured('security_key must be an RSA private key');
  }
  const signOptions = { key: options.key, ...pss(digest, keyBits) };
  const signer = Buffer.from(options.certificate.id, 'utf8');
  const innerType = Buffer.from(options.inner.contentType, 'utf8');
  const innerEncoding = Buffer.from(options.inner.contentEncoding, 'utf8');
  const verifyOptions = new Map<Certificate, { key: KeyObject; padding: number; saltLength: number }>();

  return {
    name: 'auth',
    contentType: AUTH_CONTENT_TYPE,
    contentEncoding: 'utf-8',
    encode(value: unknown): Buffer {
      const body = options.inner.encode(value);
      const signature = sign(digest, body, signOptions);
      const packed = Buffer.concat([signer, SEP, signature, SEP, innerType, SEP, innerEncoding, SEP, body]);
      return Buffer.from(packed.toString('base64'), 'latin1');
    },
    decode(data: Buffer): unknown {
      const raw = Buffer.from(data.toString('latin1'), 'base64');
      const signerEnd = indexOrThrow(raw, 0, 'signer');
      const cert = options.store.get(raw.subarray(0, signerEnd).toString('utf8'));
      const sigStart = signerEnd + SEP.length;
      const sigEnd = sigStart + cert.signatureLength;
      if (raw.length < sigEnd + SEP.length || !raw.subarray(sigEnd, sigEnd + SEP.length).equals(SEP)) {
        throw new SecurityError(`signed message is malformed: signature is not ${cert.signatureLength} bytes`);
      }
      const typeStart = sigEnd + SEP.length;
      const typeEnd = indexOrThrow(raw, typeStart, 'content type');
      const encodingEnd = indexOrThrow(raw, typeEnd + SEP.length, 'content encoding');
      const body = raw.subarray(encodingEnd + SEP.length);
      let vo = verifyOptions.get(cert);
      if (!vo) {
        vo = { key: cert.publicKey, ...pss(digest, cert.keyBits) };
        verifyOptions.set(cert, vo);
      }
      let good: boolean;
      try {
        good = verify(digest, body, vo, raw.subarray(sigStart, sigEnd));
      } catch (err) {
        throw new SecurityError(`bad signature: ${(err as Error).message}`, { cause: err });
      }
      if (!good) {
        throw new SecurityError(`bad signature: message claims signer '${cert.id}' but does not verify`);
      }
      return options.lookup(raw.subarray(typeStart, typeEnd).toString('utf8')).decode(body);
    },
  };
}
