// Every target factory validates its configuration before any work, naming the bad key
// (CONFIG_INVALID, exit 2), and keeps secrets out of what it reports.
import { describe, expect, it } from 'vitest';
import { BackupError, ErrorCodes, redactSecrets } from '../../src/errors.js';
import { createTarget, targetTypes } from '../../src/targets/registry.js';
import type { TargetConfigBase } from '../../src/targets/types.js';
import { randomFingerprint, secretFile } from './helpers.js';

function configError(config: TargetConfigBase): BackupError {
  try {
    createTarget(config);
  } catch (error) {
    expect(error).toBeInstanceOf(BackupError);
    return error as BackupError;
  }
  throw new Error(`expected ${JSON.stringify(config)} to be refused`);
}

describe('target configuration', () => {
  it('knows every target type docs/TARGETS.md describes', () => {
    expect(targetTypes()).toEqual(['azure', 'ftp', 'gcs', 'local', 's3', 'sftp']);
  });

  it.each<[string, TargetConfigBase, string]>([
    ['s3 without a bucket', { name: 'offsite', type: 's3', region: 'eu-west-1' }, 'targets.offsite.bucket'],
    ['s3 with an unknown storage class', { name: 'offsite', type: 's3', bucket: 'b', storageClass: 'COLDEST' }, 'targets.offsite.storageClass'],
    ['s3 with a misspelt key, built directly', { name: 'offsite', type: 's3', bucket: 'b', storageclass: 'GLACIER' }, 'targets.offsite.storageclass is not a known key (did you mean storageClass?)'],
    ['s3 with an unknown sse', { name: 'offsite', type: 's3', bucket: 'b', sse: 'rot13' }, 'targets.offsite.sse'],
    ['s3 with kmsKeyId but no aws:kms', { name: 'offsite', type: 's3', bucket: 'b', sse: 'AES256', kmsKeyId: 'k' }, 'targets.offsite.kmsKeyId'],
    ['s3 with a part size below 5 MiB', { name: 'offsite', type: 's3', bucket: 'b', partSize: '1MiB' }, 'targets.offsite.partSize'],
    ['s3 with half a key pair', { name: 'offsite', type: 's3', bucket: 'b', accessKeyId: 'AKIA' }, 'targets.offsite.secretAccessKey'],
    ['gcs without a bucket', { name: 'g', type: 'gcs' }, 'targets.g.bucket'],
    ['gcs with a malformed apiEndpoint', { name: 'g', type: 'gcs', bucket: 'b', apiEndpoint: '127.0.0.1:4443' }, 'targets.g.apiEndpoint'],
    ['azure with no credentials', { name: 'blob', type: 'azure', container: 'c' }, 'targets.blob.connectionString'],
    ['azure with two kinds of credentials', { name: 'blob', type: 'azure', container: 'c', connectionString: 'x', sasUrl: 'https://a/c?sig=1' }, 'targets.blob.connectionString'],
    ['azure with an unknown access tier', { name: 'blob', type: 'azure', container: 'c', account: 'a', accountKey: 'a2V5', accessTier: 'Frozen' }, 'targets.blob.accessTier'],
    ['sftp without credentials', { name: 'vault', type: 'sftp', host: 'h', username: 'u' }, 'targets.vault.privateKey'],
    ['sftp with a missing key file', { name: 'vault', type: 'sftp', host: 'h', username: 'u', privateKey: '/nonexistent/id_ed25519' }, 'targets.vault.privateKey'],
    ['sftp with an MD5-style fingerprint', { name: 'vault', type: 'sftp', host: 'h', username: 'u', passwordFile: '/dev/null', hostFingerprint: 'aa:bb:cc' }, 'targets.vault.hostFingerprint'],
    ['ftp without a password', { name: 'f', type: 'ftp', host: 'h', user: 'u', path: '/b' }, 'targets.f.passwordFile'],
    ['ftp with a relative path', { name: 'f', type: 'ftp', host: 'h', user: 'u', password: 'p', path: 'backups' }, 'targets.f.path'],
    ['plain ftp with a CA file', { name: 'f', type: 'ftp', host: 'h', user: 'u', password: 'p', ca: '/dev/null' }, 'targets.f.ca'],
    ['ftp with a port out of range', { name: 'f', type: 'ftp', host: 'h', user: 'u', password: 'p', port: 70000 }, 'targets.f.port'],
  ])('refuses %s, naming the key', (_label, config, key) => {
    const error = configError(config);
    expect(error.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(error.message).toContain(key);
  });

  it('reads passwordFile at creation, without the trailing newline, and redacts the password everywhere', async () => {
    const password = 'ftp-password-from-a-file';
    const target = createTarget({ name: 'f', type: 'ftp', host: '127.0.0.1', user: 'u', path: '/b', passwordFile: await secretFile(password) });
    expect(target.describe()).not.toContain(password);
    expect(redactSecrets(`login with ${password} failed`)).toBe('login with *** failed');
  });

  it('describes each target by location, never by secret', () => {
    const secret = 'very-secret-access-key-0123456789';
    const targets = [
      createTarget({ name: 'offsite', type: 's3', bucket: 'b', prefix: 'prod', accessKeyId: 'AKIA', secretAccessKey: secret }),
      createTarget({ name: 'blob', type: 'azure', container: 'c', account: 'acct', accountKey: Buffer.from(secret).toString('base64') }),
      createTarget({ name: 'vault', type: 'sftp', host: 'h', username: 'u', passwordFile: '/dev/null', hostFingerprint: randomFingerprint(), path: '/srv' }),
    ];
    expect(targets.map((target) => target.describe())).toEqual(['s3://b/prod/', 'azure://acct/c/', 'sftp://u@h:22/srv']);
    for (const target of targets) expect(target.describe()).not.toContain(secret);
  });

  it('marks plain FTP and http:// endpoints as insecure transport, FTPS and TLS endpoints not', () => {
    const ftp = { name: 'f', type: 'ftp', host: 'h', user: 'u', password: 'p', path: '/b' };
    expect(createTarget(ftp).capabilities.insecureTransport).toBe(true);
    expect(createTarget({ ...ftp, secure: true }).capabilities.insecureTransport).toBe(false);
    expect(createTarget({ ...ftp, secure: 'implicit' }).capabilities.insecureTransport).toBe(false);
    expect(createTarget({ name: 'o', type: 's3', bucket: 'b', endpoint: 'http://minio:9000' }).capabilities.insecureTransport).toBe(true);
    expect(createTarget({ name: 'o', type: 's3', bucket: 'b', region: 'eu-west-1' }).capabilities.insecureTransport).toBe(false);
  });
});
