import { it } from 'vitest';
import { readFile } from 'node:fs/promises';
import SftpClient from 'ssh2-sftp-client';
import { peerOrSkip, sftpConnectOptions } from '/work/main/test/setup/testbed.js';
import { randomPayload, sha256Of } from '/work/main/test/smoke/payload.js';
it('bench', async (ctx) => {
  const sftp = peerOrSkip('sftp', ctx);
  const p = randomPayload();
  const c = new SftpClient();
  await c.connect(sftpConnectOptions(sftp, await readFile(sftp.privateKeyPath)));
  let t = Date.now(); await c.put(p.stream(), sftp.path + '/a.bin'); console.log('put stream', Date.now() - t);
  t = Date.now(); await c.put(p.bytes, sftp.path + '/b.bin'); console.log('put buffer', Date.now() - t);
  t = Date.now(); const s = c.createReadStream(sftp.path + '/a.bin'); await sha256Of(s); console.log('read stream', Date.now() - t);
  t = Date.now(); await c.get(sftp.path + '/a.bin'); console.log('get buffer', Date.now() - t);
  t = Date.now(); const w = await c.createWriteStream(sftp.path + '/c.bin'); await new Promise<void>((d, f) => { p.stream().pipe(w).on('close', () => d()).on('error', f); }); console.log('writestream pipe', Date.now() - t);
  await c.end();
});
