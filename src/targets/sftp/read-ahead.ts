// The read-ahead reader of SFTP loads: a window of read requests in flight instead of ssh2's one
// (docs/TARGETS.md, sftp).
import type { SFTPWrapper } from 'ssh2';
import { call } from './protocol.js';

/** Reads: 64 requests of 32 KiB in flight (2 MiB read-ahead); larger reads measured no faster. */
const READ_CHUNK = 32 * 1024;
const READ_WINDOW = 64;

/**
 * Reads [start, end) from an open handle with up to READ_WINDOW read requests in flight, yielding
 * the bytes in order; closes the handle when done or abandoned.
 */
export async function* readAhead(sftp: SFTPWrapper, handle: Buffer, start: number, end: number): AsyncGenerator<Buffer> {
  const pending: Array<Promise<Buffer>> = [];
  let next = start;
  const readFully = async (position: number, length: number): Promise<Buffer> => {
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const bytes = await call<number>((done) => sftp.read(handle, buffer, filled, length - filled, position + filled, (error, bytesRead) => done(error, bytesRead))).catch(
        (error: unknown) => {
          // ssh2 reports end of file as an error with code 1 (EOF): the file got shorter.
          if ((error as { code?: unknown }).code === 1) return 0;
          throw error;
        },
      );
      if (bytes === 0) break;
      filled += bytes;
    }
    return buffer.subarray(0, filled);
  };
  try {
    while (next < end || pending.length > 0) {
      while (pending.length < READ_WINDOW && next < end) {
        const length = Math.min(READ_CHUNK, end - next);
        const read = readFully(next, length);
        read.catch(() => undefined); // awaited in order below; avoid unhandled rejections meanwhile
        pending.push(read);
        next += length;
      }
      const chunk = await (pending.shift() as Promise<Buffer>);
      if (chunk.length === 0) break;
      yield chunk;
    }
  } finally {
    await Promise.allSettled(pending);
    await call((done) => sftp.close(handle, done)).catch(() => undefined);
  }
}
