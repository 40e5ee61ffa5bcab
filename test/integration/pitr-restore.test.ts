// Point-in-time restore (docs/PITR.md) against the test bed's FerretDB replica set: a full backup
// and incrementals of a collection a writer keeps changing; restores to chosen moments give, document
// by document, the state the writer recorded at that moment — also from a fresh state directory.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Document, MongoClient } from 'mongodb';
import { peerOrSkip, testbed } from '../setup/testbed.js';
import type { MongoPeer } from '../setup/peers.js';
import { baseConfig, describeRun, pollUntil, withMongo, type Workspace } from './helpers.js';
import { PrivateServers, createBackup, ferretdbOrSkip, replicaSetAvailable, type BackupJson } from './pitr-fixtures.js';
import { peerOf, targetConfig, uniquePrefix, type TargetConfig } from './target-configs.js';

interface ReplayJson {
  base: string;
  increments: string[];
  notAfter?: string;
  sliceEntries: number;
  baseEntries: number;
  lastApplied?: { time: string; op: string; ns: string };
}

const servers = new PrivateServers();
afterAll(() => servers.stopAll());

/** The collection's documents, in _id order: what a restore must reproduce exactly. */
async function snapshot(client: MongoClient, db: string): Promise<Document[]> {
  return client.db(db).collection('c').find({}, { sort: { _id: 1 } }).toArray();
}

/** A moment strictly after every write so far (the server's clock is this machine's). */
async function momentAfterWrites(): Promise<number> {
  const now = Date.now();
  while (Date.now() <= now) await new Promise((resolve) => setImmediate(resolve));
  return now;
}

type Writer = (client: MongoClient, round: number) => Promise<void>;

/** Inserts, updates ($set, $unset, replace) and deletes, different each round. */
const write: Writer = async (client, round) => {
  const c = client.db('pitr').collection<{ _id: number; [field: string]: unknown }>('c');
  const base = round * 100;
  await c.insertMany(Array.from({ length: 6 }, (_, i) => ({ _id: base + i, round, n: i, tag: 'new' })));
  await c.updateOne({ _id: base }, { $set: { n: -1 } });
  await c.updateOne({ _id: base + 1 }, { $unset: { tag: '' } });
  await c.replaceOne({ _id: base + 2 }, { round, replaced: true });
  await c.deleteOne({ _id: base + 3 });
  if (round > 0) await c.updateOne({ _id: (round - 1) * 100 + 4 }, { $set: { touchedIn: round } });
};

