/** Stream helpers used across the engine and targets. */
import { Transform, type TransformCallback } from 'node:stream';

/** A pass-through that counts the bytes flowing through it. */
export class ByteCounter extends Transform {
  bytes = 0;
  constructor(private readonly onBytes?: (total: number, delta: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes, chunk.length);
    callback(null, chunk);
  }
}

/** Reads a whole (small) stream into one buffer. Only for manifests and similar small objects. */
export async function readAll(stream: NodeJS.ReadableStream, limitBytes = 64 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buf.length;
    if (total > limitBytes) throw new Error(`object larger than ${limitBytes} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
