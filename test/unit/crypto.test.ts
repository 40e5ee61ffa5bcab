import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createDecryptStream,
  createEncryptStream,
  DEFAULT_CHUNK_SIZE,
  ENCRYPTION_HEADER_MAX_BYTES,
  generateSymmetricKeyHex,
  keyFingerprint,
  parseEncryptionHeader,
  parseHexKey,
} from '../../src/crypto/index.js';
import { BackupError } from '../../src/errors.js';
import { decodeSymmetric } from './crypto-reference-decoder.js';
import { decrypt, encrypt, flipBit, layoutOf, plaintextOf, randomPieces, runThrough, TAG_BYTES } from './crypto-helpers.js';

const CHUNK = 4096; // the smallest chunk size: many chunks from little data
const key = randomBytes(32);

describe('symmetric round trips', () => {
  const sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * 1024 * 1024 + 3];
  for (const size of sizes) {
    it(`restores ${size} bytes fed in random piece sizes`, async () => {
      const plaintext = plaintextOf(size, size);
      const stored = await encrypt(plaintext, { key, chunkSize: CHUNK }, size + 1);
      const { output, error } = await decrypt(stored, { key }, size + 2);
      expect(error).toBeUndefined();
      expect(output.equals(plaintext)).toBe(true);
    });
  }

  it('restores with the default chunk size, across a chunk boundary', async () => {
    const plaintext = plaintextOf(2 * DEFAULT_CHUNK_SIZE + 5);
    const stored = await encrypt(plaintext, { key });
    const { output, error } = await decrypt(stored, { key });
    expect(error).toBeUndefined();
    expect(output.equals(plaintext)).toBe(true);
    expect(parseEncryptionHeader(stored).chunkSize).toBe(DEFAULT_CHUNK_SIZE);
  });

  it('adds only a header plus one 16-byte tag per chunk (an empty plaintext still gets one chunk)', async () => {
    for (const size of [0, CHUNK, CHUNK + 1]) {
      const stored = await encrypt(plaintextOf(size), { key, chunkSize: CHUNK });
      const chunks = Math.max(1, Math.ceil(size / CHUNK));
      const header = parseEncryptionHeader(stored);
      expect(header.mode).toBe('symmetric');
      expect(stored.length - size - chunks * TAG_BYTES).toBe(layoutOf(stored, size, CHUNK).headerBytes);
      expect(layoutOf(stored, size, CHUNK).headerBytes).toBeGreaterThan(0);
    }
  });

  it('encrypts the same plaintext differently every time (fresh salt per object)', async () => {
    const plaintext = plaintextOf(3 * CHUNK);
    const first = await encrypt(plaintext, { key, chunkSize: CHUNK });
    const second = await encrypt(plaintext, { key, chunkSize: CHUNK });
    expect(first.length).toBe(second.length);
    const { headerBytes } = layoutOf(first, plaintext.length, CHUNK);
    expect(first.subarray(0, headerBytes).equals(second.subarray(0, headerBytes))).toBe(false);
    // No chunk's ciphertext is shared between the two objects: distinct per-object keys.
    const body = (b: Buffer) => b.subarray(headerBytes, headerBytes + 64).toString('hex');
    expect(body(first)).not.toBe(body(second));
  });
});

