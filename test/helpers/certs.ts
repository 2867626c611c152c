/**
 * Keys and certificates for message-signing tests, made by the `openssl` CLI in a fresh
 * temporary directory (never shared between tests), plus a deadline-bound `until`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { servicesRequired } from './services.js';

/** A private key and its self-signed certificate, as PEM file paths. */
export interface SignerFiles {
  key: string;
  cert: string;
}

/** Why the `openssl` CLI cannot be used (a skip reason), or false when it can (or CI requires it). */
export function opensslSkip(): string | false {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  const ok = !r.error && r.status === 0;
  return ok || servicesRequired ? false : 'openssl CLI unavailable; apt-get install openssl';
}

/** A new temporary directory with an empty `store/` inside. */
export function certDir(): { dir: string; store: string } {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-sig-'));
  const store = join(dir, 'store');
  mkdirSync(store);
  return { dir, store };
}

/**
 * Makes an RSA key and a self-signed certificate named `name` in `dir`; `subject` is openssl's
 * `-subj` form (its values make the signer id).
 */
export function makeSigner(
  dir: string,
  name: string,
  options: { subject?: string; bits?: number; days?: number; newkey?: string } = {},
): SignerFiles {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  const r = spawnSync(
    'openssl',
    ['req', '-utf8', '-x509', '-newkey', options.newkey ?? `rsa:${options.bits ?? 2048}`, '-nodes', '-keyout', key, '-out', cert,
      '-days', String(options.days ?? 2), '-subj', options.subject ?? `/C=US/O=Celeriac Test/CN=${name}`],
    { encoding: 'utf8' },
  );
  if (r.error || r.status !== 0) throw new Error(`openssl failed: ${r.error?.message ?? r.stderr}`);
  return { key, cert };
}

/** Resolves once `predicate` holds; rejects naming `what` after `timeout` ms. */
export async function until(predicate: () => boolean | Promise<boolean>, what: string, { timeout = 10_000 } = {}): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
