/**
 * Public-key recipients (X25519), so a backup host that holds only public keys can encrypt but
 * never decrypt. Text encodings (one line each, paste-able into YAML):
 *   recipient (public):  mbpub1<base64url(raw 32 bytes ‖ 4-byte checksum)>
 *   identity (private):  mbsec1<base64url(raw 32 bytes ‖ 4-byte checksum)>
 * The checksum (first 4 bytes of SHA-256(prefix ‖ raw)) catches copy-paste damage.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import { BackupError, ErrorCodes } from '../errors.js';
import {
  fingerprintBytes,
  formatRecipientFingerprint,
  INFO_RECIPIENT_FINGERPRINT,
  INFO_WRAP,
  KEY_BYTES,
  TAG_BYTES,
  X25519_KEY_BYTES,
  type RecipientStanza,
} from './format.js';

const RECIPIENT_PREFIX = 'mbpub1';
const IDENTITY_PREFIX = 'mbsec1';
const CHECKSUM_BYTES = 4;
// DER wrappers that turn a raw X25519 key into the PKCS#8 / SPKI forms node:crypto imports.
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
/** Each wrap key is used exactly once (fresh ephemeral key), so a fixed nonce is safe. */
const WRAP_NONCE = Buffer.alloc(12);

function checksum(prefix: string, raw: Buffer): Buffer {
  return createHash('sha256').update(prefix).update(raw).digest().subarray(0, CHECKSUM_BYTES);
}

function encodeKey(prefix: string, raw: Buffer): string {
  return prefix + Buffer.concat([raw, checksum(prefix, raw)]).toString('base64url');
}

/** Raw key bytes, or a description of what is wrong (never the text itself: it may be secret). */
function decodeKey(prefix: string, text: string): Buffer | string {
  if (!text.startsWith(prefix)) return `it does not start with "${prefix}"`;
  const body = text.slice(prefix.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) return 'it contains characters outside base64url';
  const bytes = Buffer.from(body, 'base64url');
  if (bytes.length !== X25519_KEY_BYTES + CHECKSUM_BYTES) return 'it has the wrong length';
  const raw = bytes.subarray(0, X25519_KEY_BYTES);
  if (!checksum(prefix, raw).equals(bytes.subarray(X25519_KEY_BYTES))) return 'its checksum does not match (damaged when copied?)';
  return raw;
}

export function parseRecipient(text: string, source = 'recipient'): Buffer {
  const raw = decodeKey(RECIPIENT_PREFIX, text.trim());
  if (typeof raw === 'string') {
    throw new BackupError(ErrorCodes.CONFIG_INVALID, `${source} is not a valid public key: ${raw}`, {
      hint: `public keys are one line starting with ${RECIPIENT_PREFIX}; copy it again from where the key pair was generated`,
    });
  }
  return raw;
}

function parseIdentityRaw(text: string, source: string): Buffer {
  const raw = decodeKey(IDENTITY_PREFIX, text.trim());
  if (typeof raw === 'string') {
    throw new BackupError(ErrorCodes.CONFIG_INVALID, `${source} is not a valid private identity: ${raw}`, {
      hint: `identities look like ${IDENTITY_PREFIX}… (one per line; lines starting with # are comments)`,
    });
  }
  return raw;
}

function privateKeyObject(raw: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_X25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - X25519_KEY_BYTES);
}

function rawPrivateKey(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  return der.subarray(der.length - X25519_KEY_BYTES);
}

export function generateIdentity(): { identity: string; recipient: string } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return {
    identity: encodeKey(IDENTITY_PREFIX, rawPrivateKey(privateKey)),
    recipient: encodeKey(RECIPIENT_PREFIX, rawPublicKey(publicKey)),
  };
}

/** The public key (mbpub1…) that belongs to a private identity (mbsec1…). */
export function recipientOf(identity: string): string {
  const privateKey = privateKeyObject(parseIdentityRaw(identity, 'the identity'));
  return encodeKey(RECIPIENT_PREFIX, rawPublicKey(createPublicKey(privateKey)));
}

export function recipientFingerprintBytes(rawPublic: Buffer): Buffer {
  return fingerprintBytes(rawPublic, INFO_RECIPIENT_FINGERPRINT);
}

