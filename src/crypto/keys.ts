/** Symmetric master keys: parsing, generation and fingerprints. */
import { randomBytes } from 'node:crypto';
import { BackupError, ErrorCodes } from '../errors.js';
import { fingerprintBytes, formatKeyFingerprint, INFO_KEY_FINGERPRINT, KEY_BYTES } from './format.js';

/**
 * Parses a 32-byte key given as 64 hex characters (surrounding whitespace, e.g. a key file's
 * trailing newline, is ignored). Errors name `source` and describe the problem, never the value.
 */
export function parseHexKey(hex: string, source: string): Buffer {
  const text = hex.trim();
  const hint = 'generate a key with `mongo-backup key generate` (64 hexadecimal characters = 32 bytes)';
  if (text.length !== KEY_BYTES * 2) {
    throw new BackupError(
      ErrorCodes.CONFIG_INVALID,
      `${source} must be ${KEY_BYTES * 2} hexadecimal characters (a 32-byte key), but it has ${text.length}`,
      { hint },
    );
  }
  if (!/^[0-9a-fA-F]+$/.test(text)) {
    throw new BackupError(ErrorCodes.CONFIG_INVALID, `${source} contains characters that are not hexadecimal (0-9, a-f)`, {
      hint,
    });
  }
  return Buffer.from(text, 'hex');
}

/** `kf1:` + 16 hex: identifies a key without revealing anything usable about it (HKDF, not a hash). */
export function keyFingerprint(key: Buffer): string {
  return formatKeyFingerprint(fingerprintBytes(key, INFO_KEY_FINGERPRINT));
}

export function generateSymmetricKeyHex(): string {
  return randomBytes(KEY_BYTES).toString('hex');
}
