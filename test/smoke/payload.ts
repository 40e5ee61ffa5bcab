// A random payload and a streaming SHA-256, for round trips through the storage peers.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export const payloadSize = 20 * 1024 * 1024;

export interface Payload {
  bytes: Buffer;
  sha256: string;
  /** A fresh stream over the bytes, in 1 MiB chunks (like a dump arriving over time). */
  stream(): Readable;
}

export function randomPayload(size = payloadSize): Payload {
  const bytes = randomBytes(size);
  return {
    bytes,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    stream: () => Readable.from(chunked(bytes, 1024 * 1024), { objectMode: false }),
  };
}

function* chunked(bytes: Buffer, chunkSize: number): Generator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += chunkSize) yield bytes.subarray(offset, offset + chunkSize);
}

export async function sha256Of(stream: AsyncIterable<Uint8Array | string>): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    hash.update(bytes);
    size += bytes.length;
  }
  return { sha256: hash.digest('hex'), size };
}
