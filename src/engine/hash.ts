/** SHA-256 as a pass-through stage, so hashing never needs a second read. */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export class HashingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  private digestValue: string | undefined;

  constructor(private readonly onBytes?: (total: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
    callback(null, chunk);
  }

  /** `sha256:<hex>`; valid once the stream has ended. */
  digest(): string {
    this.digestValue ??= `sha256:${this.hash.digest('hex')}`;
    return this.digestValue;
  }
}
