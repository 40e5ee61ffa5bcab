import { createTarget } from '../../src/targets/registry.js';
import { freePort } from '../setup/process.js';
import { peerOrSkip } from '../setup/testbed.js';
import { runTargetConformance } from './target-suite.js';

runTargetConformance(
  'gcs',
  (context) => {
    const gcs = peerOrSkip('gcs', context);
    return createTarget({ name: 'gcs', type: 'gcs', prefix: 'conformance/', ...gcs });
  },
  {
    wrongCredentials: 'fake-gcs-server accepts any request without credentials, so wrong credentials cannot be provoked',
    unreachable: async (context) => {
      const gcs = peerOrSkip('gcs', context);
      return createTarget({ name: 'gcs', type: 'gcs', ...gcs, apiEndpoint: `http://127.0.0.1:${await freePort()}` });
    },
  },
);
