import { createTarget } from '../../src/targets/registry.js';
import { freePort } from '../setup/process.js';
import { peerOrSkip, type SftpPeer } from '../setup/testbed.js';
import { randomFingerprint, secretFile } from './helpers.js';
import { sftpFolders } from './folders.js';
import { runTargetConformance } from './target-suite.js';

function sftpConfig(sftp: SftpPeer, overrides: Record<string, unknown> = {}) {
  const { host, port, username, privateKeyPath, hostFingerprint, path } = sftp;
  return { name: 'vault', type: 'sftp', prefix: 'conformance', host, port, username, privateKey: privateKeyPath, hostFingerprint, path, ...overrides };
}

runTargetConformance('sftp', (context) => createTarget(sftpConfig(peerOrSkip('sftp', context))), {
  folders: (context) => sftpFolders(peerOrSkip('sftp', context), sftpConfig(peerOrSkip('sftp', context)).prefix),
  wrongCredentials: async (context) => {
    const sftp = peerOrSkip('sftp', context);
    const secret = 'wrong-sftp-password-for-the-conformance-test';
    // The peer accepts keys only: a password login is refused like a wrong key would be.
    const target = createTarget(sftpConfig(sftp, { privateKey: undefined, passwordFile: await secretFile(secret) }));
    return { target, secret };
  },
  unreachable: async (context) => createTarget(sftpConfig(peerOrSkip('sftp', context), { port: await freePort() })),
  unknownHostKey: (context) => {
    const sftp = peerOrSkip('sftp', context);
    return {
      targets: [createTarget(sftpConfig(sftp, { hostFingerprint: undefined })), createTarget(sftpConfig(sftp, { hostFingerprint: randomFingerprint() }))],
      serverFingerprint: sftp.hostFingerprint,
    };
  },
});
