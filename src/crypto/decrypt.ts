/**
 * The decrypting side of the chunked AES-256-GCM STREAM format (docs/FORMAT.md). A chunk's
 * plaintext is pushed only after its tag verified, so nothing unauthenticated ever leaves.
 */
import { createDecipheriv, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BackupError, ErrorCodes } from '../errors.js';
import { ByteQueue, splitTail } from './byte-queue.js';
import {
  chunkNonce,
  derivePayloadKey,
  ENCRYPTION_HEADER_MAX_BYTES,
  fingerprintBytes,
  formatKeyFingerprint,
  formatRecipientFingerprint,
  headerLength,
  INFO_KEY_FINGERPRINT,
  MAX_CHUNKS,
  parseHeader,
  TAG_BYTES,
  type ParsedHeader,
  type RecipientStanza,
} from './format.js';
import { loadIdentity, unwrapDataKey, type Identity } from './x25519.js';

export interface DecryptKeys {
  /** Symmetric master key. */
  key?: Buffer;
  /** Private identities (mbsec1…), e.g. from parseIdentities(). */
  identities?: string[];
}

const RESTORE_HINT = 'the stored object is damaged or incomplete; restore from another copy or another backup';

function authFailed(message: string, chunk?: number): BackupError {
  return new BackupError(ErrorCodes.AUTH_FAILED, message, {
    hint: RESTORE_HINT,
    ...(chunk === undefined ? {} : { details: { chunk } }),
  });
}

function symmetricObjectKey(header: ParsedHeader, keys: DecryptKeys): Buffer {
  const needed = formatKeyFingerprint(header.keyFingerprint!);
  if (!keys.key) {
    const message = `this object is encrypted with key ${needed}, but no encryption key is configured`;
    throw new BackupError(ErrorCodes.KEY_MISSING, message, {
      hint: 'set BACKUP_ENCRYPTION_KEY or encryption.keyFile to the key with that fingerprint',
      details: { keyFingerprint: needed },
    });
  }
  const configured = fingerprintBytes(keys.key, INFO_KEY_FINGERPRINT);
  if (!configured.equals(header.keyFingerprint!)) {
    throw new BackupError(
      ErrorCodes.WRONG_KEY,
      `wrong encryption key: this object needs key ${needed}, the configured key is ${formatKeyFingerprint(configured)}`,
      { hint: 'configure the key that was in use when the backup was made', details: { keyFingerprint: needed } },
    );
  }
  return keys.key;
}

function recipientsObjectKey(header: ParsedHeader, keys: DecryptKeys): Buffer {
  const stanzas = header.stanzas!;
  const needed = stanzas.map((s) => formatRecipientFingerprint(s.fingerprint));
  if (!keys.identities || keys.identities.length === 0) {
    throw new BackupError(
      ErrorCodes.IDENTITY_MISSING,
      `this object is encrypted to public key(s) ${needed.join(', ')}, but no private identity is configured`,
      {
        hint: 'set encryption.identityFile to a file holding the private identity (mbsec1…) of one of those recipients',
        details: { recipients: needed },
      },
    );
  }
  const identities = keys.identities.map((text, i) => loadIdentity(text, `identity #${i + 1}`));
  const byFingerprint = (stanza: RecipientStanza, identity: Identity): boolean =>
    stanza.fingerprint.equals(identity.fingerprint);
  for (const identity of identities) {
    const stanza = stanzas.find((s) => byFingerprint(s, identity));
    if (!stanza) continue;
    const dataKey = unwrapDataKey(stanza, identity, header.salt);
    if (dataKey) return dataKey;
    throw authFailed(
      `the data key wrapped for recipient ${formatRecipientFingerprint(stanza.fingerprint)} failed authentication: the header is corrupt or was tampered with`,
    );
  }
  // No fingerprint matched. If an identity still opens a stanza, a fingerprint was altered.
  for (const identity of identities) {
    if (stanzas.some((s) => unwrapDataKey(s, identity, header.salt))) {
      throw authFailed('the encryption header was tampered with: a recipient fingerprint does not match its wrapped key');
    }
  }
  const mine = identities.map((identity) => formatRecipientFingerprint(identity.fingerprint));
  throw new BackupError(
    ErrorCodes.WRONG_KEY,
    `wrong identity: this object is encrypted to ${needed.join(', ')}, the configured identities are ${mine.join(', ')}`,
    {
      hint: 'set encryption.identityFile to a file holding the private identity of one of the listed recipients',
      details: { recipients: needed },
    },
  );
}