// At least on local, S3 and SFTP: the chain is read back from each kind of storage.
describe.each(['local', 's3', 'sftp'] as const)('point-in-time restore from %s', (kind) => {
  let mongo: MongoPeer;
  let ws: Workspace;
  let target: TargetConfig;
  /** The collection's state at recorded moments. */
  const states = new Map<string, { at: number; docs: Document[] }>();
  let full: BackupJson;
  const incrementals: BackupJson[] = [];
  let ready = false;

  /** The test bed has what this kind needs; the tests themselves fail (CI) or skip (locally) otherwise. */
  const available = (): boolean => {
    const peer = peerOf(kind);
    return replicaSetAvailable() && (peer === undefined || testbed().missing[peer] === undefined);
  };
  const skipUnlessReady = (ctx: { skip(note?: string): never }): void => {
    ferretdbOrSkip(ctx);
    const peer = peerOf(kind);
    if (peer) peerOrSkip(peer, ctx);
    if (!ready) ctx.skip('needs the patched FerretDB replica set');
  };

  beforeAll(async () => {
    if (!available()) return;
    mongo = await servers.replicaSet('pitr-restore');
    ws = await servers.workspace(mongo);
    target = targetConfig(kind, kind, testbed(), { prefix: uniquePrefix(`pitr-${kind}`), localDir: ws.backupsDir });
    await ws.writeConfig({ ...baseConfig(ws, mongo), targets: [target] });
    const record = async (client: MongoClient, name: string) => states.set(name, { at: await momentAfterWrites(), docs: await snapshot(client, 'pitr') });
    const create = (args: string[]): Promise<BackupJson> => createBackup(ws, args);
    await withMongo(mongo.uri, async (client) => {
      await write(client, 0);
      await record(client, 'before full');
      full = await create([]);
      await write(client, 1);
      await record(client, 'inside first slice');
      await write(client, 2);
      await record(client, 'end of first slice');
      incrementals.push(await create(['--type', 'incremental']));
      await write(client, 3);
      incrementals.push(await create(['--type', 'incremental']));
      await write(client, 4);
      await record(client, 'inside third slice');
      await write(client, 5);
      await record(client, 'last operation');
      incrementals.push(await create(['--type', 'incremental']));
    });
    ready = true;
  });

  async function restoreTo(target: { toTime?: string; id?: string }, db: string, extra: string[] = [], workspace = ws): Promise<ReplayJson> {
    const args = ['--json', 'restore', ...(target.id ? [target.id] : ['--to-time', target.toTime!]), '--ns-include', 'pitr.*', '--ns-from', 'pitr.$c$', '--ns-to', `${db}.$c$`, ...extra];
    const result = await workspace.run(args);
    expect(result.code, describeRun(result)).toBe(0);
    return result.json<{ result: { pointInTime: ReplayJson } }>().result.pointInTime;
  }

  async function restoredEquals(db: string, state: string): Promise<void> {
    const expected = states.get(state)!.docs;
    const actual = await withMongo(mongo.uri, (client) => snapshot(client, db));
    expect(actual, `${db} = the state ${state}`).toEqual(expected);
  }

  it('restores to moments inside slices, on a slice boundary, at the last operation, and latest', async (ctx) => {
    skipUnlessReady(ctx);
    const iso = (name: string) => new Date(states.get(name)!.at).toISOString();

    const inside = await restoreTo({ toTime: iso('inside first slice') }, 'at_inside');
    expect(inside.base).toBe(full.id);
    expect(inside.increments).toEqual([incrementals[0]!.id]);
    await restoredEquals('at_inside', 'inside first slice');

    // The first incremental's own restore point: exactly its last entry.
    const boundary = await restoreTo({ toTime: incrementals[0]!.oplog!.toTime }, 'at_boundary');
    expect(boundary.increments).toEqual([incrementals[0]!.id]);
    await restoredEquals('at_boundary', 'end of first slice');

    const third = await restoreTo({ toTime: iso('inside third slice') }, 'at_third');
    expect(third.increments).toEqual(incrementals.map((b) => b.id));
    await restoredEquals('at_third', 'inside third slice');

    const last = await restoreTo({ toTime: incrementals[2]!.oplog!.toTime }, 'at_last');
    expect(last.lastApplied?.time).toBe(incrementals[2]!.oplog!.toTime);
    await restoredEquals('at_last', 'last operation');

    await restoreTo({ toTime: 'latest' }, 'at_latest');
    await restoredEquals('at_latest', 'last operation');
  });

  it('restore <incremental-id> replays its chain up to that link', async (ctx) => {
    skipUnlessReady(ctx);
    const replay = await restoreTo({ id: incrementals[0]!.id }, 'by_id');
    expect(replay).toMatchObject({ base: full.id, increments: [incrementals[0]!.id] });
    expect(replay.notAfter).toBeUndefined();
    await restoredEquals('by_id', 'end of first slice');
  });

  it('--dry-run prints the plan (base, links, entries, last operation) and writes nothing', async (ctx) => {
    skipUnlessReady(ctx);
    const moment = new Date(states.get('inside third slice')!.at).toISOString();
    const human = await ws.run(['restore', '--to-time', moment, '--ns-include', 'pitr.*', '--ns-from', 'pitr.$c$', '--ns-to', 'dry.$c$', '--dry-run']);
    expect(human.code, describeRun(human)).toBe(0);
    expect(human.stdout).toContain(`full backup ${full.id}, then ${incrementals.map((b) => b.id).join(', ')}`);
    expect(human.stdout).toMatch(/would replay the full backup's \d+ oplog entries and \d+ more, up to /);
    expect(human.stdout).toMatch(/last operation: [iud] on dry\.c at /); // named as it lands
    expect(await withMongo(mongo.uri, (client) => client.db('dry').collection('c').countDocuments())).toBe(0);
  });

  it('refuses a moment before the first restore point, naming the windows (exit 1)', async (ctx) => {
    skipUnlessReady(ctx);
    const early = new Date(states.get('before full')!.at - 60_000).toISOString();
    const result = await ws.run(['--json', 'restore', '--to-time', early, '--ns-from', 'pitr.$c$', '--ns-to', 'early.$c$']);
    expect(result.code, describeRun(result)).toBe(1);
    const error = result.json<{ error: { code: string; hint?: string } }>().error;
    expect(error.code).toBe('NOT_FOUND');
    expect(error.hint).toContain(full.oplog!.toTime);
  });

  it('restores from a fresh state directory with only the configuration (disaster recovery)', async (ctx) => {
    skipUnlessReady(ctx);
    const fresh = await servers.workspace(mongo, { config: { targets: [target] } });
    await restoreTo({ toTime: new Date(states.get('inside third slice')!.at).toISOString() }, 'dr_third', [], fresh);
    await restoredEquals('dr_third', 'inside third slice');
  });
});

/** The busy server's seeded documents start here, clear of the ids `write` uses. */
const SEEDED = 50_000;
const SEEDED_COUNT = 1500;

// The test bed's FerretDB scans its whole oplog for every oplog query, and these tests make a long
// one: each backup here takes seconds, so they get more time than the default.
describe('point-in-time restore: a busy server and a killed incremental', { timeout: 300_000 }, () => {
  let mongo: MongoPeer;
  let ws: Workspace;
  let ready = false;

  beforeAll(async () => {
    if (!replicaSetAvailable()) return;
    mongo = await servers.replicaSet('pitr-busy');
    ws = await servers.workspace(mongo);
    await withMongo(mongo.uri, async (client) => {
      const c = client.db('pitr').collection<{ _id: number; [field: string]: unknown }>('c');
      // Few, biggish documents: the test bed's server scans its oplog for every oplog query, so a
      // long oplog (one entry per document) would make each backup slow.
      await c.insertMany(Array.from({ length: SEEDED_COUNT }, (_, i) => ({ _id: SEEDED + i, pad: 'p'.repeat(4000), n: i })));
    });
    ready = true;
  });

  it('a full backup taken while a writer runs restores, with the incremental after it, to exactly the final state', async (ctx) => {
    ferretdbOrSkip(ctx);
    if (!ready) ctx.skip('needs the patched FerretDB replica set');
    let writing = true;
    let ops = 0;
    const writer = withMongo(mongo.uri, async (client) => {
      const c = client.db('pitr').collection<{ _id: number; [field: string]: unknown }>('c');
      // Paced (a few hundred writes a second): the test bed's SQLite-backed server serialises writes,
      // and an unpaced loop would starve the dump's reads.
      for (let i = 0; writing && i < 600; i++) {
        await c.insertOne({ _id: 200_000 + i, n: i });
        await c.updateOne({ _id: SEEDED + ((i * 7) % SEEDED_COUNT) }, { $set: { n: -i }, $unset: { pad: '' } });
        await c.deleteOne({ _id: SEEDED + ((i * 13 + 5) % SEEDED_COUNT) });
        ops += 3;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    const created = await ws.run(['--json', 'create']);
    writing = false;
    await writer;
    expect(created.code, describeRun(created)).toBe(0);
    const full = created.json<{ backup: BackupJson }>().backup;
    // The writer really wrote while the dump ran: the full's own oplog holds more than its first entry.
    expect(full.oplog!.entries, `${ops} writes in all`).toBeGreaterThan(1);
    const final = await withMongo(mongo.uri, (client) => snapshot(client, 'pitr'));
    const incremental = await ws.run(['--json', 'create', '--type', 'incremental']);
    expect(incremental.code, describeRun(incremental)).toBe(0);

    const restore = await ws.run(['--json', 'restore', '--to-time', 'latest', '--ns-include', 'pitr.*', '--ns-from', 'pitr.$c$', '--ns-to', 'busy_copy.$c$']);
    expect(restore.code, describeRun(restore)).toBe(0);
    expect(await withMongo(mongo.uri, (client) => snapshot(client, 'busy_copy'))).toEqual(final);
  });

  it('kill -9 during an incremental leaves the chain as it was: the newest restore point still restores, the next incremental continues it', async (ctx) => {
    ferretdbOrSkip(ctx);
    if (!ready) ctx.skip('needs the patched FerretDB replica set');
    await withMongo(mongo.uri, (client) => write(client, 7));
    const before = await ws.run(['--json', 'create', '--type', 'incremental']);
    expect(before.code, describeRun(before)).toBe(0);
    const lastGood = before.json<{ backup: BackupJson }>().backup;
    const stateAtLastGood = await withMongo(mongo.uri, (client) => snapshot(client, 'pitr'));
    const incrementals = async (): Promise<string[]> =>
      (await ws.run(['--json', 'list', '--type', 'INCREMENTAL'])).json<{ backups: BackupJson[] }>().backups.map((b) => b.id).sort();
    const completedBefore = await incrementals();
    expect(completedBefore).toContain(lastGood.id);

    await withMongo(mongo.uri, (client) => write(client, 8));
    const checkpointFile = join(ws.dir, 'checkpoint');
    let child: ChildProcess | undefined;
    const killed = ws.run(['create', '--type', 'incremental'], {
      env: { MONGO_BACKUP_TEST_CHECKPOINTS: '1', MONGO_BACKUP_TEST_CHECKPOINT: 'upload-started', MONGO_BACKUP_TEST_CHECKPOINT_FILE: checkpointFile },
      onSpawn: (spawned) => (child = spawned),
    });
    await pollUntil('the incremental to reach its upload', () => (existsSync(checkpointFile) ? true : undefined));
    process.kill(child!.pid!, 'SIGKILL');
    expect((await killed).code).not.toBe(0);

    // The killed incremental left no completed backup: the chain is as it was.
    expect(await incrementals()).toEqual(completedBefore);
    const restore = await ws.run(['--json', 'restore', '--to-time', 'latest', '--ns-include', 'pitr.*', '--ns-from', 'pitr.$c$', '--ns-to', 'after_kill.$c$']);
    expect(restore.code, describeRun(restore)).toBe(0);
    expect(await withMongo(mongo.uri, (client) => snapshot(client, 'after_kill'))).toEqual(stateAtLastGood);

    const next = await ws.run(['--json', 'create', '--type', 'incremental']);
    expect(next.code, describeRun(next)).toBe(0);
    expect(next.json<{ backup: BackupJson & { parent?: string } }>().backup.parent).toBe(lastGood.id);
  });
});
