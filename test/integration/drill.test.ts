// `drill` end to end on the test bed: a backup on a local and an S3 target is restored under a
// prefix beside the data, counted and dropped (or kept with --keep); each drill leaves a record
// beside the backup that a second host (its own state directory, the same storage) sees in `show`,
// `list` and `health`; a damaged stored object fails the drill with exit 3 and is recorded too.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peerMissingReason, seedDatabase, testbed } from '../setup/testbed.js';
import { serverAcceptsIndexNs } from './helpers.js';
import { letters, localTarget, makeWorkspace, s3Target, storedKeys, uniquePrefix, type TargetConfig, type Workspace } from './target-configs.js';

const missing = peerMissingReason('mongo') ?? peerMissingReason('s3');
if (missing && process.env['CI'] === 'true') throw new Error(`drill tests need the mongo and s3 peers: ${missing}`);

/** Collection counts of one database, `{"db.coll": n}`; empty when the database holds none. */
async function countsOf(uri: string, db: string): Promise<Record<string, number>> {
  const client = new MongoClient(uri);
  try {
    const counts: Record<string, number> = {};
    for (const { name } of await client.db(db).listCollections({}, { nameOnly: true }).toArray()) {
      counts[`${db}.${name}`] = await client.db(db).collection(name).countDocuments();
    }
    return counts;
  } finally {
    await client.close();
  }
}

async function dropDatabase(uri: string, db: string): Promise<void> {
  const client = new MongoClient(uri);
  try {
    await client.db(db).dropDatabase();
  } finally {
    await client.close();
  }
}

/** Flips one byte in the middle of a file. */
async function flipByte(path: string): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const { size } = await file.stat();
    const at = Math.floor(size / 2);
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0xff;
    await file.write(byte, 0, 1, at);
  } finally {
    await file.close();
  }
}

