import { describe, expect, it } from 'vitest';
import { type BackupError, ErrorCodes } from '../../src/errors.js';
import { createTarget } from '../../src/targets/registry.js';
import { freePort } from '../setup/process.js';
import { peerOrSkip } from '../setup/testbed.js';
import { ftpConfig } from './ftp-config.js';
import { secretFile } from './helpers.js';
import { runTargetConformance } from './target-suite.js';

runTargetConformance('ftps', (context) => createTarget(ftpConfig(peerOrSkip('ftps', context))), {
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
