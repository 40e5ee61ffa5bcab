/**
 * The byte layout of an encrypted object (docs/FORMAT.md is the normative description; keep the
 * two in step). Everything here is pure: encode/parse the header, derive keys and nonces.
 */
import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { BackupError, ErrorCodes } from '../errors.js';

/** `MBKENC\r\n`: the CR LF catches text-mode mangling of the object, like PNG's magic does. */
export const MAGIC = Buffer.from('MBKENC\r\n', 'latin1');
export const FORMAT_VERSION = 1;
export const ALGORITHM = 'AES-256-GCM-STREAM' as const;

export type EncryptionMode = 'symmetric' | 'recipients';

export interface EncryptionInfo {
  algorithm: typeof ALGORITHM;
  formatVersion: number;
  mode: EncryptionMode;
  chunkSize: number;
  /** Symmetric mode: fingerprint of the master key (`kf1:` + 16 hex). */
  keyFingerprint?: string;
  /** Recipients mode: fingerprints of the recipients' public keys (`rf1:` + 16 hex). */
  recipients?: string[];
  /**
   * The object's random salt (hex). Authenticated by the first chunk, it identifies the object: a
   * reader that finds the manifest's salt in the header knows the object is this backup's.
   */
  salt?: string;
}

export const MODE_SYMMETRIC = 0x01;
export const MODE_RECIPIENTS = 0x02;

export const SALT_BYTES = 32;
export const FINGERPRINT_BYTES = 8;
export const TAG_BYTES = 16;
export const KEY_BYTES = 32;
export const NONCE_PREFIX_BYTES = 7;
export const X25519_KEY_BYTES = 32;
export const WRAPPED_KEY_BYTES = KEY_BYTES + TAG_BYTES;
/** One recipient stanza: fingerprint ‖ ephemeral public key ‖ wrapped data key (with its tag). */
export const STANZA_BYTES = FINGERPRINT_BYTES + X25519_KEY_BYTES + WRAPPED_KEY_BYTES;
export const MAX_RECIPIENTS = 255;

/** Chunk sizes are powers of two, stored as their log2 in one byte. */
export const MIN_CHUNK_LOG2 = 12; // 4 KiB
export const MAX_CHUNK_LOG2 = 24; // 16 MiB: bounds what a decoder must buffer
/** 1 MiB: per-chunk cipher setup is negligible at this size (measurements in docs/FORMAT.md). */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
/** Chunk counters are 32-bit; one more chunk would reuse a nonce. */
export const MAX_CHUNKS = 2 ** 32;

// Offsets of the fixed part of the header.
const OFFSET_VERSION = MAGIC.length; // 8
const OFFSET_MODE = OFFSET_VERSION + 1; // 9
const OFFSET_CHUNK_LOG2 = OFFSET_MODE + 1; // 10
export const OFFSET_SALT = OFFSET_CHUNK_LOG2 + 1; // 11
/** Magic, version, mode, chunk size, salt. */
export const FIXED_HEADER_BYTES = OFFSET_SALT + SALT_BYTES; // 43
export const SYMMETRIC_HEADER_BYTES = FIXED_HEADER_BYTES + FINGERPRINT_BYTES; // 51
const RECIPIENT_COUNT_BYTES = 1;

export function recipientsHeaderBytes(count: number): number {
  return FIXED_HEADER_BYTES + RECIPIENT_COUNT_BYTES + count * STANZA_BYTES;
}

/** The most leading bytes parseEncryptionHeader() can need: a header with 255 recipients. */
export const ENCRYPTION_HEADER_MAX_BYTES = recipientsHeaderBytes(MAX_RECIPIENTS);

// HKDF "info" strings: one per purpose, so no derived value can stand in for another.
export const INFO_PAYLOAD = 'mongo-backup/enc v1 payload key';
export const INFO_KEY_FINGERPRINT = 'mongo-backup/enc v1 key fingerprint';
export const INFO_RECIPIENT_FINGERPRINT = 'mongo-backup/enc v1 recipient fingerprint';
export const INFO_WRAP = 'mongo-backup/enc v1 x25519 wrap';

export interface RecipientStanza {
  fingerprint: Buffer;
  ephemeralPublicKey: Buffer;
  wrappedKey: Buffer;
}

