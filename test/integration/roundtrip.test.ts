// The core promise, end to end through the built CLI against a real server: what `create` stored,
// `restore` (and `cat | mongorestore`) gives back — every document byte-for-byte equal in canonical
// Extended JSON, every index — for each compression mode, with and without encryption; and what
// `list`, `show` and `verify --deep` say about it matches what was dumped.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAME_BYTES } from '../../src/engine/parallel-frames.js';
import { peerMissingReason, peerOrSkip, testbed, type MongoPeer } from '../setup/testbed.js';
import {
  describeRun,
  fileSize,
  fingerprintDatabase,
  indexSpecs,
  makeWorkspace,
  newKey,
  seedEveryTypeDataset,
  serverAcceptsIndexNs,
  sha256File,
  startPrivateMongo,
  storedObjectPath,
  type CollectionFingerprint,
  type IndexSpec,
  type SeededDataset,
  type Workspace,
} from './helpers.js';

const ID_PATTERN = /^backup-\d{4}-\d{2}-\d{2}-\d{6}-[0-9a-f]{6}$/;
const INDEX_GAP =
  'the test-bed FerretDB v1.24 rejects the index option "ns" that mongorestore sends with every secondary index ' +
  '("Index option "ns" is unknown"); restores here run with --noIndexRestore until the test-bed build ignores it';

let server: Awaited<ReturnType<typeof startPrivateMongo>> | undefined;
let mongo: MongoPeer;
let ws: Workspace;
let key: string;
let indexesRestorable = false;

beforeAll(async () => {
  if (peerMissingReason('mongo') !== undefined) return;
  server = await startPrivateMongo();
  mongo = server.handle.details;
  indexesRestorable = await serverAcceptsIndexNs(mongo.uri);
  key = newKey();
  ws = await makeWorkspace({
    mongo,
    env: { BACKUP_ENCRYPTION_KEY: key },
    config: {
      mongodb: {
        uri: mongo.uri,
        mongodump: mongo.mongodump,
        mongorestore: mongo.mongorestore,
        ...(indexesRestorable ? {} : { restoreArgs: ['--noIndexRestore'] }),
      },
    },
  });
});

afterAll(async () => {
  await ws?.cleanup();
  await server?.stop();
});

/** Fingerprints (count + canonical hash) of every collection of each database. */
async function fingerprints(dbNames: string[]): Promise<Record<string, Record<string, CollectionFingerprint>>> {
  const result: Record<string, Record<string, CollectionFingerprint>> = {};
  for (const db of dbNames) result[db] = await fingerprintDatabase(mongo.uri, db);
  return result;
}

async function indexes(dbNames: string[]): Promise<Record<string, Record<string, IndexSpec[]>>> {
  const result: Record<string, Record<string, IndexSpec[]>> = {};
  for (const db of dbNames) result[db] = await indexSpecs(mongo.uri, db);
  return result;
}

/** `mongorestore --archive` from the test bed, fed `archive` on stdin. */
function mongorestoreFromStdin(archive: Buffer, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(mongo.mongorestore, [`--uri=${mongo.uri}`, '--archive', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
    child.stdin.end(archive);
  });
}

/** The manifest fields of docs/REFERENCE.md#manifest as `show --json` reports them, checked against the stored object. */
async function expectManifestView(
  view: Record<string, any>,
  expected: { id: string; description: string; compression: string; encrypted: boolean; namespaces: Record<string, number>; database?: string },
): Promise<void> {
  const object = await storedObjectPath(ws.backupsDir, expected.id);
  expect(view).toMatchObject({
    id: expected.id,
    type: 'FULL',
    status: 'COMPLETED',
    description: expected.description,
    encrypted: expected.encrypted,
    compression: { algorithm: expected.compression },
    namespaces: expected.namespaces,
    targets: ['local'],
  });
  expect(view['id']).toMatch(ID_PATTERN);
  expect(view['storedSize']).toBe(await fileSize(object));
  expect(view['checksum']).toBe(await sha256File(object));
  expect(view['size']).toBeGreaterThan(0);
  const start = Date.parse(view['startTime']);
  const end = Date.parse(view['endTime']);
  expect(start).toBeLessThanOrEqual(end);
  expect(view['duration']).toBeGreaterThanOrEqual(0);
  expect(view['duration']).toBeLessThanOrEqual(end - start + 1);
  expect(typeof view['triggeredBy']).toBe('string');
  expect(view['triggeredBy']).not.toBe('');
  const port = new URL(mongo.uri).port;
  expect(view['source']).toMatchObject({ host: `127.0.0.1:${port}`, ...(expected.database ? { database: expected.database } : {}) });
  expect(typeof view['source']['serverVersion']).toBe('string');
  expect(view['tool']).toMatchObject({ name: 'mongo-backup' });
  expect(view['tool']['version']).toMatch(/^\d+\.\d+\.\d+/);
  expect(typeof view['tool']['mongodump']).toBe('string');
  if (expected.encrypted) {
    expect(view['encryption']).toMatchObject({ mode: 'symmetric' });
    expect(view['encryption']['algorithm']).toMatch(/AES-256-GCM/);
    expect(view['encryption']['keyFingerprint']).toMatch(/\S{8,}/);
    expect(object).toMatch(/\.enc$/);
  } else {
    expect(view['encryption']).toBeNull();
    expect(object).not.toMatch(/\.enc$/);
  }
  const extensions: Record<string, string> = { zstd: '.zst', gzip: '.gz', none: '' };
  const extension = extensions[expected.compression] ?? '(unknown compression)';
  expect(object.replace(/\.enc$/, '')).toMatch(new RegExp(`dump\\.archive${extension.replace('.', '\\.')}$`));
  // The key never appears, in any spelling.
  const text = JSON.stringify(view);
  expect(text).not.toContain(key);
  expect(text).not.toContain(Buffer.from(key, 'hex').toString('base64'));
}

