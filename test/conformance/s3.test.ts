import { createTarget } from '../../src/targets/registry.js';
import { freePort } from '../setup/process.js';
import { peerOrSkip } from '../setup/testbed.js';
import { runTargetConformance } from './target-suite.js';

runTargetConformance(
  's3',
  (context) => {
    const s3 = peerOrSkip('s3', context);
    return createTarget({ name: 'offsite', type: 's3', prefix: 'conformance/', ...s3 });
  },
  {
    wrongCredentials: (context) => {
      const s3 = peerOrSkip('s3', context);
      const secret = 'wrong-secret-for-the-conformance-test';
      return { target: createTarget({ name: 'offsite', type: 's3', ...s3, secretAccessKey: secret }), secret };
    },
    unreachable: async (context) => {
      const s3 = peerOrSkip('s3', context);
      return createTarget({ name: 'offsite', type: 's3', ...s3, endpoint: `http://127.0.0.1:${await freePort()}` });
    },
  },
);
