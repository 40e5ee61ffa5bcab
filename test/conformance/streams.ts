// Stream helpers for the conformance suite: deterministic pseudo-random data of any size (never
// held in memory), bodies that fail or stall on purpose, and hashing consumers.
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const CHUNK = 1024 * 1024;

/**
 * `size` pseudo-random bytes derived from `seed` (AES-256-CTR keystream), generated chunk by
 * chunk as the consumer reads. `sha256()` resolves with the hex digest once the stream has ended.
 */
export function pseudoRandomStream(seed: string, size: number): Readable & { sha256(): Promise<string> } {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(CHUNK);
  let produced = 0;
  let resolveDigest: (digest: string) => void = () => undefined;
  const digest = new Promise<string>((resolve) => (resolveDigest = resolve));
  const stream = new Readable({
    highWaterMark: CHUNK,
    read() {
      if (produced >= size) {
        resolveDigest(hash.digest('hex'));
        this.push(null);
        return;
      }
      const length = Math.min(CHUNK, size - produced);
      const chunk = cipher.update(length === CHUNK ? zeros : zeros.subarray(0, length));
      produced += length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return Object.assign(stream, { sha256: () => digest });
}

/** The same bytes as pseudoRandomStream(seed, size), as one buffer (small sizes only). */
export function pseudoRandomBytes(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/** Emits `bytesBeforeError` pseudo-random bytes, then fails with `error` (like a dump that dies). */
export function failingStream(bytesBeforeError: number, error: Error): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for await (const chunk of pseudoRandomStream('failing', bytesBeforeError)) yield chunk as Buffer;
    throw error;
  }
  return Readable.from(generate(), { objectMode: false });
}

/** Endless pseudo-random data; calls `onBytes` with the running total as the consumer pulls. */
export function endlessStream(onBytes: (total: number) => void): Readable {
  const zeros = Buffer.alloc(CHUNK);
  const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, 7), Buffer.alloc(16));
  let total = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      total += CHUNK;
      this.push(cipher.update(zeros));
      onBytes(total);
    },
  });
}

/** Reads a stream to the end: byte count and SHA-256. */
export async function hashStream(stream: Readable): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    bytes += buffer.length;
    hash.update(buffer);
  }
  return { bytes, sha256: hash.digest('hex') };
}

export async function readBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export { mapLimit } from '../../src/streams.js';