describe('round trip: the full dataset (zstd + encryption)', () => {
  const databases = ['rtalpha', 'rtbeta', 'rtgamma'];
  const copies = databases.map((db) => `${db}copy`);
  let seeded: SeededDataset;
  let sourcePrints: Awaited<ReturnType<typeof fingerprints>>;
  let backupId = '';
  let restored = false;

  it('backs up several databases, 54 collections, every supported BSON type and a 10 MB document, and restores them under new names unchanged', async (ctx) => {
    peerOrSkip('mongo', ctx);
    seeded = await seedEveryTypeDataset(mongo.uri, {
      databases,
      collectionsPerDb: 18,
      documentsPerCollection: 8,
      bigDocument: true,
      indexes: true,
      kind: testbed().mongo.kind,
    });
    expect(Object.keys(seeded.namespaces).length).toBeGreaterThanOrEqual(50);
    sourcePrints = await fingerprints(databases);

    const created = await ws.run(['--json', 'create', '--description', 'round trip: everything', '--compression', 'zstd']);
    expect(created.code, describeRun(created)).toBe(0);
    const backup = created.json().backup;
    backupId = backup.id;
    expect(backup).toMatchObject({ status: 'COMPLETED', encrypted: true, namespaces: seeded.namespaces, verified: true });
    // The 10 MB document went through whole: the archive is bigger than it, the stored object too (random bytes).
    expect(backup.size).toBeGreaterThan(9_900_000);
    expect(backup.storedSize).toBeGreaterThan(9_900_000);

    const restore = await ws.run(['--json', 'restore', backupId, '--ns-from', '$db$.$c$', '--ns-to', '$db$copy.$c$']);
    expect(restore.code, describeRun(restore)).toBe(0);
    expect(restore.json()).toMatchObject({ success: true, result: { success: true, backupId } });
    expect(Date.parse(restore.json().result.restoredAt)).not.toBeNaN();
    restored = true;

    const copyPrints = await fingerprints(copies);
    databases.forEach((db, i) => expect(copyPrints[copies[i]!], `${db} → ${copies[i]}`).toEqual(sourcePrints[db]));
    // The big document really is in the copy (not just a matching count).
    expect(copyPrints['rtalphacopy']!['big']).toEqual(sourcePrints['rtalpha']!['big']);
  });

  it('restores the secondary indexes: unique and compound (and TTL on a real mongod)', async (ctx) => {
    peerOrSkip('mongo', ctx);
    if (!restored) ctx.skip('the restore above failed');
    if (!indexesRestorable) ctx.skip(INDEX_GAP);
    const source = await indexes(databases);
    const copy = await indexes(copies);
    databases.forEach((db, i) => expect(copy[copies[i]!], `${db} → ${copies[i]}`).toEqual(source[db]));
    // The comparison is not vacuous: the source has the indexes the dataset made.
    const alphaItems = source['rtalpha']!['items00']!.map((spec) => spec.name);
    expect(alphaItems).toEqual(expect.arrayContaining(['sku_unique', 'region_rank', ...(testbed().mongo.kind === 'mongod' ? ['expires_ttl'] : [])]));
    expect(source['rtalpha']!['items00']!.find((spec) => spec.name === 'sku_unique')).toMatchObject({ key: { sku: 1 }, unique: true });
    expect(source['rtalpha']!['items00']!.find((spec) => spec.name === 'region_rank')).toMatchObject({ key: { region: 1, rank: -1 } });
  });

  it('list --json and show latest --json report the documented manifest (docs/REFERENCE.md#manifest)', async (ctx) => {
    peerOrSkip('mongo', ctx);
    if (!backupId) ctx.skip('no backup was made');
    const list = await ws.run(['--json', 'list']);
    expect(list.code, describeRun(list)).toBe(0);
    const listed = list.json();
    expect(listed).toMatchObject({ success: true, count: 1 });
    expect(listed.backups).toHaveLength(1);
    expect(listed.backups[0]).toMatchObject({ id: backupId, status: 'COMPLETED', targets: ['local'] });

    const show = await ws.run(['--json', 'show', 'latest']);
    expect(show.code, describeRun(show)).toBe(0);
    expect(show.json()['success']).toBe(true);
    await expectManifestView(show.json().backup, {
      id: backupId,
      description: 'round trip: everything',
      compression: 'zstd',
      encrypted: true,
      namespaces: seeded.namespaces,
    });
    expect(show.json().backup).toEqual(expect.objectContaining({ ...listed.backups[0], verified: expect.any(Boolean) }));
  });

  it('verify latest --deep --json proves the archive whole, with the manifest counts', async (ctx) => {
    peerOrSkip('mongo', ctx);
    if (!backupId) ctx.skip('no backup was made');
    const verify = await ws.run(['--json', 'verify', 'latest', '--deep']);
    expect(verify.code, describeRun(verify)).toBe(0);
    const result = verify.json().result;
    expect(result).toMatchObject({ valid: true, issues: [] });
    expect(result.copies).toEqual([expect.objectContaining({ backupId, target: 'local', deep: true, valid: true })]);
    // A replica-set member's full backup carries its oplog as one more namespace (docs/PITR.md),
    // as many entries as the manifest records.
    const { oplog: oplogEntries, ...collections } = result.copies[0].namespaces as Record<string, number>;
    expect(collections).toEqual(seeded.namespaces);
    const manifest = (await ws.run(['--json', 'show', backupId])).json().backup;
    expect(oplogEntries).toBe(manifest.oplog?.entries);
  });

  it('cat latest | mongorestore --archive restores the same data', async (ctx) => {
    peerOrSkip('mongo', ctx);
    if (!backupId) ctx.skip('no backup was made');
    const cat = await ws.run(['cat', 'latest']);
    expect(cat.code, describeRun(cat)).toBe(0);
    const manifest = (await ws.run(['--json', 'show', backupId])).json().backup;
    expect(cat.stdoutBytes.length).toBe(manifest.size);
    expect(`sha256:${createHash('sha256').update(cat.stdoutBytes).digest('hex')}`).toBe(manifest.archiveChecksum);
    // A mongodump archive starts with its magic number, little-endian.
    expect(cat.stdoutBytes.readUInt32LE(0)).toBe(0x8199e26d);

    const restore = await mongorestoreFromStdin(cat.stdoutBytes, ['--nsFrom=$db$.$c$', '--nsTo=$db$cat.$c$', ...(indexesRestorable ? [] : ['--noIndexRestore'])]);
    expect(restore.code, restore.stderr).toBe(0);
    const catPrints = await fingerprints(databases.map((db) => `${db}cat`));
    for (const db of databases) expect(catPrints[`${db}cat`], `${db} → ${db}cat`).toEqual(sourcePrints[db]);
  });
});

