import { it } from 'vitest';
import SftpClient from 'ssh2-sftp-client';
import { readFile } from 'node:fs/promises';
import { peerOrSkip, sftpConnectOptions } from '../setup/testbed.js';
import { createTarget } from '../../src/targets/registry.js';
import { pseudoRandomStream, hashStream } from './streams.js';

it('bench', async (ctx) => {
  const peer = peerOrSkip('sftp', ctx);
  const key = await readFile(peer.privateKeyPath);
  for (const cipher of [undefined, ['aes128-gcm@openssh.com'], ['aes128-ctr'], ['chacha20-poly1305@openssh.com']]) {
    const c = new SftpClient('x', { error: () => {}, end: () => {}, close: () => {} });
    let t = performance.now();
    let negotiated = '';
    await c.connect({ ...sftpConnectOptions(peer, key), ...(cipher ? { algorithms: { cipher } } : {}), debug: (m: string) => { if (/cipher|Handshake/i.test(m)) negotiated += m + ' | '; } } as any);
    console.log('connect ms', Math.round(performance.now() - t), cipher, negotiated.slice(0, 300));
    await c.end();
  }
  const target = createTarget({ name: 'v', type: 'sftp', host: peer.host, port: peer.port, username: peer.username, privateKey: peer.privateKeyPath, hostFingerprint: peer.hostFingerprint, path: peer.path });
  let t = performance.now(); await target.check(); console.log('target connect', performance.now() - t);
  const size = 100 * 1024 * 1024;
  t = performance.now(); await target.save('bench.bin', pseudoRandomStream('b', size)); console.log('up MB/s', size / 1e3 / (performance.now() - t));
  t = performance.now(); await hashStream(await target.load('bench.bin')); console.log('down MB/s', size / 1e3 / (performance.now() - t));
  t = performance.now(); await hashStream(pseudoRandomStream('b', size)); console.log('gen MB/s', size / 1e3 / (performance.now() - t));
  await target.close();
});
