// Entry of the single executable and the .deb (scripts/release/bundle.mjs bundles it with the
// whole CLI): what bin/mongo-backup does for the npm install, minus the Node version check (the
// executable carries its own Node 24).
import { setFlagsFromString } from 'node:v8';
import { main } from '../../src/cli.js';

// Same V8 setting as bin/mongo-backup, for the same reason (docs/PERFORMANCE.md).
setFlagsFromString('--semi-space-growth-factor=1');

main(process.argv).then((code) => {
  process.exitCode = code;
});
