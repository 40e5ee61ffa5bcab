import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createEncryptStream,
  ENCRYPTION_HEADER_MAX_BYTES,
  generateIdentity,
  parseEncryptionHeader,
  parseIdentities,
  parseRecipient,
  recipientFingerprint,
  recipientOf,
} from '../../src/crypto/index.js';
import { BackupError } from '../../src/errors.js';
import { decodeWithIdentity } from './crypto-reference-decoder.js';
import { decrypt, encrypt, flipBit, layoutOf, plaintextOf, runThrough } from './crypto-helpers.js';

const CHUNK = 4096;
const alice = generateIdentity();
const bob = generateIdentity();
const mallory = generateIdentity();
const plaintext = plaintextOf(3 * CHUNK + 123, 77);

function errorOf(action: () => unknown): BackupError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(BackupError);
    return error as BackupError;
  }
  throw new Error('expected an error');
}

describe('key encodings', () => {
  it('generates one-line, YAML-safe keys whose public half can be recomputed from the private one', () => {
    expect(alice.recipient).toMatch(/^mbpub1[A-Za-z0-9_-]+$/);
    expect(alice.identity).toMatch(/^mbsec1[A-Za-z0-9_-]+$/);
    expect(recipientOf(alice.identity)).toBe(alice.recipient);
    expect(alice.recipient).not.toBe(bob.recipient);
    expect(recipientFingerprint(alice.recipient)).toMatch(/^rf1:[0-9a-f]{16}$/);
    expect(recipientFingerprint(alice.recipient)).not.toBe(recipientFingerprint(bob.recipient));
  });

  it('catches a key damaged in copy-paste (checksum) without echoing it', () => {
    const last = alice.recipient.at(-1) === 'A' ? 'B' : 'A';
    const damaged = alice.recipient.slice(0, -1) + last;
    expect(errorOf(() => parseRecipient(damaged)).code).toBe('CONFIG_INVALID');
    expect(errorOf(() => parseRecipient(alice.identity)).message).not.toContain(alice.identity);
    expect(errorOf(() => parseRecipient('mbpub1short')).code).toBe('CONFIG_INVALID');
  });

  it('reads identity files with comments, blank lines and CRLF line ends', () => {
    const file = `# backup identities\r\n\r\n${alice.identity}\r\n  # old one:\n${bob.identity}\n`;
    expect(parseIdentities(file)).toEqual([alice.identity, bob.identity]);
  });

  it('rejects identity files with a bad line (naming the line, not its text) or no identity', () => {
    const badLine = `# ok\n${alice.identity}\n${bob.identity.slice(0, -2)}\n`;
    const error = errorOf(() => parseIdentities(badLine));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('line 3');
    expect(error.message).not.toContain(bob.identity.slice(0, -2));
    expect(errorOf(() => parseIdentities('# nothing here\n\n')).code).toBe('CONFIG_INVALID');
    expect(errorOf(() => parseIdentities(alice.recipient)).code).toBe('CONFIG_INVALID');
  });
});