/** `rf1:` + 16 hex, as listed in headers, manifests and error messages. */
export function recipientFingerprint(recipient: string): string {
  return formatRecipientFingerprint(recipientFingerprintBytes(parseRecipient(recipient)));
}

/**
 * Reads an identity file: one identity per line; blank lines and lines starting with `#` are
 * ignored. Returns the identities, each validated. Errors give line numbers, never key text.
 */
export function parseIdentities(fileText: string): string[] {
  const identities: string[] = [];
  fileText.split(/\r?\n/).forEach((line, index) => {
    const text = line.trim();
    if (text === '' || text.startsWith('#')) return;
    parseIdentityRaw(text, `line ${index + 1} of the identity file`);
    identities.push(text);
  });
  if (identities.length === 0) {
    throw new BackupError(ErrorCodes.CONFIG_INVALID, 'the identity file holds no identity', {
      hint: `add the private identity (a line starting with ${IDENTITY_PREFIX}) that belongs to one of the configured recipients`,
    });
  }
  return identities;
}

/** A parsed identity, ready to unwrap data keys. */
export interface Identity {
  privateKey: KeyObject;
  publicRaw: Buffer;
  fingerprint: Buffer;
}

export function loadIdentity(text: string, source = 'identity'): Identity {
  const privateKey = privateKeyObject(parseIdentityRaw(text, source));
  const publicRaw = rawPublicKey(createPublicKey(privateKey));
  return { privateKey, publicRaw, fingerprint: recipientFingerprintBytes(publicRaw) };
}

/** HKDF over the X25519 shared secret, salted with both public keys (binds the wrap to them). */
function wrapKey(sharedSecret: Buffer, ephemeralPublic: Buffer, recipientPublic: Buffer): Buffer {
  const salt = Buffer.concat([ephemeralPublic, recipientPublic]);
  return Buffer.from(hkdfSync('sha256', sharedSecret, salt, INFO_WRAP, KEY_BYTES));
}

function sharedSecret(privateKey: KeyObject, publicRaw: Buffer): Buffer | undefined {
  try {
    const secret = diffieHellman({ privateKey, publicKey: publicKeyObject(publicRaw) });
    // An all-zero result means a low-order public key: refuse it (OpenSSL usually already does).
    return secret.some((byte) => byte !== 0) ? secret : undefined;
  } catch {
    return undefined;
  }
}

/** Wraps `dataKey` for one recipient; `objectSalt` is bound in as AAD. */
export function wrapDataKey(dataKey: Buffer, recipientRaw: Buffer, objectSalt: Buffer): RecipientStanza {
  const ephemeral = generateKeyPairSync('x25519');
  const ephemeralPublic = rawPublicKey(ephemeral.publicKey);
  const secret = sharedSecret(ephemeral.privateKey, recipientRaw);
  if (!secret) {
    throw new BackupError(ErrorCodes.CONFIG_INVALID, 'a configured recipient is not a usable X25519 public key');
  }
  const cipher = createCipheriv('aes-256-gcm', wrapKey(secret, ephemeralPublic, recipientRaw), WRAP_NONCE);
  cipher.setAAD(objectSalt);
  const wrapped = Buffer.concat([cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  return { fingerprint: recipientFingerprintBytes(recipientRaw), ephemeralPublicKey: ephemeralPublic, wrappedKey: wrapped };
}

/** The data key from a stanza, or undefined when this identity cannot open it (wrong identity or tampered). */
export function unwrapDataKey(stanza: RecipientStanza, identity: Identity, objectSalt: Buffer): Buffer | undefined {
  const secret = sharedSecret(identity.privateKey, stanza.ephemeralPublicKey);
  if (!secret) return undefined;
  const decipher = createDecipheriv('aes-256-gcm', wrapKey(secret, stanza.ephemeralPublicKey, identity.publicRaw), WRAP_NONCE);
  decipher.setAAD(objectSalt);
  decipher.setAuthTag(stanza.wrappedKey.subarray(KEY_BYTES, KEY_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(stanza.wrappedKey.subarray(0, KEY_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}
