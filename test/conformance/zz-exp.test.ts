import { it } from 'vitest';
import { Readable } from 'node:stream';
import { peerOrSkip } from '../setup/testbed.js';
import { createTarget } from '../../src/targets/registry.js';
import { ftpConfig } from './ftp-config.js';
import { mapLimit } from './streams.js';

it('ftps tiny uploads', async (ctx) => {
  const peer = peerOrSkip('ftps', ctx);
  for (const maxConnections of [2, 4]) {
    const t = createTarget(ftpConfig(peer, { maxConnections }));
    let failures = 0; const msgs = new Set<string>();
    const s = performance.now();
    await mapLimit(Array.from({ length: 600 }, (_, i) => i), 16, async (i) => {
      try { await t.save(`tiny/${maxConnections}/${i}`, Readable.from([Buffer.from('x'.repeat(i % 17))])); } catch (e) { failures++; msgs.add((e as Error).message.slice(-120)); }
    });
    console.log('RESULT settle', process.env['X_SETTLE'], 'conns', maxConnections, 'failures', failures, Math.round(performance.now() - s), 'ms', [...msgs]);
    await t.close();
  }
});
