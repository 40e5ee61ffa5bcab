/** Encryption of backup objects: chunked AES-256-GCM STREAM, symmetric or X25519 recipients. */
export {
  ALGORITHM,
  ENCRYPTION_HEADER_MAX_BYTES,
  FORMAT_VERSION,
  DEFAULT_CHUNK_SIZE,
  parseEncryptionHeader,
  type EncryptionInfo,
  type EncryptionMode,
} from './format.js';
export { parseHexKey, keyFingerprint, generateSymmetricKeyHex } from './keys.js';
export { createEncryptStream, type EncryptOptions, type EncryptStream } from './encrypt.js';
export { createDecryptStream, type DecryptKeys } from './decrypt.js';
export { generateIdentity, recipientOf, recipientFingerprint, parseIdentities, parseRecipient } from './x25519.js';