describe('header and info', () => {
  it('describes the object without the key, and parseEncryptionHeader agrees with info()', async () => {
    const stream = createEncryptStream({ key, chunkSize: CHUNK });
    const { output } = await runThrough(stream, [plaintextOf(10_000)]);
    const info = stream.info();
    expect(info).toEqual({
      algorithm: 'AES-256-GCM-STREAM',
      formatVersion: 1,
      mode: 'symmetric',
      chunkSize: CHUNK,
      keyFingerprint: keyFingerprint(key),
      salt: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    // The salt is the object's own: it appears in the stored header, and differs per object.
    expect(output.includes(Buffer.from(info.salt!, 'hex'))).toBe(true);
    expect((await runThrough(createEncryptStream({ key, chunkSize: CHUNK }), [plaintextOf(10)])).output.includes(Buffer.from(info.salt!, 'hex'))).toBe(false);
    expect(parseEncryptionHeader(output.subarray(0, ENCRYPTION_HEADER_MAX_BYTES))).toEqual(info);
    expect(JSON.stringify(info)).not.toContain(key.toString('hex'));
  });

  it('never writes the key (or its plain SHA-256) into the stored bytes', async () => {
    const stored = await encrypt(Buffer.alloc(5000), { key, chunkSize: CHUNK });
    expect(stored.includes(key)).toBe(false);
    expect(stored.includes(createHash('sha256').update(key).digest().subarray(0, 8))).toBe(false);
  });

  it('rejects an object that is not encrypted by this tool, and a future format version', async () => {
    const notOurs = Buffer.from('{"this is": "plain json"}');
    expect(() => parseEncryptionHeader(notOurs)).toThrow(/not encrypted by mongo-backup/);
    const { output, error } = await decrypt(notOurs, { key });
    expect(error?.code).toBe('INTEGRITY');
    expect(output.length).toBe(0);

    const stored = await encrypt(Buffer.from('x'), { key, chunkSize: CHUNK });
    const future = Buffer.from(stored);
    future[8] = 2; // the version byte follows the 8-byte magic (docs/FORMAT.md)
    expect(() => parseEncryptionHeader(future)).toThrow(/version 2/);
    expect((await decrypt(future, { key })).error?.exitCode).toBe(3);
  });

  it('refuses unsupported chunk sizes up front', () => {
    expect(() => createEncryptStream({ key, chunkSize: 1000 })).toThrow(BackupError);
    expect(() => createEncryptStream({ key, chunkSize: 64 * 1024 * 1024 })).toThrow(/chunk size/);
  });

  it('an object with another salt than the manifest expects is refused before any output (exit 3)', async () => {
    const plaintext = plaintextOf(3 * CHUNK);
    const stream = createEncryptStream({ key, chunkSize: CHUNK });
    const { output: stored } = await runThrough(stream, [plaintext]);
    const own = await runThrough(createDecryptStream({ key }, { expectedSalt: stream.info().salt! }), [stored]);
    expect(own.error).toBeUndefined();
    expect(own.output.equals(plaintext)).toBe(true);
    // Authentic (same key) but another object: e.g. another backup's copy put in this one's place.
    const other = await runThrough(createDecryptStream({ key }, { expectedSalt: 'ab'.repeat(32) }), [stored]);
    expect(other.error).toBeInstanceOf(BackupError);
    expect((other.error as BackupError).exitCode).toBe(3);
    expect((other.error as BackupError).message).toMatch(/salt/);
    expect(other.output.length).toBe(0);
  });
});

describe('wrong or missing key', () => {
  it('reports WRONG_KEY with both fingerprints before emitting any byte', async () => {
    const stored = await encrypt(plaintextOf(3 * CHUNK), { key, chunkSize: CHUNK });
    const otherKey = randomBytes(32);
    const { output, error } = await decrypt(stored, { key: otherKey });
    expect(error?.code).toBe('WRONG_KEY');
    expect(error?.exitCode).toBe(3);
    expect(output.length).toBe(0);
    expect(error?.message).toContain(keyFingerprint(key));
    expect(error?.message).toContain(keyFingerprint(otherKey));
    expect(error?.message).not.toContain(otherKey.toString('hex'));
  });

  it('reports KEY_MISSING naming the needed fingerprint when no key is configured', async () => {
    const stored = await encrypt(Buffer.from('secret'), { key, chunkSize: CHUNK });
    const { output, error } = await decrypt(stored, {});
    expect(error?.code).toBe('KEY_MISSING');
    expect(error?.exitCode).toBe(2);
    expect(error?.message).toContain(keyFingerprint(key));
    expect(output.length).toBe(0);
  });
});

describe('tampering is detected and nothing unauthenticated is emitted', () => {
  const plaintext = plaintextOf(5 * CHUNK - 100, 42); // 5 chunks, the last one partial

  async function storedObject() {
    const stored = await encrypt(plaintext, { key, chunkSize: CHUNK });
    return { stored, layout: layoutOf(stored, plaintext.length, CHUNK) };
  }

  /** Decrypts, expects AUTH_FAILED, and checks only chunks before `badChunk` came out. */
  async function expectAuthFailure(stored: Buffer, badChunk: number, message?: RegExp) {
    const { output, error } = await decrypt(stored, { key });
    expect(error?.code).toBe('AUTH_FAILED');
    expect(error?.exitCode).toBe(3);
    if (message) expect(error?.message).toMatch(message);
    expect(output.length).toBeLessThanOrEqual(badChunk * CHUNK);
    expect(output.equals(plaintext.subarray(0, output.length))).toBe(true);
  }

  it('a flipped bit in the header salt', async () => {
    const { stored } = await storedObject();
    await expectAuthFailure(flipBit(stored, 20), 0);
  });

  it('any flipped header bit fails with exit 3 and no output', async () => {
    const { stored, layout } = await storedObject();
    for (let offset = 0; offset < layout.headerBytes; offset++) {
      for (const bit of [0, 7]) {
        const { output, error } = await decrypt(flipBit(stored, offset, bit), { key });
        expect(error?.exitCode, `byte ${offset} bit ${bit}`).toBe(3);
        expect(output.length).toBe(0);
      }
    }
  });

  it('a flipped bit in a middle chunk', async () => {
    const { stored, layout } = await storedObject();
    await expectAuthFailure(flipBit(stored, layout.chunkStart(2) + 100), 2, /chunk 2/);
  });

  it('a flipped bit in the last tag', async () => {
    const { stored } = await storedObject();
    await expectAuthFailure(flipBit(stored, stored.length - 1), 4);
  });

  it('truncation at a chunk boundary (the last chunk dropped) says "truncated"', async () => {
    const { stored, layout } = await storedObject();
    await expectAuthFailure(stored.subarray(0, layout.chunkStart(4)), 3, /truncated/);
    await expectAuthFailure(stored.subarray(0, layout.chunkStart(2)), 1, /truncated/);
  });

  it('truncation in the middle of a chunk, right after the header, and inside the header', async () => {
    const { stored, layout } = await storedObject();
    await expectAuthFailure(stored.subarray(0, layout.chunkStart(3) + 1000), 3, /truncated/);
    await expectAuthFailure(stored.subarray(0, layout.headerBytes), 0, /truncated/);
    await expectAuthFailure(stored.subarray(0, layout.headerBytes - 1), 0, /truncated/);
    await expectAuthFailure(stored.subarray(0, 0), 0);
  });

  it('two chunks swapped', async () => {
    const { stored, layout } = await storedObject();
    const chunk = (i: number) => stored.subarray(layout.chunkStart(i), layout.chunkEnd(i));
    const swapped = Buffer.concat([stored.subarray(0, layout.chunkStart(1)), chunk(2), chunk(1), stored.subarray(layout.chunkStart(3))]);
    await expectAuthFailure(swapped, 1, /chunk 1/);
  });

  it('a chunk spliced in from another object encrypted with the same key', async () => {
    const { stored, layout } = await storedObject();
    const other = await encrypt(plaintext, { key, chunkSize: CHUNK });
    const spliced = Buffer.concat([
      stored.subarray(0, layout.chunkStart(2)),
      other.subarray(layout.chunkStart(2), layout.chunkEnd(2)),
      stored.subarray(layout.chunkStart(3)),
    ]);
    await expectAuthFailure(spliced, 2, /chunk 2/);
  });

  it('the header of another object with the same key', async () => {
    const { stored, layout } = await storedObject();
    const other = await encrypt(plaintext, { key, chunkSize: CHUNK });
    const spliced = Buffer.concat([other.subarray(0, layout.headerBytes), stored.subarray(layout.headerBytes)]);
    await expectAuthFailure(spliced, 0);
  });

  it('bytes appended after the last chunk', async () => {
    const { stored } = await storedObject();
    await expectAuthFailure(Buffer.concat([stored, Buffer.from([0])]), 4);
  });

  it('an object whose plaintext fills its last chunk exactly, truncated by one whole chunk', async () => {
    const exact = plaintextOf(3 * CHUNK, 3);
    const stored = await encrypt(exact, { key, chunkSize: CHUNK });
    const layout = layoutOf(stored, exact.length, CHUNK);
    const { output, error } = await decrypt(stored.subarray(0, layout.chunkStart(2)), { key });
    expect(error?.message).toMatch(/truncated/);
    expect(output.length).toBeLessThanOrEqual(CHUNK);
  });
});

describe('streaming behaviour', () => {
  it('holds back a chunk until its tag has arrived and verified', async () => {
    const plaintext = plaintextOf(3 * CHUNK, 5);
    const stored = await encrypt(plaintext, { key, chunkSize: CHUNK });
    const layout = layoutOf(stored, plaintext.length, CHUNK);
    const decryptor = createDecryptStream({ key });
    const emitted: Buffer[] = [];
    decryptor.on('data', (piece: Buffer) => emitted.push(piece));
    const emittedBytes = () => emitted.reduce((n, b) => n + b.length, 0);
    const writeAndSettle = async (bytes: Buffer) => {
      decryptor.write(bytes);
      await new Promise((resolve) => setImmediate(resolve));
    };
    // All of chunk 0 except its last tag byte: nothing may come out yet.
    await writeAndSettle(stored.subarray(0, layout.chunkEnd(0) - 1));
    expect(emittedBytes()).toBe(0);
    // The tag is complete, but chunk 0 could still be the last chunk until one more byte arrives.
    await writeAndSettle(stored.subarray(layout.chunkEnd(0) - 1, layout.chunkEnd(0)));
    expect(emittedBytes()).toBe(0);
    await writeAndSettle(stored.subarray(layout.chunkEnd(0), layout.chunkEnd(0) + 1));
    expect(emittedBytes()).toBe(CHUNK);
    decryptor.end(stored.subarray(layout.chunkEnd(0) + 1));
    await new Promise((resolve) => decryptor.on('end', resolve));
    expect(Buffer.concat(emitted).equals(plaintext)).toBe(true);
  });

  it('applies back-pressure: with no reader, it asks the writer to wait within a few chunks', async () => {
    const chunkSize = 64 * 1024;
    const encryptor = createEncryptStream({ key, chunkSize });
    const piece = plaintextOf(16 * 1024, 4);
    let accepted = 0;
    while (encryptor.write(piece)) {
      accepted += piece.length;
      if (accepted > 64 * chunkSize) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(accepted).toBeLessThanOrEqual(4 * chunkSize);
    encryptor.destroy();
  });
});

describe('keys', () => {
  it('parses 64 hex characters, ignoring surrounding whitespace and case', () => {
    const hex = generateSymmetricKeyHex();
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
    expect(parseHexKey(`  ${hex.toUpperCase()}\n`, 'keyFile').equals(Buffer.from(hex, 'hex'))).toBe(true);
    expect(generateSymmetricKeyHex()).not.toBe(hex);
  });

  it('rejects malformed keys with CONFIG_INVALID, naming the source but never echoing the value', () => {
    const wrongLength = 'ab'.repeat(31);
    const notHex = 'zz' + 'ab'.repeat(31);
    for (const value of [wrongLength, notHex, '']) {
      try {
        parseHexKey(value, 'BACKUP_ENCRYPTION_KEY');
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(BackupError);
        const e = error as BackupError;
        expect(e.code).toBe('CONFIG_INVALID');
        expect(e.message).toContain('BACKUP_ENCRYPTION_KEY');
        if (value) expect(e.message).not.toContain(value);
      }
    }
  });

  it('fingerprints keys stably and distinctly, and not as a plain hash of the key', () => {
    const fingerprint = keyFingerprint(key);
    expect(fingerprint).toMatch(/^kf1:[0-9a-f]{16}$/);
    expect(keyFingerprint(Buffer.from(key))).toBe(fingerprint);
    expect(keyFingerprint(randomBytes(32))).not.toBe(fingerprint);
    const plainHash = createHash('sha256').update(key).digest('hex');
    expect(plainHash).not.toContain(fingerprint.slice(4));
  });
});

describe('format conformance: an independent decoder written from docs/FORMAT.md', () => {
  it('decrypts objects of several sizes made by the encryptor', async () => {
    for (const size of [0, 1, CHUNK, 3 * CHUNK + 17]) {
      const plaintext = plaintextOf(size, size + 3);
      const stored = await encrypt(plaintext, { key, chunkSize: CHUNK });
      expect(decodeSymmetric(stored, key).equals(plaintext)).toBe(true);
    }
  });

  it('and the encryptor accepts pieces of any size, including one byte at a time', async () => {
    const plaintext = plaintextOf(CHUNK + 3, 8);
    const { output } = await runThrough(createEncryptStream({ key, chunkSize: CHUNK }), randomPieces(plaintext, 1, 1));
    expect(decodeSymmetric(output, key).equals(plaintext)).toBe(true);
  });
});