describe.skipIf(missing !== undefined)('drill', () => {
  let ws: Workspace;
  let secondHost: Workspace;
  let local: TargetConfig;
  let s3: TargetConfig;
  let uri: string;
  let db: string;
  let counts: Record<string, number>;
  let backupId: string;
  let restoreArgs: string[];

  beforeAll(async () => {
    const bed = testbed();
    uri = bed.mongo.uri;
    db = `drilling${letters(6)}`;
    counts = await seedDatabase(uri, db, { people: 300, orders: 120 });
    restoreArgs = (await serverAcceptsIndexNs(uri)) ? [] : ['--noIndexRestore'];
    ws = await makeWorkspace('drill', bed.mongo);
    local = localTarget('local', join(ws.dir, 'local'));
    s3 = s3Target('s3', bed.s3, uniquePrefix('drill'));
    await ws.writeConfig({ targets: [local, s3], mongodb: { uri, mongodump: bed.mongo.mongodump, mongorestore: bed.mongo.mongorestore, restoreArgs } });
    const created = await ws.run(['--json', 'create', '--db', db]);
    expect(created.code, created.stderr).toBe(0);
    backupId = created.json.backup.id;
    // The second host: the same configuration (same storage, same key), a state directory of its own.
    secondHost = await makeWorkspace('drill-second', bed.mongo, { key: ws.key });
    await secondHost.writeConfig({ targets: [local, s3], mongodb: { uri, mongodump: bed.mongo.mongodump, mongorestore: bed.mongo.mongorestore, restoreArgs } });
  });

  afterAll(async () => {
    await ws?.cleanup();
    await secondHost?.cleanup();
  });

  it('restores from the local target under a prefix, counts every namespace, drops it again and records the drill there', async () => {
    const drilled = await ws.run(['--json', 'drill', 'latest', '--prefix', 'drill', '--from', 'local']);
    expect(drilled.code, drilled.stderr).toBe(0);
    const record = drilled.json.drill;
    expect(record.result).toEqual({ passed: true });
    expect(record.target).toBe('local');
    expect(record.backupId).toBe(backupId);
    expect(Object.fromEntries(record.namespaces.map((n: { destination: string; restored: number }) => [n.destination, n.restored]))).toEqual(
      Object.fromEntries(Object.entries(counts).map(([ns, n]) => [`drill${ns}`, n])),
    );
    expect(record.namespaces.every((n: { expected: number; restored: number }) => n.expected === n.restored)).toBe(true);
    expect(record.phases.restoreMs).toBeGreaterThan(0);
    expect(record.parallelism.collections).toBeGreaterThanOrEqual(1);
    // Dropped again, and the source untouched.
    expect(await countsOf(uri, `drill${db}`)).toEqual({});
    expect(await countsOf(uri, db)).toEqual(counts);
    expect(await storedKeys(local, `${backupId}/drills/`)).toEqual([drilled.json.drill.recordKey ?? expect.stringMatching(/^backup-.*\/drills\/.*\.json$/)]);
    // The record names the stored object's checksum from the manifest.
    const shown = await ws.run(['--json', 'show', backupId]);
    expect(record.objects).toEqual([expect.objectContaining({ backupId, checksum: shown.json.backup.checksum })]);
  });

  it('with --keep, leaves the restored namespaces on the server; from S3 the record goes to S3', async () => {
    const drilled = await ws.run(['--json', 'drill', backupId, '--prefix', 'kept', '--from', 's3', '--keep', '--parallel-collections', '2', '--insertion-workers', '1']);
    expect(drilled.code, drilled.stderr).toBe(0);
    expect(drilled.json.drill.target).toBe('s3');
    expect(drilled.json.drill.kept).toBe(true);
    expect(drilled.json.drill.parallelism).toEqual({ collections: 2, insertionWorkers: 1 });
    expect(await countsOf(uri, `kept${db}`)).toEqual(Object.fromEntries(Object.entries(counts).map(([ns, n]) => [`kept${ns}`, n])));
    await dropDatabase(uri, `kept${db}`);
    expect(await storedKeys(s3, `${backupId}/drills/`)).toHaveLength(1);
  });

  it('tells a person what was proven, how long each phase took and where the record is', async () => {
    const drilled = await ws.run(['drill', 'latest', '--prefix', 'human', '--from', 'local']);
    expect(drilled.code, drilled.stderr).toBe(0);
    expect(drilled.stdout).toMatch(new RegExp(`✔ backup ${backupId} proven restorable from local: .+ for .+`));
    expect(drilled.stdout).toMatch(/phases: check .+, verify .+, restore .+, count .+, drop .+/);
    expect(drilled.stdout).toMatch(new RegExp(`recorded as ${backupId}/drills/.+\\.json on local`));
    const listed = await ws.run(['list']);
    expect(listed.stdout).toMatch(new RegExp(`${backupId}  proven restorable \\d{4}-\\d{2}-\\d{2} on local`));
    const health = await ws.run(['health']);
    expect(health.stdout).toMatch(/Last passed drill: +\d{4}-.+ on local/);
    expect(health.stdout).toMatch(/RTO estimate: +.+ for the newest backup/);
  });

  it('refuses to restore into the source without a prefix or a scratch server, and a prefix onto namespaces that hold documents', async () => {
    const bare = await ws.run(['drill', 'latest']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('--uri SCRATCH or --prefix P');
    const sameServer = await ws.run(['drill', 'latest', '--uri', uri]);
    expect(sameServer.code).toBe(2);
    expect(sameServer.stderr).toContain('configured source server');
    await seedDatabase(uri, `busy${db}`, { people: 1 });
    const occupied = await ws.run(['drill', 'latest', '--prefix', 'busy', '--from', 'local']);
    expect(occupied.code, occupied.stderr).toBe(2);
    expect(occupied.stderr).toContain('refusing to restore into namespaces that already hold documents');
    // A refusal says nothing about the backup: it leaves no drill record.
    expect((await ws.run(['--json', 'show', backupId])).json.backup.drills.every((d: { passed: boolean }) => d.passed)).toBe(true);
    expect(await countsOf(uri, `busy${db}`)).toEqual({ [`busy${db}.people`]: 1 });
    await dropDatabase(uri, `busy${db}`);
  });

  it('a second host with a fresh state directory sees the drills in show, list and health', async () => {
    const shown = await secondHost.run(['--json', 'show', backupId]);
    expect(shown.code, shown.stderr).toBe(0);
    const drills = shown.json.backup.drills as Array<{ target: string; passed: boolean; trusted: boolean }>;
    expect(drills.map((d) => d.target).sort()).toEqual(expect.arrayContaining(['local', 's3']));
    expect(drills.every((d) => d.passed && d.trusted)).toBe(true);
    const human = await secondHost.run(['show', backupId]);
    expect(human.stdout).toMatch(/proven restorable \d{4}-\d{2}-\d{2} on (local|s3), .+ for /);

    const listed = await secondHost.run(['--json', 'list']);
    expect(listed.json.count).toBe(1);
    expect(listed.json.backups[0].drill).toEqual(expect.objectContaining({ passed: true, trusted: true }));

    const health = await secondHost.run(['--json', 'health']);
    expect(health.json.health.metrics.drills.lastPassed).toEqual(expect.objectContaining({ backupId }));
    expect(health.json.health.metrics.drills.rto.seconds).toBeGreaterThan(0);
    expect(health.json.health.issues.map((i: { type: string }) => i.type)).not.toContain('drill_overdue');
  });

  it('warns when the RTO estimate passes a small rtoHours', async () => {
    await secondHost.writeConfig({ targets: [local, s3], health: { rtoHours: 0.000001 } });
    const health = await secondHost.run(['--json', 'health']);
    expect(health.json.health.issues).toEqual(expect.arrayContaining([expect.objectContaining({ level: 'WARNING', type: 'rto_exceeded' })]));
    expect(health.code).toBe(1);
  });

  it('a damaged stored object fails the drill with exit 3, leaves nothing restored and records the failure', async () => {
    const damaged = await ws.run(['--json', 'create', '--db', db, '--target', 'local']);
    expect(damaged.code, damaged.stderr).toBe(0);
    const id = damaged.json.backup.id as string;
    await flipByte(join(local['path'] as string, id, damaged.json.backup.object as string));
    const drilled = await ws.run(['--json', 'drill', id, '--prefix', 'broken']);
    expect(drilled.code, drilled.stderr).toBe(3);
    expect(drilled.json.success).toBe(false);
    expect(drilled.json.error.details.drill.result).toEqual(expect.objectContaining({ passed: false, code: drilled.json.error.code }));
    expect(drilled.json.error.details.recordKey).toMatch(new RegExp(`^${id}/drills/.+\\.json$`));
    expect(await countsOf(uri, `broken${db}`)).toEqual({});
    const records = await storedKeys(local, `${id}/drills/`);
    expect(records).toHaveLength(1);
    const shown = await ws.run(['--json', 'show', id]);
    expect(shown.json.backup.drills).toEqual([expect.objectContaining({ passed: false, trusted: true, code: expect.stringMatching(/CHECKSUM_MISMATCH|AUTH_FAILED|INTEGRITY|ARCHIVE_CORRUPT/) })]);
  });

  it('a record whose checksum no longer matches the manifest is reported as not trusted', async () => {
    const manifestPath = join(local['path'] as string, backupId, 'manifest.json');
    const { readFile, writeFile } = await import('node:fs/promises');
    const original = await readFile(manifestPath, 'utf8');
    try {
      await writeFile(manifestPath, original.replace(/"checksum": "sha256:[0-9a-f]{64}"/, `"checksum": "sha256:${'0'.repeat(64)}"`));
      const shown = await secondHost.run(['--json', 'show', backupId, '--target', 'local']);
      const drills = shown.json.backup.drills as Array<{ target: string; trusted: boolean; distrust?: string }>;
      expect(drills.length).toBeGreaterThan(0);
      expect(drills).toEqual(drills.map(() => expect.objectContaining({ target: 'local', trusted: false, distrust: expect.stringContaining('the manifest now says') })));
      expect((await secondHost.run(['show', backupId, '--target', 'local'])).stdout).toContain('NOT TRUSTED');
    } finally {
      await writeFile(manifestPath, original);
    }
  });

  it('delete removes the drill records with the backup', async () => {
    const deleted = await ws.run(['delete', backupId, '--yes']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(await storedKeys(local, `${backupId}/`)).toEqual([]);
    expect(await storedKeys(s3, `${backupId}/`)).toEqual([]);
  });
});
