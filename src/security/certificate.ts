/**
 * X.509 certificates and the certificate store of message signing, named the way Celery names
 * them so both sides find the same signer: a certificate's id is its issuer's attribute values
 * joined by spaces, a space, and its serial number in decimal (`"US Acme worker 1234..."`).
 *
 * Glossary
 * - signer id: that string; it travels in front of every signed body and picks the certificate
 *   the receiver verifies with.
 * - store: the certificates a receiver trusts (`security_cert_store`: a file, a directory or a
 *   glob such as `/etc/ssl/certs/*.pem`). A message whose signer is not in it is refused.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { SecurityError } from '../errors/index.js';
import { globToRegExp } from '../utils/glob.js';

/** One DER element: its tag, and where its contents start and end in the buffer. */
interface Der {
  tag: number;
  start: number;
  end: number;
}

function readDer(buf: Buffer, at: number): Der {
  const tag = buf[at];
  let len = buf[at + 1];
  if (tag === undefined || len === undefined) throw new SecurityError('truncated certificate');
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new SecurityError('unsupported DER length in certificate');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[start + i] ?? 0);
    start += n;
  }
  const end = start + len;
  if (end > buf.length) throw new SecurityError('truncated certificate');
  return { tag, start, end };
}

function children(buf: Buffer, parent: Der): Der[] {
  const out: Der[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const d = readDer(buf, at);
    out.push(d);
    at = d.end;
  }
  return out;
}

/** A directory string's text, as Python's `cryptography` decodes each string type. */
function stringValue(buf: Buffer, d: Der): string {
  const raw = buf.subarray(d.start, d.end);
  switch (d.tag) {
    case 0x1e: // BMPString: UTF-16 big-endian
      return Buffer.from(raw).swap16().toString('utf16le');
    case 0x1c: {
      // UniversalString: UTF-32 big-endian
      let s = '';
      for (let i = 0; i + 3 < raw.length; i += 4) s += String.fromCodePoint(raw.readUInt32BE(i));
      return s;
    }
    case 0x14: // TeletexString, read as Latin-1
      return raw.toString('latin1');
    default:
      return raw.toString('utf8');
  }
}

/** A DER INTEGER (two's complement, big-endian) in decimal. */
function integerValue(buf: Buffer, d: Der): string {
  const raw = buf.subarray(d.start, d.end);
  if (raw.length === 0) return '0';
  let n = BigInt(`0x${raw.toString('hex')}`);
  if ((raw[0] ?? 0) & 0x80) n -= 1n << BigInt(raw.length * 8);
  return n.toString(10);
}

/** The signer id of a DER certificate: issuer attribute values, in order, then the serial. */
function signerId(der: Buffer): string {
  const tbs = children(der, readDer(der, 0))[0];
  if (!tbs) throw new SecurityError('certificate has no TBSCertificate');
  const fields = children(der, tbs);
  // An explicit version comes first as context tag [0]; version 1 certificates omit it.
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const serial = fields[offset];
  const issuer = fields[offset + 2];
  if (!serial || serial.tag !== 0x02 || !issuer || issuer.tag !== 0x30) {
    throw new SecurityError('certificate without a serial number and issuer');
  }
  const values: string[] = [];
  for (const rdn of children(der, issuer)) {
    for (const attribute of children(der, rdn)) {
      const value = children(der, attribute)[1];
      if (value) values.push(stringValue(der, value));
    }
  }
  return `${values.join(' ')} ${integerValue(der, serial)}`;
}

/** An X.509 certificate (PEM) that verifies signatures. */
export class Certificate {
  /** Who signed with the matching key, as Celery spells it (issuer values and serial number). */
  readonly id: string;
  readonly publicKey: KeyObject;
  /** Length in bytes of this key's signatures (RSA modulus bits / 8), as Celery computes it. */
  readonly signatureLength: number;
  /** Key size in bits. */
  readonly keyBits: number;
  private readonly validTo: Date;

  /** @throws SecurityError when the text is no PEM certificate, or its key is not RSA. */
  constructor(pem: string | Buffer) {
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(pem);
    } catch (err) {
      throw new SecurityError(`invalid certificate: ${(err as Error).message}`, { cause: err });
    }
    this.publicKey = x509.publicKey;
    const bits = this.publicKey.asymmetricKeyDetails?.modulusLength;
    if (this.publicKey.asymmetricKeyType !== 'rsa' || bits === undefined) {
      throw new SecurityError(`certificate key is ${this.publicKey.asymmetricKeyType ?? 'unknown'}: message signing needs RSA`);
    }
    this.keyBits = bits;
    this.signatureLength = bits >> 3;
    this.id = signerId(x509.raw);
    this.validTo = new Date(x509.validTo);
  }

  /** Whether the certificate's validity has ended (at `now`). */
  hasExpired(now = new Date()): boolean {
    return now.getTime() >= this.validTo.getTime();
  }
}

/** The paths a `security_cert_store` value names: a file, every file of a directory, or a glob. */
function storePaths(path: string): string[] {
  let dir = path;
  let pattern = '*';
  try {
    if (!statSync(path).isDirectory()) return [path];
  } catch {
    dir = dirname(path);
    pattern = basename(path);
  }
  const re = globToRegExp(pattern);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => re.test(n) && !n.startsWith('.'))
    .sort()
    .map((n) => join(dir, n))
    .filter((p) => statSync(p).isFile());
}

/** Trusted certificates by signer id. */
export class CertStore {
  private readonly certs = new Map<string, Certificate>();

  /** Adds a certificate; a second one with the same id is an error (it would be ambiguous). */
  add(cert: Certificate): void {
    if (this.certs.has(cert.id)) throw new SecurityError(`duplicate certificate: '${cert.id}'`);
    this.certs.set(cert.id, cert);
  }

  /** The certificate of a signer id. @throws SecurityError naming an unknown signer. */
  get(id: string): Certificate {
    const cert = this.certs.get(id);
    // The id comes from the message: quoted and cut short, it cannot forge or flood log lines.
    if (!cert) throw new SecurityError(`unknown certificate: ${JSON.stringify(id.length > 200 ? `${id.slice(0, 200)}...` : id)}`);
    return cert;
  }

  /** Number of certificates. */
  get size(): number {
    return this.certs.size;
  }

  /**
   * Loads every certificate `path` names (file, directory, or glob like `certs/*.pem`). Refuses
   * an expired certificate, as Celery does, and a store that names no file at all.
   */
  static fromPath(path: string): CertStore {
    const store = new CertStore();
    for (const p of storePaths(path)) {
      const cert = new Certificate(readFileSync(p));
      if (cert.hasExpired()) throw new SecurityError(`expired certificate: '${cert.id}' (${p})`);
      store.add(cert);
    }
    if (store.size === 0) throw new SecurityError(`no certificate found at security_cert_store '${path}'`);
    return store;
  }
}
