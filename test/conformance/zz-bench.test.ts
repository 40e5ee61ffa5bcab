import { it } from 'vitest';
import { peerOrSkip } from '../setup/testbed.js';
import { createTarget } from '../../src/targets/registry.js';
import { pseudoRandomStream, hashStream } from './streams.js';

it('bench', async (ctx) => {
  const peer = peerOrSkip('sftp', ctx);
  const target = createTarget({ name: 'v', type: 'sftp', host: peer.host, port: peer.port, username: peer.username, privateKey: peer.privateKeyPath, hostFingerprint: peer.hostFingerprint, path: peer.path });
  await target.check();
  const size = 100 * 1024 * 1024;
  let t = performance.now(); await target.save('bench.bin', pseudoRandomStream('b', size)); const up = size / 1e3 / (performance.now() - t);
  t = performance.now(); await hashStream(await target.load('bench.bin')); const down = size / 1e3 / (performance.now() - t);
  t = performance.now(); await hashStream(pseudoRandomStream('b', size)); const gen = size / 1e3 / (performance.now() - t);
  console.log(`RESULT chunk=${process.env['X_CHUNK']} window=${process.env['X_WINDOW']} up=${up.toFixed(0)} down=${down.toFixed(0)} gen=${gen.toFixed(0)}`);
  await target.close();
});
