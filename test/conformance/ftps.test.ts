import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import { describe, expect, it, vi } from 'vitest';
import { type BackupError, ErrorCodes } from '../../src/errors.js';
import { createTarget } from '../../src/targets/registry.js';
import { freePort } from '../setup/process.js';
import { peerOrSkip } from '../setup/testbed.js';
import { ftpConfig } from './ftp-config.js';
import { secretFile } from './helpers.js';
import { readBuffer } from './streams.js';
import { ftpFolders } from './folders.js';
import { runTargetConformance } from './target-suite.js';

runTargetConformance('ftps', (context) => createTarget(ftpConfig(peerOrSkip('ftps', context))), {
  folders: (context) => ftpFolders(peerOrSkip('ftps', context), String(ftpConfig(peerOrSkip('ftps', context)).prefix)),
  wrongCredentials: async (context) => {
    const secret = 'wrong-ftp-password-for-the-conformance-test';
    return { target: createTarget(ftpConfig(peerOrSkip('ftps', context), { passwordFile: await secretFile(secret) })), secret };
  },
  unreachable: async (context) => createTarget(ftpConfig(peerOrSkip('ftps', context), { port: await freePort() })),
});

describe('ftps certificates', () => {
  it('refuses a self-signed certificate that is not trusted, saying how to trust it', async (context) => {
    const target = createTarget(ftpConfig(peerOrSkip('ftps', context), { ca: undefined }));
    context.onTestFinished(() => target.close());
    const error = await target.check().then(
      () => undefined,
      (e: unknown) => e as BackupError,
    );
    expect(error?.code).toBe(ErrorCodes.TARGET_AUTH);
    expect(error?.message).toMatch(/TLS certificate is not trusted/);
    expect(error?.message).toContain('targets.ftps.ca');
  });

  it('accepts the self-signed certificate with allowSelfSigned: true', async (context) => {
    const target = createTarget(ftpConfig(peerOrSkip('ftps', context), { ca: undefined, allowSelfSigned: true }));
    context.onTestFinished(() => target.close());
    await target.check();
  });
});

describe('ftps data connection failures', () => {
  /** The error vsftpd's TLS race gives (seen in CI), on the first upload only. */
  function failFirstUpload(): () => number {
    const realUpload = Client.prototype.uploadFrom;
    let calls = 0;
    const spy = vi.spyOn(Client.prototype, 'uploadFrom').mockImplementation(async function (this: Client, ...args: Parameters<Client['uploadFrom']>) {
      calls++;
      if (calls > 1) return realUpload.apply(this, args);
      const source = args[0] as Readable;
      for await (const chunk of source) void chunk; // the body is consumed, as in the real failure
      throw Object.assign(new Error('SSL routines:ssl3_read_bytes:tlsv1 alert decode error (data socket)'), { code: 'ERR_SSL_TLSV1_ALERT_DECODE_ERROR' });
    });
    return () => {
      spy.mockRestore();
      return calls;
    };
  }

  async function keysUnder(target: ReturnType<typeof createTarget>, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const info of target.list(prefix)) keys.push(info.key);
    return keys.sort();
  }

  it('uploads a small object again on a new data connection when the first one fails', async (context) => {
    const target = createTarget(ftpConfig(peerOrSkip('ftps', context)));
    context.onTestFinished(() => target.close());
    const folder = `data-retry-${randomBytes(4).toString('hex')}`;
    const body = Buffer.from(JSON.stringify({ id: 'manifest', note: 'small enough to keep in memory' }));
    const restore = failFirstUpload();
    const result = await target.save(`${folder}/manifest.json`, Readable.from([body])).finally(() => expect(restore()).toBe(2));
    expect(result.size).toBe(body.length);
    expect(await readBuffer(await target.load(`${folder}/manifest.json`))).toEqual(body);
    expect(await keysUnder(target, folder)).toEqual([`${folder}/manifest.json`]); // no temporary left
  });

  it('does not retry a large streamed object, and leaves nothing under its key', async (context) => {
    const target = createTarget(ftpConfig(peerOrSkip('ftps', context)));
    context.onTestFinished(() => target.close());
    const folder = `data-retry-${randomBytes(4).toString('hex')}`;
    const restore = failFirstUpload();
    const error = await target.save(`${folder}/archive.zst`, Readable.from([randomBytes(1024 * 1024)])).then(
      () => undefined,
      (e: unknown) => e as BackupError,
    );
    expect(restore()).toBe(1);
    expect(error?.code).toBe(ErrorCodes.TARGET_UNREACHABLE);
    expect(await keysUnder(target, folder)).toEqual([]);
  });
});
