/** The encrypting side of the chunked AES-256-GCM STREAM format (docs/FORMAT.md). */
import { createCipheriv, randomBytes, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BackupError, ErrorCodes } from '../errors.js';
import { ByteQueue } from './byte-queue.js';
import {
  chunkNonce,
  chunkSizeLog2,
  DEFAULT_CHUNK_SIZE,
  derivePayloadKey,
  encodeRecipientsHeader,
  encodeSymmetricHeader,
  fingerprintBytes,
  INFO_KEY_FINGERPRINT,
  KEY_BYTES,
  MAX_CHUNKS,
  MAX_RECIPIENTS,
  parseHeader,
  infoOf,
  SALT_BYTES,
  type EncryptionInfo,
} from './format.js';
import { parseRecipient, wrapDataKey } from './x25519.js';

export interface EncryptOptions {
  /** Symmetric mode: the 32-byte master key. */
  key?: Buffer;
  /** Recipients mode: public keys (mbpub1…); only their holders' identities can decrypt. */
  recipients?: string[];
  /** Plaintext bytes per chunk: a power of two from 4 KiB to 16 MiB. */
  chunkSize?: number;
}

export type EncryptStream = Transform & { info(): EncryptionInfo };

interface ObjectKeys {
  header: Buffer;
  /** The key the object's chunk key is derived from: the master key, or a fresh data key. */
  objectKey: Buffer;
}

function symmetricKeys(key: Buffer, chunkSize: number, salt: Buffer): ObjectKeys {
  if (key.length !== KEY_BYTES) {
    throw new BackupError(ErrorCodes.CONFIG_INVALID, `the encryption key must be ${KEY_BYTES} bytes, not ${key.length}`);
  }
  return { header: encodeSymmetricHeader(chunkSize, salt, fingerprintBytes(key, INFO_KEY_FINGERPRINT)), objectKey: key };
}

function recipientKeys(recipients: string[], chunkSize: number, salt: Buffer): ObjectKeys {
  const unique = [...new Set(recipients.map((r) => r.trim()))];
  if (unique.length > MAX_RECIPIENTS) {
    throw new BackupError(ErrorCodes.CONFIG_INVALID, `at most ${MAX_RECIPIENTS} recipients are supported, got ${unique.length}`);
  }
  const dataKey = randomBytes(KEY_BYTES);
  const stanzas = unique.map((text, i) => wrapDataKey(dataKey, parseRecipient(text, `recipient #${i + 1}`), salt));
  return { header: encodeRecipientsHeader(chunkSize, salt, stanzas), objectKey: dataKey };
}

function objectKeysFor(options: EncryptOptions, chunkSize: number, salt: Buffer): ObjectKeys {
  const hasRecipients = options.recipients !== undefined && options.recipients.length > 0;
  if (options.key && hasRecipients) {
    throw new BackupError(ErrorCodes.CONFIG_INVALID, 'configure either an encryption key or recipients, not both');
  }
  if (options.key) return symmetricKeys(options.key, chunkSize, salt);
  if (hasRecipients) return recipientKeys(options.recipients!, chunkSize, salt);
  throw new BackupError(ErrorCodes.KEY_MISSING, 'encryption needs a key or at least one recipient');
}

class ChunkEncryptor extends Transform {
  private readonly queue = new ByteQueue();
  private readonly header: Buffer;
  private readonly key: KeyObject;
  private readonly noncePrefix: Buffer;
  private readonly encryptionInfo: EncryptionInfo;
  private counter = 0;

  constructor(options: EncryptOptions, private readonly chunkSize: number) {
    super();
    chunkSizeLog2(chunkSize); // validates
    const salt = randomBytes(SALT_BYTES);
    const { header, objectKey } = objectKeysFor(options, chunkSize, salt);
    this.header = header;
    ({ key: this.key, noncePrefix: this.noncePrefix } = derivePayloadKey(objectKey, salt));
    this.encryptionInfo = infoOf(parseHeader(header));
  }

  info(): EncryptionInfo {
    return structuredClone(this.encryptionInfo);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.queue.push(chunk);
      // A chunk is known not to be the last only once a byte beyond it has arrived.
      while (this.queue.length > this.chunkSize) this.seal(this.queue.take(this.chunkSize), false);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      // The last chunk holds 1..chunkSize bytes, or 0 when the whole plaintext is empty.
      this.seal(this.queue.take(this.queue.length), true);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  private seal(pieces: Buffer[], last: boolean): void {
    if (this.counter >= MAX_CHUNKS) {
      throw new BackupError(ErrorCodes.FAILED, 'the object is too large for one encrypted stream (2^32 chunks)');
    }
    const cipher = createCipheriv('aes-256-gcm', this.key, chunkNonce(this.noncePrefix, this.counter, last));
    if (this.counter === 0) {
      cipher.setAAD(this.header); // binds the header (mode, salt, key ids) to the stream
      this.push(this.header);
    }
    for (const piece of pieces) this.push(cipher.update(piece));
    cipher.final(); // GCM emits nothing here; it computes the tag
    this.push(cipher.getAuthTag());
    this.counter += 1;
  }
}

/** A Transform that encrypts its input; `info()` describes the result for the manifest. */
export function createEncryptStream(options: EncryptOptions): EncryptStream {
  return new ChunkEncryptor(options, options.chunkSize ?? DEFAULT_CHUNK_SIZE);
}
