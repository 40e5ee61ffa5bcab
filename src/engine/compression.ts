/** Compression stages from node:zlib (zstd needs Node ≥ 22.15; gzip everywhere). Both run on libuv's thread pool, off the main thread. */
import * as zlib from 'node:zlib';
import { PassThrough, type Transform } from 'node:stream';
import { BackupError, ErrorCodes } from '../errors.js';
import type { BufferPool } from '../streams.js';
import type { CompressionAlgorithm } from './manifest.js';
import { ParallelZstdCompress, ParallelZstdDecompress } from './zstd-frames.js';

const ZSTD_DEFAULT_LEVEL = 3;
const GZIP_DEFAULT_LEVEL = 6;
/** Bigger chunks mean fewer thread-pool round trips; 256 KiB measured well for both codecs. */
const CHUNK = 256 * 1024;
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
 * zstd compresses independent frames on every core (zstd-frames.ts); `pool` lends the input
 * buffers, which zstd gives back once compressed. gzip is one stream on one thread.
 */
export function createCompressor(algorithm: CompressionAlgorithm, level?: number, pool?: BufferPool): Transform {
  switch (algorithm) {
    case 'zstd':
      requireZstd();
      return new ParallelZstdCompress({ level: level ?? ZSTD_DEFAULT_LEVEL, ...(pool ? { pool } : {}) });
    case 'gzip':
      return zlib.createGzip({ chunkSize: CHUNK, level: level ?? GZIP_DEFAULT_LEVEL });
    case 'none':
      return new PassThrough();
  }
}

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
