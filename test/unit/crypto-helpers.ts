/** Helpers for the crypto tests: feed streams in uneven pieces, collect output up to an error. */
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecryptStream, createEncryptStream, type DecryptKeys, type EncryptOptions } from '../../src/crypto/index.js';
import { BackupError } from '../../src/errors.js';
import { seededRandom as prng } from './archive-fixtures.js';

/** Deterministic PRNG (mulberry32) so a failing random split can be reproduced from its seed. */
export { prng };

/** Splits a buffer into pieces of random sizes from 1 to maxPiece bytes. */
export function randomPieces(data: Buffer, seed: number, maxPiece = 10_000): Buffer[] {
  const random = prng(seed);
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < data.length; ) {
    const size = 1 + Math.floor(random() * maxPiece);
    pieces.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return pieces;
}

/** Pseudo-random plaintext (so no chunk repeats another). */
export function plaintextOf(size: number, seed = 1): Buffer {
  const random = prng(seed);
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = Math.floor(random() * 256);
  return data;
}

export interface StreamResult {
  output: Buffer;
  error: BackupError | undefined;
}

/** Runs `pieces` through `transform`, returning whatever it emitted and the error it ended with. */
export async function runThrough(transform: Transform, pieces: Buffer[]): Promise<StreamResult> {
  const received: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      received.push(chunk);
      callback();
    },
  });
  let error: BackupError | undefined;
  try {
    await pipeline(Readable.from(pieces), transform, sink);
  } catch (caught) {
    if (!(caught instanceof BackupError)) throw caught;
    error = caught;
  }
  return { output: Buffer.concat(received), error };
}

export async function encrypt(plaintext: Buffer, options: EncryptOptions, seed = 7): Promise<Buffer> {
  const result = await runThrough(createEncryptStream(options), randomPieces(plaintext, seed));
  if (result.error) throw result.error;
  return result.output;
}

export async function decrypt(stored: Buffer, keys: DecryptKeys, seed = 11): Promise<StreamResult> {
  return runThrough(createDecryptStream(keys), randomPieces(stored, seed));
}

export function flipBit(data: Buffer, offset: number, bit = 0): Buffer {
  const copy = Buffer.from(data);
  copy[offset] = copy[offset]! ^ (1 << bit);
  return copy;
}

export const TAG_BYTES = 16;

/** Layout of a stored object, computed from sizes alone (no format constants restated). */
export function layoutOf(stored: Buffer, plaintextSize: number, chunkSize: number) {
  const chunkCount = Math.max(1, Math.ceil(plaintextSize / chunkSize));
  const headerBytes = stored.length - plaintextSize - chunkCount * TAG_BYTES;
  const sealed = chunkSize + TAG_BYTES;
  return {
    chunkCount,
    headerBytes,
    chunkStart: (index: number) => headerBytes + index * sealed,
    chunkEnd: (index: number) => Math.min(stored.length, headerBytes + (index + 1) * sealed),
  };
}
