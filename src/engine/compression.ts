/** Compression stages from node:zlib (zstd needs Node ≥ 22.15; gzip everywhere). Both run on libuv's thread pool, off the main thread. */
import * as zlib from 'node:zlib';
import { PassThrough, type Transform } from 'node:stream';
import { BackupError, ErrorCodes } from '../errors.js';
import type { BufferPool } from '../streams.js';
import type { CompressionAlgorithm } from './manifest.js';
import { ParallelGzipCompress } from './gzip-members.js';
import { ParallelZstdCompress, ParallelZstdDecompress } from './zstd-frames.js';

const ZSTD_DEFAULT_LEVEL = 3;
const GZIP_DEFAULT_LEVEL = 6;
/**
 * Decompression output per thread-pool job. A decoder produces ~4× more bytes than it reads, so
 * 1 MiB jobs halve the main thread's share of the zstd work against 256 KiB (docs/PERFORMANCE.md).
 */
const DECOMPRESS_CHUNK = 1024 * 1024;

export function defaultLevel(algorithm: CompressionAlgorithm): number | undefined {
  return algorithm === 'zstd' ? ZSTD_DEFAULT_LEVEL : algorithm === 'gzip' ? GZIP_DEFAULT_LEVEL : undefined;
}

function requireZstd(): void {
  if (typeof zlib.createZstdCompress !== 'function') {
    throw new BackupError(ErrorCodes.NOT_SUPPORTED, `zstd needs Node.js ≥ 22.15 (this is ${process.version})`, {
      hint: 'upgrade Node.js, or use --compression gzip',
    });
  }
}

/**
 * Both codecs compress independent frames of FRAME_BYTES plain bytes on every core and write them
 * in order (parallel-frames.ts): zstd as zstd frames (zstd-frames.ts), gzip as gzip members
 * (gzip-members.ts). Either output is one standard stream to any decoder. `pool` lends the input
 * buffers (the Batcher's), which the compressor gives back once a frame is compressed.
 */
export function createCompressor(algorithm: CompressionAlgorithm, level?: number, pool?: BufferPool): Transform {
  switch (algorithm) {
    case 'zstd':
      requireZstd();
      return new ParallelZstdCompress({ level: level ?? ZSTD_DEFAULT_LEVEL, ...(pool ? { pool } : {}) });
    case 'gzip':
      return new ParallelGzipCompress({ level: level ?? GZIP_DEFAULT_LEVEL, ...(pool ? { pool } : {}) });
    case 'none':
      return new PassThrough();
  }
}

/**
 * zstd frames are decoded several at once (zstd-frames.ts). gzip is one createGunzip stream on one
 * thread: it reads every member of a multi-member file (what ParallelGzipCompress writes) as well
 * as the single member of older backups, and at 550–700 MB/s it decodes ten times faster than one
 * core compresses at level 6 (docs/PERFORMANCE.md), so it needs no lanes.
 */
export function createDecompressor(algorithm: CompressionAlgorithm): Transform {
  switch (algorithm) {
    case 'zstd':
      requireZstd();
      return reportDamage(new ParallelZstdDecompress(), algorithm);
    case 'gzip':
      return reportDamage(zlib.createGunzip({ chunkSize: DECOMPRESS_CHUNK }), algorithm);
    case 'none':
      return new PassThrough();
  }
}

/**
 * A decoder error (bad data, wrong checksum, unexpected end) means the stored bytes are damaged: an
 * integrity failure (exit 3) like a checksum mismatch, not a generic failure (exit 1). The stream
 * reports the error it is destroyed with, so the mapping happens in its `_destroy`.
 */
function reportDamage(stream: Transform, algorithm: CompressionAlgorithm): Transform {
  const destroyStream = stream._destroy.bind(stream);
  stream._destroy = (error, callback) =>
    destroyStream(error, (reported) => callback(reported && isCodecError(reported) ? damaged(algorithm, reported) : reported));
  return stream;
}

function isCodecError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^(Z_|ZSTD_)/.test(code);
}

function damaged(algorithm: CompressionAlgorithm, cause: Error): BackupError {
  return new BackupError(ErrorCodes.ARCHIVE_CORRUPT, `the ${algorithm}-compressed data is damaged (${cause.message})`, {
    hint: 'the stored object is damaged or incomplete; restore from another copy (--from) or another backup',
    cause,
  });
}
