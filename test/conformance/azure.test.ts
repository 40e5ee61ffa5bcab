import { randomBytes } from 'node:crypto';
import { createTarget } from '../../src/targets/registry.js';
import { freePort } from '../setup/process.js';
import { peerOrSkip } from '../setup/testbed.js';
import { runTargetConformance } from './target-suite.js';

runTargetConformance(
  'azure',
  (context) => {
    const azure = peerOrSkip('azure', context);
    return createTarget({ name: 'blob', type: 'azure', prefix: 'conformance', connectionString: azure.connectionString, container: azure.container });
  },
  {
    wrongCredentials: (context) => {
      const azure = peerOrSkip('azure', context);
      const secret = randomBytes(64).toString('base64');
      const target = createTarget({ name: 'blob', type: 'azure', account: azure.accountName, accountKey: secret, endpoint: azure.blobEndpoint, container: azure.container });
      return { target, secret };
    },
    unreachable: async (context) => {
      const azure = peerOrSkip('azure', context);
      const endpoint = `http://127.0.0.1:${await freePort()}/${azure.accountName}`;
      return createTarget({ name: 'blob', type: 'azure', account: azure.accountName, accountKey: azure.accountKey, endpoint, container: azure.container });
    },
  },
);
