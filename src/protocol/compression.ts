/**
 * Compression registry with kombu's names and content types, so Python peers decompress what we
 * compress: `zlib`/`gzip` (zlib stream, header `application/x-gzip`, as kombu registers it),
 * `brotli` (`application/x-brotli`). The method travels in the `compression` message header.
 *
 * Decompression is bounded: a body that would inflate past the limit (`messageMaxBytes`) stops
 * there with {@link MessageTooLarge}, so a small "bomb" (gigabytes of zeros in a few megabytes)
 * never takes the memory it claims. The worker decompresses with {@link CompressionRegistry.decompressAsync},
 * which runs in libuv's thread pool, off the event loop.
 */
import { promisify } from 'node:util';
import { brotliCompressSync, brotliDecompress, brotliDecompressSync, deflateSync, inflate, inflateSync, type ZlibOptions } from 'node:zlib';
import { DecodeError, EncodeError, MessageTooLarge } from '../errors/index.js';

/** A compression method. */
export interface Compressor {
  readonly name: string;
  readonly aliases: readonly string[];
  /** Value of the `compression` header. */
  readonly contentType: string;
  compress(data: Buffer): Buffer;
  /** Decompresses; may stop with an error once the output would pass `maxOutputLength` bytes. */
  decompress(data: Buffer, maxOutputLength?: number): Buffer;
  /** The same off the event loop; without it, {@link decompress} runs and its output is checked after. */
  decompressAsync?(data: Buffer, maxOutputLength: number): Promise<Buffer>;
}

const inflateAsync = promisify<Buffer, ZlibOptions, Buffer>(inflate);
const brotliDecompressAsync = promisify<Buffer, ZlibOptions, Buffer>(brotliDecompress);
/**
 * Output bounded by `max`, written into one buffer of `max + 1` bytes: untouched pages of it cost
 * no memory, and one large allocation goes back to the system when freed, where the default 16 KiB
 * chunks of a bomb (a thousand of them per 16 MiB) stay in the allocator's heap and keep a worker's
 * RSS up long after.
 */
const limit = (max: number | undefined): ZlibOptions => (max === undefined ? {} : { maxOutputLength: max, chunkSize: max + 1 });

const builtins: readonly Compressor[] = [
  {
    name: 'zlib',
    aliases: ['gzip'],
    contentType: 'application/x-gzip',
    compress: (d) => deflateSync(d),
    decompress: (d, max) => inflateSync(d, limit(max)),
    decompressAsync: (d, max) => inflateAsync(d, limit(max)),
  },
  {
    name: 'brotli',
    aliases: [],
    contentType: 'application/x-brotli',
    compress: (d) => brotliCompressSync(d),
    decompress: (d, max) => brotliDecompressSync(d, limit(max)),
    decompressAsync: (d, max) => brotliDecompressAsync(d, limit(max)),
  },
];

/** Node's error when an output would pass `maxOutputLength`. */
function isOverLimit(err: unknown): boolean {
  return err instanceof RangeError && (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
}

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
    if (!m) throw new Err(`unknown compression '${nameOrType}' (known: ${[...new Set([...this.methods.values()].map((c) => c.name))].join(', ')})`);
    return m;
  }

  /** Compresses; returns the header value to send. */
  compress(data: Buffer, name: string): { body: Buffer; header: string } {
    const m = this.find(name, EncodeError);
    return { body: m.compress(data), header: m.contentType };
  }

  /**
   * Decompresses a body whose `compression` header is `header`, on the event loop. Output past
   * `maxBytes` raises {@link MessageTooLarge}; anything else wrong, DecodeError.
   */
  decompress(data: Buffer, header: string, maxBytes?: number): Buffer {
    const m = this.find(header, DecodeError);
    let out: Buffer;
    try {
      out = m.decompress(data, maxBytes);
    } catch (err) {
      throw decompressError(err, header, maxBytes);
    }
    return checkOutput(out, header, maxBytes);
  }

  /** {@link decompress} off the event loop (libuv's thread pool), for the worker's hot path. */
  async decompressAsync(data: Buffer, header: string, maxBytes: number): Promise<Buffer> {
    const m = this.find(header, DecodeError);
    let out: Buffer;
    try {
      out = m.decompressAsync ? await m.decompressAsync(data, maxBytes) : m.decompress(data, maxBytes);
    } catch (err) {
      throw decompressError(err, header, maxBytes);
    }
    return checkOutput(out, header, maxBytes);
  }
}

function decompressError(err: unknown, header: string, maxBytes: number | undefined): DecodeError {
  if (isOverLimit(err) && maxBytes !== undefined) {
    return new MessageTooLarge(`${header} body decompresses to more than ${maxBytes} bytes (messageMaxBytes)`, { cause: err });
  }
  return new DecodeError(`cannot decompress ${header} body: ${(err as Error).message}`, { cause: err });
}

function checkOutput(out: Buffer, header: string, maxBytes: number | undefined): Buffer {
  if (maxBytes !== undefined && out.length > maxBytes) {
    throw new MessageTooLarge(`${header} body decompresses to ${out.length} bytes, more than ${maxBytes} (messageMaxBytes)`);
  }
  return out;
}