describe('round trip: every other compression × encryption combination (small dataset)', () => {
  const combinations = [
    { compression: 'zstd', encrypted: false },
    { compression: 'gzip', encrypted: true },
    { compression: 'gzip', encrypted: false },
    { compression: 'none', encrypted: true },
    { compression: 'none', encrypted: false },
  ] as const;
  const restoredCopies: Array<{ db: string; copy: string }> = [];

  it.for(combinations)('compression $compression, encrypted $encrypted: create --db, restore elsewhere, verify --deep', async ({ compression, encrypted }, ctx) => {
    peerOrSkip('mongo', ctx);
    const db = `small${compression}${encrypted ? 'enc' : 'plain'}`;
    const copy = `${db}copy`;
    const seeded = await seedEveryTypeDataset(mongo.uri, {
      databases: [db],
      collectionsPerDb: 3,
      documentsPerCollection: 25,
      bigDocument: false,
      indexes: true,
      kind: testbed().mongo.kind,
    });
    const description = `small ${compression} ${encrypted ? 'encrypted' : 'plain'}`;
    const created = await ws.run([
      '--json',
      'create',
      '--db',
      db,
      '--compression',
      compression,
      '--description',
      description,
      ...(encrypted ? [] : ['--no-encrypt']),
    ]);
    expect(created.code, describeRun(created)).toBe(0);
    const id: string = created.json().backup.id;

    const show = await ws.run(['--json', 'show', id]);
    expect(show.code, describeRun(show)).toBe(0);
    await expectManifestView(show.json().backup, { id, description, compression, encrypted, namespaces: seeded.namespaces, database: db });

    const restore = await ws.run(['--json', 'restore', id, '--ns-from', `${db}.$c$`, '--ns-to', `${copy}.$c$`]);
    expect(restore.code, describeRun(restore)).toBe(0);
    expect(await fingerprintDatabase(mongo.uri, copy)).toEqual(await fingerprintDatabase(mongo.uri, db));
    restoredCopies.push({ db, copy });

    const verify = await ws.run(['--json', 'verify', id, '--deep']);
    expect(verify.code, describeRun(verify)).toBe(0);
    expect(verify.json().result.copies[0]).toMatchObject({ valid: true, namespaces: seeded.namespaces });
  });

  it('restores the unique and compound indexes in every combination', async (ctx) => {
    peerOrSkip('mongo', ctx);
    if (restoredCopies.length === 0) ctx.skip('no combination was restored');
    if (!indexesRestorable) ctx.skip(INDEX_GAP);
    for (const { db, copy } of restoredCopies) {
      const source = await indexSpecs(mongo.uri, db);
      expect(source['items00']!.map((spec) => spec.name)).toEqual(expect.arrayContaining(['sku_unique', 'region_rank']));
      expect(await indexSpecs(mongo.uri, copy), `${db} → ${copy}`).toEqual(source);
    }
  });
});

