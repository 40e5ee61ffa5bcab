import { it } from 'vitest';
import { Readable } from 'node:stream';
import { peerOrSkip } from '../setup/testbed.js';
import { createTarget } from '../../src/targets/registry.js';
import { pseudoRandomBytes } from './streams.js';

it('gcs abandon', async (ctx) => {
  const gcs = peerOrSkip('gcs', ctx);
  const t = createTarget({ name: 'g', type: 'gcs', ...gcs });
  await t.save('ab', Readable.from([pseudoRandomBytes('a', 8 * 1024 * 1024)]));
  await t.save('other', Readable.from([pseudoRandomBytes('a', 8 * 1024 * 1024)]));
  for await (const c of await t.load('ab')) { void c; break; }
  let s = performance.now();
  let r = await fetch(`${gcs.apiEndpoint}/storage/v1/b/${gcs.bucket}/o/ab?alt=media`);
  await r.arrayBuffer();
  console.log('raw download same object after abandon', Math.round(performance.now() - s));
  for await (const c of await t.load('ab')) { void c; break; }
  s = performance.now();
  r = await fetch(`${gcs.apiEndpoint}/storage/v1/b/${gcs.bucket}/o/other?alt=media`);
  await r.arrayBuffer();
  console.log('raw download other object after abandon', Math.round(performance.now() - s));
});
