/**
 * Compression registry with kombu's names and content types, so Python peers decompress what we
 * compress: `zlib`/`gzip` (zlib stream, header `application/x-gzip`, as kombu registers it),
 * `brotli` (`application/x-brotli`). The method travels in the `compression` message header.
 */
import { brotliCompressSync, brotliDecompressSync, deflateSync, inflateSync } from 'node:zlib';
import { DecodeError, EncodeError } from '../errors/index.js';

/** A compression method. */
export interface Compressor {
  readonly name: string;
  readonly aliases: readonly string[];
  /** Value of the `compression` header. */
  readonly contentType: string;
  compress(data: Buffer): Buffer;
  decompress(data: Buffer): Buffer;
}

const builtins: readonly Compressor[] = [
  {
    name: 'zlib',
    aliases: ['gzip'],
    contentType: 'application/x-gzip',
    compress: (d) => deflateSync(d),
    decompress: (d) => inflateSync(d),
  },
  {
    name: 'brotli',
    aliases: [],
    contentType: 'application/x-brotli',
    compress: (d) => brotliCompressSync(d),
    decompress: (d) => brotliDecompressSync(d),
  },
];

/** Registry of compression methods; each app has its own. */
export class CompressionRegistry {
  private readonly methods = new Map<string, Compressor>();

  constructor(methods: readonly Compressor[] = builtins) {
    for (const m of methods) this.register(m);
  }

  register(method: Compressor): void {
    for (const key of [method.name, method.contentType, ...method.aliases]) this.methods.set(key, method);
  }

  private find(nameOrType: string, Err: typeof EncodeError | typeof DecodeError): Compressor {
    const m = this.methods.get(nameOrType);
    if (!m) throw new Err(`unknown compression '${nameOrType}' (known: zlib, gzip, brotli)`);
    return m;
  }

  /** Compresses; returns the header value to send. */
  compress(data: Buffer, name: string): { body: Buffer; header: string } {
    const m = this.find(name, EncodeError);
    return { body: m.compress(data), header: m.contentType };
  }

  /** Decompresses a body whose `compression` header is `header`. */
  decompress(data: Buffer, header: string): Buffer {
    const m = this.find(header, DecodeError);
    try {
      return m.decompress(data);
    } catch (err) {
      throw new DecodeError(`cannot decompress ${header} body: ${(err as Error).message}`, { cause: err });
    }
  }
}