describe('round trip: gzip in several members', () => {
  it.for([false, true])('an archive of several FRAME_BYTES frames (the 10 MB document), encrypted %s: create --compression gzip, restore elsewhere, verify --deep', async (encrypted, ctx) => {
    peerOrSkip('mongo', ctx);
    const db = `gzmembers${encrypted ? 'enc' : 'plain'}`;
    const copy = `${db}copy`;
    const seeded = await seedEveryTypeDataset(mongo.uri, {
      databases: [db],
      collectionsPerDb: 2,
      documentsPerCollection: 8,
      bigDocument: true,
      indexes: false,
      kind: testbed().mongo.kind,
    });
    const created = await ws.run(['--json', 'create', '--db', db, '--compression', 'gzip', ...(encrypted ? [] : ['--no-encrypt'])]);
    expect(created.code, describeRun(created)).toBe(0);
    const backup = created.json().backup;
    expect(backup).toMatchObject({ compression: { algorithm: 'gzip', level: 6 }, namespaces: seeded.namespaces, verified: true });
    expect(backup.size).toBeGreaterThan(4 * FRAME_BYTES);

    if (!encrypted) {
      // The stored object is a plain multi-member gzip file: Debian's gzip reads it whole, and the
      // last member's ISIZE is that of the last frame alone, not of the whole archive.
      const object = await storedObjectPath(ws.backupsDir, backup.id);
      const stored = await readFile(object);
      const plain = execFileSync('gzip', ['-d', '-c'], { input: stored, maxBuffer: 256 * 1024 * 1024 });
      expect(plain.length).toBe(backup.size);
      expect(`sha256:${createHash('sha256').update(plain).digest('hex')}`).toBe(backup.archiveChecksum);
      expect(stored.readUInt32LE(stored.length - 4)).toBe(backup.size - Math.floor((backup.size - 1) / FRAME_BYTES) * FRAME_BYTES);
    }

    const restore = await ws.run(['--json', 'restore', backup.id, '--ns-from', `${db}.$c$`, '--ns-to', `${copy}.$c$`]);
    expect(restore.code, describeRun(restore)).toBe(0);
    const restoredPrints = await fingerprintDatabase(mongo.uri, copy);
    expect(restoredPrints).toEqual(await fingerprintDatabase(mongo.uri, db));
    expect(restoredPrints['big']).toBeDefined();

    const verify = await ws.run(['--json', 'verify', backup.id, '--deep']);
    expect(verify.code, describeRun(verify)).toBe(0);
    expect(verify.json().result.copies[0]).toMatchObject({ valid: true, namespaces: seeded.namespaces });
  });
});
