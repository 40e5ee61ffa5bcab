/**
 * A deliberately separate, whole-buffer decoder written from docs/FORMAT.md alone (it imports
 * nothing from src/crypto). If it and the streaming implementation disagree, the document or
 * the code is wrong.
 */
import { createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, hkdfSync } from 'node:crypto';

const MAGIC = Buffer.from([0x4d, 0x42, 0x4b, 0x45, 0x4e, 0x43, 0x0d, 0x0a]);

function hkdf(ikm: Buffer, salt: Buffer, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

function gcmOpen(key: Buffer, nonce: Buffer, aad: Buffer, sealed: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
}

interface Header {
  length: number;
  chunkSize: number;
  salt: Buffer;
  mode: number;
}

function readHeader(object: Buffer): Header {
  if (!object.subarray(0, 8).equals(MAGIC)) throw new Error('bad magic');
  if (object[8] !== 1) throw new Error('unknown version');
  const mode = object[9]!;
  const chunkSize = 2 ** object[10]!;
  const salt = object.subarray(11, 43);
  const length = mode === 1 ? 51 : 44 + 88 * object[43]!;
  return { length, chunkSize, salt, mode };
}

function openChunks(object: Buffer, header: Header, objectKey: Buffer): Buffer {
  const okm = hkdf(objectKey, header.salt, 'mongo-backup/enc v1 payload key', 39);
  const key = okm.subarray(0, 32);
  const prefix = okm.subarray(32);
  const sealedSize = header.chunkSize + 16;
  const plain: Buffer[] = [];
  let offset = header.length;
  for (let counter = 0; ; counter++) {
    const last = object.length - offset <= sealedSize;
    const nonce = Buffer.alloc(12);
    prefix.copy(nonce, 0);
    nonce.writeUInt32BE(counter, 7);
    nonce[11] = last ? 1 : 0;
    const aad = counter === 0 ? object.subarray(0, header.length) : Buffer.alloc(0);
    const end = last ? object.length : offset + sealedSize;
    plain.push(gcmOpen(key, nonce, aad, object.subarray(offset, end)));
    if (last) return Buffer.concat(plain);
    offset = end;
  }
}

export function decodeSymmetric(object: Buffer, masterKey: Buffer): Buffer {
  const header = readHeader(object);
  if (header.mode !== 1) throw new Error('not symmetric');
  const fingerprint = hkdf(masterKey, Buffer.alloc(0), 'mongo-backup/enc v1 key fingerprint', 8);
  if (!fingerprint.equals(object.subarray(43, 51))) throw new Error('wrong key');
  return openChunks(object, header, masterKey);
}

function rawKey(text: string, prefix: string): Buffer {
  if (!text.startsWith(prefix)) throw new Error('bad prefix');
  return Buffer.from(text.slice(prefix.length), 'base64url').subarray(0, 32);
}

export function decodeWithIdentity(object: Buffer, identity: string): Buffer {
  const header = readHeader(object);
  if (header.mode !== 2) throw new Error('not recipients');
  const privateKey = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), rawKey(identity, 'mbsec1')]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const myPublic = spki.subarray(spki.length - 32);
  const myFingerprint = hkdf(myPublic, Buffer.alloc(0), 'mongo-backup/enc v1 recipient fingerprint', 8);
  for (let offset = 44; offset < header.length; offset += 88) {
    if (!object.subarray(offset, offset + 8).equals(myFingerprint)) continue;
    const ephemeral = object.subarray(offset + 8, offset + 40);
    const wrapped = object.subarray(offset + 40, offset + 88);
    const shared = diffieHellman({
      privateKey,
      publicKey: createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), ephemeral]), format: 'der', type: 'spki' }),
    });
    const wrapKey = hkdf(shared, Buffer.concat([ephemeral, myPublic]), 'mongo-backup/enc v1 x25519 wrap', 32);
    const dataKey = gcmOpen(wrapKey, Buffer.alloc(12), header.salt, wrapped);
    return openChunks(object, header, dataKey);
  }
  throw new Error('not a recipient');
}
