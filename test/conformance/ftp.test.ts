import { createTarget } from '../../src/targets/registry.js';
import { freePort } from '../setup/process.js';
import { peerOrSkip } from '../setup/testbed.js';
import { ftpConfig } from './ftp-config.js';
import { secretFile } from './helpers.js';
import { ftpFolders } from './folders.js';
import { runTargetConformance } from './target-suite.js';

runTargetConformance('ftp', (context) => createTarget(ftpConfig(peerOrSkip('ftp', context))), {
  folders: (context) => ftpFolders(peerOrSkip('ftp', context), String(ftpConfig(peerOrSkip('ftp', context)).prefix)),
  wrongCredentials: async (context) => {
    const secret = 'wrong-ftp-password-for-the-conformance-test';
    return { target: createTarget(ftpConfig(peerOrSkip('ftp', context), { passwordFile: await secretFile(secret) })), secret };
  },
  unreachable: async (context) => createTarget(ftpConfig(peerOrSkip('ftp', context), { port: await freePort() })),
});
