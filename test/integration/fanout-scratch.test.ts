import { it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { testbed, seedDatabase } from '../setup/testbed.js';
import { makeWorkspace, letters, localTarget } from './target-configs.js';

it('measure', async () => {
  const bed = testbed();
  const db = 'scratch' + letters(5);
  const db2 = 'scratch' + letters(5);
  let t = Date.now();
  const blobs = Array.from({ length: 600 }, (_, i) => ({ _id: i, payload: randomBytes(48 * 1024).toString('base64') }));
  await seedDatabase(bed.mongo.uri, db, { blobs });
  console.log('seed 600 x 64KB blobs', Date.now() - t);
  t = Date.now();
  await seedDatabase(bed.mongo.uri, db2, { docs: 3000 });
  console.log('seed 3000 docs', Date.now() - t);
  const ws = await makeWorkspace('scratch', bed.mongo);
  await ws.writeConfig({ targets: [localTarget('local', ws.dir + '/local')] });
  let r = await ws.run(['--json', 'create', '--db', db, '--compression', 'none'], { measureRss: true });
  console.log(r.code, r.ms, r.maxRssBytes, r.json?.backup?.size, r.json?.backup?.storedSize, r.stderr.slice(0, 2000));
  r = await ws.run(['--json', 'create', '--db', db2], { measureRss: true });
  console.log(r.code, r.ms, r.maxRssBytes, r.json?.backup?.size, r.json?.backup?.storedSize);
  r = await ws.run(['--json', 'list']);
  console.log(r.code, r.ms);
  r = await ws.run(['restore', 'latest', '--ns-from', `${db2}.$c$`, '--ns-to', `${db2}x.$c$`]);
  console.log(r.code, r.ms, r.stdout, r.stderr);
}, 300000);