describe('recipients round trips', () => {
  it('one recipient: the identity decrypts, the header lists the recipient fingerprint', async () => {
    const stream = createEncryptStream({ recipients: [alice.recipient], chunkSize: CHUNK });
    const { output: stored } = await runThrough(stream, [plaintext]);
    expect(stream.info()).toEqual({
      algorithm: 'AES-256-GCM-STREAM',
      formatVersion: 1,
      mode: 'recipients',
      chunkSize: CHUNK,
      recipients: [recipientFingerprint(alice.recipient)],
      salt: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(parseEncryptionHeader(stored)).toEqual(stream.info());
    const { output, error } = await decrypt(stored, { identities: [alice.identity] });
    expect(error).toBeUndefined();
    expect(output.equals(plaintext)).toBe(true);
  });

  it('two recipients: each identity alone decrypts, and so does an identity file holding a stranger first', async () => {
    const stored = await encrypt(plaintext, { recipients: [alice.recipient, bob.recipient], chunkSize: CHUNK });
    for (const identities of [[alice.identity], [bob.identity], [mallory.identity, bob.identity]]) {
      const { output, error } = await decrypt(stored, { identities });
      expect(error).toBeUndefined();
      expect(output.equals(plaintext)).toBe(true);
    }
  });

  it('empty plaintext and the default chunk size', async () => {
    for (const data of [Buffer.alloc(0), plaintextOf(1024 * 1024 + 1, 5)]) {
      const stored = await encrypt(data, { recipients: [alice.recipient] });
      const { output, error } = await decrypt(stored, { identities: [alice.identity] });
      expect(error).toBeUndefined();
      expect(output.equals(data)).toBe(true);
    }
  });

  it('the largest header (255 recipients) fits in ENCRYPTION_HEADER_MAX_BYTES; 256 are refused', async () => {
    const many = Array.from({ length: 256 }, () => generateIdentity());
    const recipients = many.slice(0, 255).map((pair) => pair.recipient);
    const stored = await encrypt(Buffer.from('x'), { recipients, chunkSize: CHUNK });
    const info = parseEncryptionHeader(stored.subarray(0, ENCRYPTION_HEADER_MAX_BYTES));
    expect(info.recipients).toHaveLength(255);
    const { output } = await decrypt(stored, { identities: [many[254]!.identity] });
    expect(output.toString()).toBe('x');
    expect(() => createEncryptStream({ recipients: many.map((pair) => pair.recipient) })).toThrow(/at most 255/);
  });

  it('a recipient listed twice is wrapped once', async () => {
    const stream = createEncryptStream({ recipients: [alice.recipient, ` ${alice.recipient} `], chunkSize: CHUNK });
    expect(stream.info().recipients).toHaveLength(1);
    stream.destroy();
  });

  it('an independent decoder written from docs/FORMAT.md decrypts it too', async () => {
    const stored = await encrypt(plaintext, { recipients: [alice.recipient, bob.recipient], chunkSize: CHUNK });
    expect(decodeWithIdentity(stored, bob.identity).equals(plaintext)).toBe(true);
  });

  it('two encryptions differ, and no private key or plaintext shows in the stored bytes', async () => {
    const first = await encrypt(plaintext, { recipients: [alice.recipient], chunkSize: CHUNK });
    const second = await encrypt(plaintext, { recipients: [alice.recipient], chunkSize: CHUNK });
    expect(first.equals(second)).toBe(false);
    const alicePrivate = Buffer.from(alice.identity.slice('mbsec1'.length), 'base64url').subarray(0, 32);
    expect(first.includes(alicePrivate)).toBe(false);
    expect(first.includes(plaintext.subarray(0, 32))).toBe(false);
  });
});

describe('recipients: missing, wrong and tampered keys', () => {
  it('a host with only public keys cannot decrypt: IDENTITY_MISSING names the recipients', async () => {
    const stored = await encrypt(plaintext, { recipients: [alice.recipient, bob.recipient], chunkSize: CHUNK });
    const { output, error } = await decrypt(stored, {});
    expect(error?.code).toBe('IDENTITY_MISSING');
    expect(error?.exitCode).toBe(2);
    expect(error?.message).toContain(recipientFingerprint(alice.recipient));
    expect(error?.message).toContain(recipientFingerprint(bob.recipient));
    expect(output.length).toBe(0);
    // a symmetric key is no substitute for an identity
    expect((await decrypt(stored, { key: randomBytes(32) })).error?.code).toBe('IDENTITY_MISSING');
  });

  it('a symmetric object with only identities configured: KEY_MISSING', async () => {
    const stored = await encrypt(plaintext, { key: randomBytes(32), chunkSize: CHUNK });
    expect((await decrypt(stored, { identities: [alice.identity] })).error?.code).toBe('KEY_MISSING');
  });

  it('a wrong identity: WRONG_KEY before any output', async () => {
    const stored = await encrypt(plaintext, { recipients: [alice.recipient], chunkSize: CHUNK });
    const { output, error } = await decrypt(stored, { identities: [mallory.identity] });
    expect(error?.code).toBe('WRONG_KEY');
    expect(error?.exitCode).toBe(3);
    expect(error?.message).toContain(recipientFingerprint(alice.recipient));
    expect(output.length).toBe(0);
  });

  describe('tampering with the header', () => {
    const stanzaBytes = 88; // fingerprint 8 + ephemeral key 32 + wrapped key 48 (docs/FORMAT.md)
    const countOffset = 43; // the recipient count follows the 43-byte fixed header part
    let stored: Buffer;
    let headerBytes: number;
    beforeAll(async () => {
      stored = await encrypt(plaintext, { recipients: [alice.recipient, bob.recipient], chunkSize: CHUNK });
      headerBytes = layoutOf(stored, plaintext.length, CHUNK).headerBytes;
    });
    const firstStanza = () => headerBytes - 2 * stanzaBytes;
    const secondStanza = () => headerBytes - stanzaBytes;

    const cases: Array<[string, () => number, string]> = [
      ["alice's wrapped key", () => firstStanza() + 8 + 32 + 5, alice.identity],
      ["alice's wrapped-key tag", () => firstStanza() + stanzaBytes - 1, alice.identity],
      ["alice's ephemeral public key", () => firstStanza() + 8 + 3, alice.identity],
      ["alice's fingerprint", () => firstStanza() + 2, alice.identity],
      ["bob's wrapped key, read by alice", () => secondStanza() + 60, alice.identity],
      ['the salt', () => 20, bob.identity],
    ];
    for (const [what, offset, identity] of cases) {
      it(`${what}: AUTH_FAILED, no output`, async () => {
        const { output, error } = await decrypt(flipBit(stored, offset()), { identities: [identity] });
        expect(error?.code).toBe('AUTH_FAILED');
        expect(output.length).toBe(0);
      });
    }

    it('any flipped header bit fails with exit 3 and no output', async () => {
      for (let offset = 0; offset < headerBytes; offset++) {
        const { output, error } = await decrypt(flipBit(stored, offset, offset % 8), { identities: [alice.identity] });
        expect(error?.exitCode, `byte ${offset}`).toBe(3);
        expect(output.length).toBe(0);
      }
    });

    it("a recipient's stanza removed (and the count lowered): AUTH_FAILED, no output", async () => {
      const fewer = Buffer.concat([stored.subarray(0, secondStanza()), stored.subarray(headerBytes)]);
      expect(fewer[countOffset]).toBe(2);
      fewer[countOffset] = 1;
      expect(parseEncryptionHeader(fewer).recipients).toEqual([recipientFingerprint(alice.recipient)]);
      const { output, error } = await decrypt(fewer, { identities: [alice.identity] });
      expect(error?.code).toBe('AUTH_FAILED');
      expect(output.length).toBe(0);
    });
  });
});

describe('encrypt options', () => {
  it('refuses both a key and recipients, or neither', () => {
    expect(() => createEncryptStream({ key: randomBytes(32), recipients: [alice.recipient] })).toThrow(/either/);
    expect(() => createEncryptStream({})).toThrow(BackupError);
    expect(() => createEncryptStream({ recipients: ['mbpub1nonsense'] })).toThrow(/recipient #1/);
    expect(() => createEncryptStream({ key: randomBytes(16) })).toThrow(/32 bytes/);
  });
});
