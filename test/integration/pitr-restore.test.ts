// Point-in-time restore (docs/PITR.md) against the test bed's FerretDB replica set: a full backup
// and incrementals of a collection a writer keeps changing; restores to chosen moments give, document
// by document, the state the writer recorded at that moment — also from a fresh state directory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Document, MongoClient } from 'mongodb';
import { peerDataDir, peerOrSkip, removePeerDataDir, testbed } from '../setup/testbed.js';
import { startFerretDB, type MongoPeer } from '../setup/peers.js';
import { describeRun, makeWorkspace, withMongo, type Workspace } from './helpers.js';

interface BackupJson {
  id: string;
  type: string;
  oplog?: { toTime: string; entries: number };
}

interface ReplayJson {
  base: string;
  increments: string[];
  notAfter?: string;
  sliceEntries: number;
  baseEntries: number;
  lastApplied?: { time: string; op: string; ns: string };
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

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

describe('point-in-time restore', () => {
  let mongo: MongoPeer;
  let ws: Workspace;
  /** The collection's state at recorded moments. */
  const states = new Map<string, { at: number; docs: Document[] }>();
  let full: BackupJson;
  const incrementals: BackupJson[] = [];
  let ready = false;

  beforeAll(async () => {
    if (testbed().missing.mongo !== undefined || testbed().mongo.kind !== 'ferretdb') return;
    const dataDir = await peerDataDir('pitr-restore');
    const handle = await startFerretDB({ dataDir });
    cleanups.push(async () => {
      await handle.stop();
      await removePeerDataDir(dataDir);
    });
    mongo = handle.details;
    ws = await makeWorkspace({ mongo });
    cleanups.push(() => ws.cleanup());
    const record = async (client: MongoClient, name: string) => states.set(name, { at: await momentAfterWrites(), docs: await snapshot(client, 'pitr') });
    const create = async (args: string[]): Promise<BackupJson> => {
      const result = await ws.run(['--json', 'create', ...args]);
      expect(result.code, describeRun(result)).toBe(0);
      return result.json<{ backup: BackupJson }>().backup;
    };
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
    peerOrSkip('mongo', ctx);
    if (!ready) ctx.skip('needs the patched FerretDB replica set');
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
    peerOrSkip('mongo', ctx);
    if (!ready) ctx.skip('needs the patched FerretDB replica set');
    const replay = await restoreTo({ id: incrementals[0]!.id }, 'by_id');
    expect(replay).toMatchObject({ base: full.id, increments: [incrementals[0]!.id] });
    expect(replay.notAfter).toBeUndefined();
    await restoredEquals('by_id', 'end of first slice');
  });

  it('--dry-run prints the plan (base, links, entries, last operation) and writes nothing', async (ctx) => {
    peerOrSkip('mongo', ctx);
    if (!ready) ctx.skip('needs the patched FerretDB replica set');
    const moment = new Date(states.get('inside third slice')!.at).toISOString();
    const human = await ws.run(['restore', '--to-time', moment, '--ns-include', 'pitr.*', '--ns-from', 'pitr.$c$', '--ns-to', 'dry.$c$', '--dry-run']);
    expect(human.code, describeRun(human)).toBe(0);
    expect(human.stdout).toContain(`full backup ${full.id}, then ${incrementals.map((b) => b.id).join(', ')}`);
    expect(human.stdout).toMatch(/would replay the full backup's \d+ oplog entries and \d+ more, up to /);
    expect(human.stdout).toMatch(/last operation: [iud] on dry\.c at /); // named as it lands
    expect(await withMongo(mongo.uri, (client) => client.db('dry').collection('c').countDocuments())).toBe(0);
  });

  it('refuses a moment before the first restore point, naming the windows (exit 1)', async (ctx) => {
    peerOrSkip('mongo', ctx);
    if (!ready) ctx.skip('needs the patched FerretDB replica set');
    const early = new Date(states.get('before full')!.at - 60_000).toISOString();
    const result = await ws.run(['--json', 'restore', '--to-time', early, '--ns-from', 'pitr.$c$', '--ns-to', 'early.$c$']);
    expect(result.code, describeRun(result)).toBe(1);
    const error = result.json<{ error: { code: string; hint?: string } }>().error;
    expect(error.code).toBe('NOT_FOUND');
    expect(error.hint).toContain(full.oplog!.toTime);
  });

  it('restores from a fresh state directory with only the configuration (disaster recovery)', async (ctx) => {
    peerOrSkip('mongo', ctx);
    if (!ready) ctx.skip('needs the patched FerretDB replica set');
    const fresh = await makeWorkspace({ mongo, config: { targets: [{ name: 'local', type: 'local', path: ws.backupsDir }] } });
    cleanups.push(() => fresh.cleanup());
    await restoreTo({ toTime: new Date(states.get('inside third slice')!.at).toISOString() }, 'dr_third', [], fresh);
    await restoredEquals('dr_third', 'inside third slice');
  });
});
