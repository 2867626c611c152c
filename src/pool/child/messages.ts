/**
 * Messages between a worker and its pool children (processes or threads), sent with structured
 * cloning (`serialization: 'advanced'` for processes). Requests travel as plain fields; errors as
 * `{ name, message, stack }`.
 */
import type { RequestFields } from '../../task/request.js';

/** An error as it crosses to or from a child. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
}

/** A request without its AbortSignal (which cannot be cloned). */
export type WireRequest = Omit<RequestFields, 'signal'>;

/** What a child reports of a finished execution. */
export interface WireOutcome {
  state: string;
  requeue: boolean;
  runtime: number;
  error: WireError | null;
}

/** Parent → child. */
export type ToChild =
  | { type: 'init'; appSpec: string; brokerUrl: string; resultBackend: string | null; logLevel: string; name: string }
  | { type: 'run'; job: number; task: string; request: WireRequest }
  | { type: 'abort'; taskId: string; reason: WireError }
  | { type: 'rpc-result'; id: number; ok: boolean; value?: unknown; error?: WireError }
  | { type: 'shutdown' };

/** Child → parent. */
export type FromChild =
  | { type: 'ready'; pid: number }
  | { type: 'init-failed'; error: WireError }
  | { type: 'started'; job: number }
  | { type: 'done'; job: number; outcome: WireOutcome; rss: number }
  | { type: 'rpc'; id: number; target: 'transport' | 'backend' | 'chords'; method: string; args: unknown[] };

/** An Error as a {@link WireError}. */
export function toWireError(err: unknown): WireError {
  if (err instanceof Error) return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { name: 'Error', message: String(err) };
}
