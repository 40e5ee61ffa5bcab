// The windowed writer of SFTP saves: ssh2's own write stream keeps one request in flight, which
// caps throughput at one packet per round trip (docs/TARGETS.md, sftp).
import { Writable } from 'node:stream';
import type { SFTPWrapper } from 'ssh2';

/**
 * Writes: 16 requests of up to 128 KiB in flight (2 MiB). Larger writes uploaded about 1.5× faster
 * than 32 KiB ones against OpenSSH; servers that announce a smaller limit get that size.
 */
const WRITE_CHUNK = 128 * 1024;
const WRITE_WINDOW = 16;

/**
 * Writes a stream to an open SFTP handle with up to WRITE_WINDOW write requests in flight, then
 * fsyncs (when the server offers fsync@openssh.com) and closes the handle.
 */
export class SftpUpload extends Writable {
  private position = 0;
  private inFlight = 0;
  private failure: Error | undefined;
  private waiting: (() => void) | undefined;

  private readonly chunkSize: number;

  constructor(
    private readonly sftp: SFTPWrapper,
    private handle: Buffer,
  ) {
    super({ highWaterMark: WRITE_CHUNK * 2 });
    // ssh2 splits a write above the server's limit into sequential requests; stay within it.
    const serverLimit = (sftp as SFTPWrapper & { _maxWriteLen?: number })._maxWriteLen;
    this.chunkSize = serverLimit !== undefined && serverLimit > 0 ? Math.min(WRITE_CHUNK, serverLimit) : 32 * 1024;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.failure) return callback(this.failure);
    for (let offset = 0; offset < chunk.length; offset += this.chunkSize) {
      const piece = chunk.subarray(offset, Math.min(offset + this.chunkSize, chunk.length));
      this.inFlight++;
      this.sftp.write(this.handle, piece, 0, piece.length, this.position, (error) => {
        this.inFlight--;
        if (error) this.failure ??= error;
        this.waiting?.();
      });
      this.position += piece.length;
    }
    this.whenBelow(WRITE_WINDOW, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.whenBelow(1, (error) => {
      if (error) return callback(error);
      const handle = this.handle;
      const close = () => this.sftp.close(handle, (closeError) => callback(closeError ?? null));
      try {
        this.sftp.ext_openssh_fsync(handle, () => close());
      } catch {
        close(); // the server does not offer fsync@openssh.com
      }
    });
  }

  /** Calls back once fewer than `limit` writes are pending (or one failed). */
  private whenBelow(limit: number, callback: (error?: Error | null) => void): void {
    const test = () => {
      if (this.failure) {
        this.waiting = undefined;
        callback(this.failure);
      } else if (this.inFlight < limit) {
        this.waiting = undefined;
        callback();
      } else {
        this.waiting = test;
      }
    };
    test();
  }
}