export interface ParsedHeader {
  /** The exact header bytes: the first chunk's additional authenticated data. */
  bytes: Buffer;
  mode: EncryptionMode;
  chunkSize: number;
  salt: Buffer;
  /** Symmetric mode only. */
  keyFingerprint?: Buffer;
  /** Recipients mode only. */
  stanzas?: RecipientStanza[];
}

function hkdf(ikm: Buffer, salt: Buffer, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

/** Key and nonce prefix for one object's chunks, from its master (or data) key and its salt. */
export function derivePayloadKey(objectKey: Buffer, salt: Buffer): { key: KeyObject; noncePrefix: Buffer } {
  const okm = hkdf(objectKey, salt, INFO_PAYLOAD, KEY_BYTES + NONCE_PREFIX_BYTES);
  // A KeyObject, not a Buffer: node:crypto sets a cipher up from it several times faster, and
  // that setup happens once per chunk.
  return { key: createSecretKey(okm.subarray(0, KEY_BYTES)), noncePrefix: okm.subarray(KEY_BYTES) };
}

export function fingerprintBytes(keyMaterial: Buffer, info: string): Buffer {
  return hkdf(keyMaterial, Buffer.alloc(0), info, FINGERPRINT_BYTES);
}

export function formatKeyFingerprint(bytes: Buffer): string {
  return `kf1:${bytes.toString('hex')}`;
}

export function formatRecipientFingerprint(bytes: Buffer): string {
  return `rf1:${bytes.toString('hex')}`;
}

/** STREAM nonce: prefix (7) ‖ counter (u32 big-endian) ‖ last-chunk flag (1). */
export function chunkNonce(noncePrefix: Buffer, counter: number, last: boolean): Buffer {
  const nonce = Buffer.allocUnsafe(12);
  noncePrefix.copy(nonce, 0);
  nonce.writeUInt32BE(counter, NONCE_PREFIX_BYTES);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

export function chunkSizeLog2(chunkSize: number): number {
  const log2 = Math.log2(chunkSize);
  if (!Number.isInteger(log2) || log2 < MIN_CHUNK_LOG2 || log2 > MAX_CHUNK_LOG2) {
    throw new BackupError(
      ErrorCodes.CONFIG_INVALID,
      `encryption chunk size ${chunkSize} is not supported: use a power of two from ${2 ** MIN_CHUNK_LOG2} to ${2 ** MAX_CHUNK_LOG2} bytes`,
    );
  }
  return log2;
}

function fixedHeader(mode: number, chunkSize: number, salt: Buffer, bodyBytes: number): Buffer {
  const header = Buffer.alloc(FIXED_HEADER_BYTES + bodyBytes);
  MAGIC.copy(header, 0);
  header[OFFSET_VERSION] = FORMAT_VERSION;
  header[OFFSET_MODE] = mode;
  header[OFFSET_CHUNK_LOG2] = chunkSizeLog2(chunkSize);
  salt.copy(header, OFFSET_SALT);
  return header;
}

export function encodeSymmetricHeader(chunkSize: number, salt: Buffer, keyFingerprint: Buffer): Buffer {
  const header = fixedHeader(MODE_SYMMETRIC, chunkSize, salt, FINGERPRINT_BYTES);
  keyFingerprint.copy(header, FIXED_HEADER_BYTES);
  return header;
}

export function encodeRecipientsHeader(chunkSize: number, salt: Buffer, stanzas: RecipientStanza[]): Buffer {
  const body = RECIPIENT_COUNT_BYTES + stanzas.length * STANZA_BYTES;
  const header = fixedHeader(MODE_RECIPIENTS, chunkSize, salt, body);
  header[FIXED_HEADER_BYTES] = stanzas.length;
  let offset = FIXED_HEADER_BYTES + RECIPIENT_COUNT_BYTES;
  for (const stanza of stanzas) {
    offset += stanza.fingerprint.copy(header, offset);
    offset += stanza.ephemeralPublicKey.copy(header, offset);
    offset += stanza.wrappedKey.copy(header, offset);
  }
  return header;
}

function corrupt(message: string): BackupError {
  return new BackupError(ErrorCodes.INTEGRITY, message, {
    hint: 'check that this is the right object and that it was not damaged in storage',
  });
}

function truncatedHeader(): BackupError {
  return new BackupError(ErrorCodes.AUTH_FAILED, 'the encrypted object is truncated: it ends inside its header', {
    hint: 'the stored copy is incomplete; restore from another copy or another backup',
  });
}

/**
 * How many header bytes `bytes` (the start of an object) needs, once enough is there to tell;
 * undefined while more bytes are needed to know. Throws on anything that is not a header we read.
 */
export function headerLength(bytes: Buffer): number | undefined {
  const magicSeen = Math.min(bytes.length, MAGIC.length);
  if (!bytes.subarray(0, magicSeen).equals(MAGIC.subarray(0, magicSeen))) {
    throw corrupt('this object is not encrypted by mongo-backup (unknown magic bytes)');
  }
  if (bytes.length <= OFFSET_MODE) return undefined;
  const version = bytes[OFFSET_VERSION];
  if (version !== FORMAT_VERSION) {
    throw new BackupError(
      ErrorCodes.INTEGRITY,
      `this object uses encryption format version ${version}, which this version of mongo-backup does not read (it reads version ${FORMAT_VERSION})`,
      { hint: 'if the backup was made by a newer mongo-backup, restore it with that version' },
    );
  }
  const mode = bytes[OFFSET_MODE];
  if (mode === MODE_SYMMETRIC) return SYMMETRIC_HEADER_BYTES;
  if (mode !== MODE_RECIPIENTS) throw corrupt(`unknown encryption mode 0x${(mode ?? 0).toString(16)} in the header`);
  if (bytes.length <= FIXED_HEADER_BYTES) return undefined;
  const count = bytes[FIXED_HEADER_BYTES] ?? 0;
  if (count === 0) throw corrupt('the encryption header lists no recipients');
  return recipientsHeaderBytes(count);
}

/** Parses a complete header; `bytes` may run on into the chunks. */
export function parseHeader(bytes: Buffer): ParsedHeader {
  const length = headerLength(bytes);
  if (length === undefined || bytes.length < length) throw truncatedHeader();
  const header = bytes.subarray(0, length);
  const log2 = header[OFFSET_CHUNK_LOG2] ?? 0;
  if (log2 < MIN_CHUNK_LOG2 || log2 > MAX_CHUNK_LOG2) throw corrupt(`invalid chunk size 2^${log2} in the encryption header`);
  const salt = header.subarray(OFFSET_SALT, OFFSET_SALT + SALT_BYTES);
  const base = { bytes: header, chunkSize: 2 ** log2, salt };
  if (header[OFFSET_MODE] === MODE_SYMMETRIC) {
    return { ...base, mode: 'symmetric', keyFingerprint: header.subarray(FIXED_HEADER_BYTES, length) };
  }
  const stanzas: RecipientStanza[] = [];
  for (let offset = FIXED_HEADER_BYTES + RECIPIENT_COUNT_BYTES; offset < length; offset += STANZA_BYTES) {
    const keyStart = offset + FINGERPRINT_BYTES;
    const wrappedStart = keyStart + X25519_KEY_BYTES;
    stanzas.push({
      fingerprint: header.subarray(offset, keyStart),
      ephemeralPublicKey: header.subarray(keyStart, wrappedStart),
      wrappedKey: header.subarray(wrappedStart, offset + STANZA_BYTES),
    });
  }
  return { ...base, mode: 'recipients', stanzas };
}

export function infoOf(header: ParsedHeader): EncryptionInfo {
  const info: EncryptionInfo = {
    algorithm: ALGORITHM,
    formatVersion: FORMAT_VERSION,
    mode: header.mode,
    chunkSize: header.chunkSize,
  };
  if (header.keyFingerprint) info.keyFingerprint = formatKeyFingerprint(header.keyFingerprint);
  if (header.stanzas) info.recipients = header.stanzas.map((s) => formatRecipientFingerprint(s.fingerprint));
  info.salt = header.salt.toString('hex');
  return info;
}

/** Reads just the header (the first bytes of an object) without any key. */
export function parseEncryptionHeader(firstBytes: Buffer): EncryptionInfo {
  return infoOf(parseHeader(firstBytes));
}