class ChunkDecryptor extends Transform {
  private readonly queue = new ByteQueue();
  private header: ParsedHeader | undefined;
  private key: KeyObject | undefined;
  private noncePrefix: Buffer = Buffer.alloc(0);
  private counter = 0;

  constructor(
    private readonly keys: DecryptKeys,
    private readonly expectedSalt?: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.queue.push(chunk);
      if (this.header || this.readHeader()) {
        const sealedSize = this.header!.chunkSize + TAG_BYTES;
        // A full chunk followed by at least one more byte cannot be the last one.
        while (this.queue.length > sealedSize) this.openChunk(this.queue.take(sealedSize), false);
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (!this.header && !this.readHeader()) {
        throw this.queue.length === 0
          ? new BackupError(ErrorCodes.AUTH_FAILED, 'the encrypted object is empty', { hint: RESTORE_HINT })
          : authFailed('the encrypted object is truncated: it ends inside its header');
      }
      this.openLastChunk();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  /** Parses the header and resolves the key once all of it has arrived; false while waiting. */
  private readHeader(): boolean {
    const available = Math.min(this.queue.length, ENCRYPTION_HEADER_MAX_BYTES);
    const needed = headerLength(this.queue.peekContiguous(available));
    if (needed === undefined || available < needed) return false;
    const header = parseHeader(this.queue.peekContiguous(needed));
    if (this.expectedSalt !== undefined && header.salt.toString('hex') !== this.expectedSalt) {
      // Authentic, but another object: e.g. a copy from another backup put in this one's place.
      throw new BackupError(ErrorCodes.CHECKSUM_MISMATCH, "the stored object is not the one this backup's manifest describes (its encryption salt differs)", {
        hint: 'the copy was replaced or mixed up; restore from another copy (--from) or another backup',
      });
    }
    const objectKey =
      header.mode === 'symmetric' ? symmetricObjectKey(header, this.keys) : recipientsObjectKey(header, this.keys);
    ({ key: this.key, noncePrefix: this.noncePrefix } = derivePayloadKey(objectKey, header.salt));
    this.header = { ...header, bytes: Buffer.from(header.bytes) };
    this.queue.take(needed);
    return true;
  }

  private openLastChunk(): void {
    const remaining = this.queue.length;
    if (remaining < TAG_BYTES) {
      const where = this.counter === 0 ? 'right after its header' : `after chunk ${this.counter - 1}`;
      throw authFailed(`the encrypted object is truncated: it ends ${where} without its final chunk`, this.counter);
    }
    const pieces = this.queue.take(remaining);
    const plaintext = this.tryOpen(pieces, true);
    if (plaintext) {
      for (const piece of plaintext) this.push(piece);
      return;
    }
    // A full-size chunk that opens only as a middle chunk: the stream was cut at a chunk boundary.
    if (remaining === this.header!.chunkSize + TAG_BYTES && this.tryOpen(pieces, false)) {
      const message = `the encrypted object is truncated: it ends after chunk ${this.counter} without its final chunk`;
      throw authFailed(message, this.counter);
    }
    const message = `the final chunk (${this.counter}) failed authentication: the object is truncated or corrupt`;
    throw authFailed(message, this.counter);
  }

  private openChunk(pieces: Buffer[], last: boolean): void {
    const plaintext = this.tryOpen(pieces, last);
    if (!plaintext) {
      throw authFailed(`chunk ${this.counter} failed authentication: the object is corrupt or was tampered with`, this.counter);
    }
    for (const piece of plaintext) this.push(piece);
    this.counter += 1;
  }

  /** The chunk's plaintext if its tag verifies under this position and last-flag, else undefined. */
  private tryOpen(pieces: Buffer[], last: boolean): Buffer[] | undefined {
    if (this.counter >= MAX_CHUNKS) throw authFailed('the encrypted object has more chunks than the format allows');
    const { body, tail: tag } = splitTail(pieces, TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key!, chunkNonce(this.noncePrefix, this.counter, last));
    if (this.counter === 0) decipher.setAAD(this.header!.bytes);
    decipher.setAuthTag(tag);
    const plaintext = body.map((piece) => decipher.update(piece));
    try {
      decipher.final();
    } catch {
      return undefined;
    }
    return plaintext;
  }
}

/**
 * A Transform that decrypts an object made by createEncryptStream(). Key problems (missing,
 * wrong) are reported from the header, before any output; any authentication failure stops the
 * stream before the failing chunk's plaintext is pushed.
 */
export function createDecryptStream(keys: DecryptKeys, options: { expectedSalt?: string } = {}): Transform {
  return new ChunkDecryptor(keys, options.expectedSalt);
}
