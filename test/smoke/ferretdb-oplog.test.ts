// The test bed's patched FerretDB (scripts/ferretdb, docs/TESTBED.md "Oplog and applyOps"):
// each oplog entry kind applied with `applyOps` through the driver gives the state a replica-set
// member would have; updates are logged in MongoDB's replacement form; and the real tools
// (`mongodump --oplog`, `mongorestore --oplogReplay`) carry writes made during a dump.
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MongoClient, MongoServerError, Timestamp, type Db, type Document } from 'mongodb';
import {
  peerDataDir,
  peerMissingReason,
  peerOrSkip,
  removePeerDataDir,
  sampleDocuments,
  startFerretDB,
  testbed,
  type MongoPeer,
  type PeerHandle,
} from '../setup/testbed.js';

function uniqueDbName(prefix: string): string {
  // FerretDB: database names in Latin letters only.
  const letters = Array.from({ length: 8 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
  return `${prefix}${letters}`;
}

/** The shared MongoDB peer when it is the patched FerretDB (a real mongod has its own applyOps). */
function ferretdbOrSkip(ctx: { skip(note?: string): never }): MongoPeer {
  const mongo = peerOrSkip('mongo', ctx);
  if (mongo.kind !== 'ferretdb') ctx.skip('the applyOps and oplog-format patch is FerretDB-only');
  return mongo;
}

/** The tests' documents have numeric _ids. */
type NumberedDoc = Document & { _id: number };

function numbered(db: Db, name: string) {
  return db.collection<NumberedDoc>(name);
}

async function applyOps(db: Db, ops: Document[]): Promise<Document> {
  return db.admin().command({ applyOps: ops });
}

async function documents(db: Db, collection: string): Promise<Document[]> {
  return numbered(db, collection).find({}, { sort: { _id: 1 } }).toArray();
}

async function collectionNames(db: Db): Promise<string[]> {
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((info) => info.name);
  return names.sort();
}

// Private instances: these tests rename collections, and a rename logged in the shared peer's
// oplog would make a concurrent `mongodump --oplog` of another test fail, as on mongod.
const privateHandles: PeerHandle<MongoPeer>[] = [];
const privateDirs: string[] = [];
afterAll(async () => {
  for (const handle of privateHandles) await handle.stop();
  for (const dir of privateDirs) await removePeerDataDir(dir);
});

async function privateFerretDB(options: { oplogSizeBytes?: number; cappedCleanupSeconds?: number } = {}): Promise<PeerHandle<MongoPeer>> {
  const dir = await peerDataDir('ferretdb-oplog');
  privateDirs.push(dir);
  const handle = await startFerretDB({ dataDir: dir, ...options });
  privateHandles.push(handle);
  return handle;
}

/** Whether the shared MongoDB peer is the patched FerretDB, so private instances can start. */
function ferretdbAvailable(): boolean {
  return peerMissingReason('mongo') === undefined && testbed().mongo.kind === 'ferretdb';
}

describe('patched FerretDB: applyOps', () => {
  let client: MongoClient | undefined;
  let db: Db;
  let ns: (collection: string) => string;

  beforeAll(async () => {
    if (!ferretdbAvailable()) return; // each test skips (or fails in CI) itself
    client = new MongoClient((await privateFerretDB()).details.uri);
    db = client.db(uniqueDbName('applyops'));
    ns = (collection) => `${db.databaseName}.${collection}`;
  });
  afterAll(async () => {
    await client?.close();
  });

  it('i inserts the document, and replaces it when it is already there (replay over a dump)', async (ctx) => {
    ferretdbOrSkip(ctx);
    const reply = await applyOps(db, [{ op: 'i', ns: ns('ins'), o: { _id: 1, a: 1, b: 'x' } }]);
    expect(reply).toMatchObject({ applied: 1, results: [true], ok: 1 });
    expect(await documents(db, 'ins')).toEqual([{ _id: 1, a: 1, b: 'x' }]);

    await applyOps(db, [{ op: 'i', ns: ns('ins'), o: { _id: 1, c: 2 } }]);
    expect(await documents(db, 'ins')).toEqual([{ _id: 1, c: 2 }]);
  });

  it('u in the $v:1 form applies $set and $unset', async (ctx) => {
    ferretdbOrSkip(ctx);
    await numbered(db, 'setunset').insertOne({ _id: 1, a: 1, b: 2, c: 3 });
    const reply = await applyOps(db, [
      { op: 'u', ns: ns('setunset'), o2: { _id: 1 }, o: { $v: 1, $set: { b: 5, 'd.e': 'new' }, $unset: { c: true } } },
    ]);
    expect(reply).toMatchObject({ applied: 1, ok: 1 });
    expect(await documents(db, 'setunset')).toEqual([{ _id: 1, a: 1, b: 5, d: { e: 'new' } }]);
  });

  it('u with a replacement document replaces the whole document', async (ctx) => {
    ferretdbOrSkip(ctx);
    await numbered(db, 'replace').insertOne({ _id: 1, a: 1, b: 2 });
    await applyOps(db, [{ op: 'u', ns: ns('replace'), o2: { _id: 1 }, o: { _id: 1, z: 9 } }]);
    expect(await documents(db, 'replace')).toEqual([{ _id: 1, z: 9 }]);
  });

  it('u of a document that is not there upserts it, as mongod applyOps does unless alwaysUpsert is false', async (ctx) => {
    ferretdbOrSkip(ctx);
    await applyOps(db, [{ op: 'u', ns: ns('upsert'), o2: { _id: 7 }, o: { _id: 7, v: 'replayed' } }]);
    expect(await documents(db, 'upsert')).toEqual([{ _id: 7, v: 'replayed' }]);

    await db.admin().command({ applyOps: [{ op: 'u', ns: ns('upsert'), o2: { _id: 8 }, o: { _id: 8 } }], alwaysUpsert: false });
    expect(await documents(db, 'upsert')).toEqual([{ _id: 7, v: 'replayed' }]);
  });

  it('u in the $v:2 diff form applies updates, inserts, deletes, sub-object diffs, array-element updates and appends', async (ctx) => {
    ferretdbOrSkip(ctx);
    await numbered(db, 'diff').insertOne({ _id: 1, a: 1, b: 2, sub: { x: 1, y: 1 }, arr: ['p', 'q'], objs: [{ x: 1 }, { x: 2, y: 2 }] });
    const diff = { u: { a: 10 }, i: { n: 'added' }, d: { b: false }, ssub: { u: { x: 2 } }, sarr: { a: true, u1: 'Q', u2: 'appended' }, sobjs: { a: true, s1: { d: { y: false } } } };
    await applyOps(db, [{ op: 'u', ns: ns('diff'), o2: { _id: 1 }, o: { $v: 2, diff } }]);
    expect(await documents(db, 'diff')).toEqual([{ _id: 1, a: 10, sub: { x: 2, y: 1 }, arr: ['p', 'Q', 'appended'], objs: [{ x: 1 }, { x: 2 }], n: 'added' }]);
  });

  it('a $v:2 array resize is refused with ok 0 and says why (not supported by the test bed)', async (ctx) => {
    ferretdbOrSkip(ctx);
    await numbered(db, 'resize').insertOne({ _id: 1, arr: [1, 2, 3] });
    const failure = await applyOps(db, [{ op: 'u', ns: ns('resize'), o2: { _id: 1 }, o: { $v: 2, diff: { sarr: { a: true, l: 1 } } } }]).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(MongoServerError);
    expect((failure as MongoServerError).message).toMatch(/array resize at "arr" is not supported/);
    expect(await documents(db, 'resize')).toEqual([{ _id: 1, arr: [1, 2, 3] }]);
  });

  it('d deletes the document; n changes nothing', async (ctx) => {
    ferretdbOrSkip(ctx);
    await numbered(db, 'del').insertMany([{ _id: 1 }, { _id: 2 }]);
    const reply = await applyOps(db, [
      { op: 'n', ns: '', o: { msg: 'periodic noop' } },
      { op: 'd', ns: ns('del'), o: { _id: 1 } },
    ]);
    expect(reply).toMatchObject({ applied: 2, results: [true, true], ok: 1 });
    expect(await documents(db, 'del')).toEqual([{ _id: 2 }]);
  });

  it('c create (capped too) and drop', async (ctx) => {
    ferretdbOrSkip(ctx);
    const cmdNs = ns('$cmd');
    await applyOps(db, [
      { op: 'c', ns: cmdNs, o: { create: 'made', idIndex: { v: 2, key: { _id: 1 }, name: '_id_' } } },
      { op: 'c', ns: cmdNs, o: { create: 'ring', capped: true, size: 4096 } },
    ]);
    expect(await collectionNames(db)).toEqual(expect.arrayContaining(['made', 'ring']));
    const ring = (await db.listCollections({ name: 'ring' }).toArray())[0];
    expect(ring && 'options' in ring ? ring.options : undefined).toMatchObject({ capped: true });

    await applyOps(db, [{ op: 'c', ns: cmdNs, o: { drop: 'made' } }]);
    expect(await collectionNames(db)).not.toContain('made');
  });

  it('c createIndexes (the oplog form) and dropIndexes', async (ctx) => {
    ferretdbOrSkip(ctx);
    await numbered(db, 'indexed').insertOne({ _id: 1, email: 'a@example.com' });
    const cmdNs = ns('$cmd');
    await applyOps(db, [{ op: 'c', ns: cmdNs, o: { createIndexes: 'indexed', v: 2, key: { email: 1 }, name: 'email_1', unique: true } }]);
    const created = await numbered(db, 'indexed').indexes();
    expect(created).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'email_1', key: { email: 1 }, unique: true })]));

    await applyOps(db, [{ op: 'c', ns: cmdNs, o: { dropIndexes: 'indexed', index: 'email_1' } }]);
    expect((await numbered(db, 'indexed').indexes()).map((index) => index.name)).toEqual(['_id_']);
  });

  it('c renameCollection, also over an existing target with dropTarget', async (ctx) => {
    ferretdbOrSkip(ctx);
    await numbered(db, 'from').insertOne({ _id: 1, v: 'moved' });
    await numbered(db, 'target').insertOne({ _id: 2, v: 'replaced' });
    await applyOps(db, [{ op: 'c', ns: 'admin.$cmd', o: { renameCollection: ns('from'), to: ns('target'), stayTemp: false, dropTarget: true } }]);
    expect(await collectionNames(db)).not.toContain('from');
    expect(await documents(db, 'target')).toEqual([{ _id: 1, v: 'moved' }]);
  });

  it('c dropDatabase drops the database', async (ctx) => {
    const mongo = ferretdbOrSkip(ctx);
    const other = client!.db(uniqueDbName('applyopsdrop'));
    await numbered(other, 'c').insertOne({ _id: 1 });
    await applyOps(db, [{ op: 'c', ns: `${other.databaseName}.$cmd`, o: { dropDatabase: 1 } }]);
    const names = (await client!.db('admin').admin().listDatabases()).databases.map((info) => info.name);
    expect(names, mongo.uri).not.toContain(other.databaseName);
  });

  it('a failing entry answers ok 0 with the error, after applying the entries before it', async (ctx) => {
    ferretdbOrSkip(ctx);
    const failure = await applyOps(db, [
      { op: 'i', ns: ns('partial'), o: { _id: 1 } },
      { op: 'x', ns: ns('partial'), o: { _id: 2 } },
    ]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MongoServerError);
    expect(failure).toMatchObject({ message: expect.stringMatching(/entry 1 failed: unknown op type x/), applied: 1, results: [true, false] });
    expect(await documents(db, 'partial')).toEqual([{ _id: 1 }]);
  });
});

describe('patched FerretDB: oplog format', () => {
  it('logs an $unset and a replaceOne as replacement-form u entries (o = whole new document, o2 = {_id})', async (ctx) => {
    const mongo = ferretdbOrSkip(ctx);
    const client = new MongoClient(mongo.uri);
    const db = client.db(uniqueDbName('oplogform'));
    try {
      const things = numbered(db, 'things');
      await things.insertOne({ _id: 1, a: 1, b: 2 });
      await things.updateOne({ _id: 1 }, { $unset: { a: '' } });
      await things.replaceOne({ _id: 1 }, { c: 3 });
      await things.deleteOne({ _id: 1 });

      const entries = await client
        .db('local')
        .collection('oplog.rs')
        .find({ ns: `${db.databaseName}.things` }, { sort: { $natural: 1 } })
        .toArray();
      expect(entries.map((entry) => ({ op: entry['op'], o: entry['o'], o2: entry['o2'] }))).toEqual([
        { op: 'i', o: { _id: 1, a: 1, b: 2 }, o2: undefined },
        { op: 'u', o: { _id: 1, b: 2 }, o2: { _id: 1 } },
        { op: 'u', o: { _id: 1, c: 3 }, o2: { _id: 1 } },
        { op: 'd', o: { _id: 1 }, o2: undefined },
      ]);
    } finally {
      await db.dropDatabase().catch(() => undefined);
      await client.close();
    }
  });

  it('logs DDL as c entries, which applyOps replays into the same collections and indexes', async (ctx) => {
    ferretdbOrSkip(ctx);
    const source = new MongoClient((await privateFerretDB()).details.uri);
    const target = new MongoClient((await privateFerretDB()).details.uri);
    try {
      const db = source.db('ddl');
      await db.createCollection('keep');
      await db.createCollection('ring', { capped: true, size: 8192 });
      await db.createCollection('gone');
      await db.createCollection('old');
      await numbered(db, 'keep').createIndex({ email: 1 }, { unique: true, name: 'email_1' });
      await numbered(db, 'keep').createIndex({ a: 1, b: -1 }, { name: 'a_b' });
      await numbered(db, 'keep').dropIndex('a_b');
      await db.renameCollection('old', 'renamed');
      await db.dropCollection('gone');
      await source.db('ddlgone').createCollection('x');
      await source.db('ddlgone').dropDatabase();

      const entries = await source
        .db('local')
        .collection('oplog.rs')
        .find({ op: 'c', ns: { $in: ['ddl.$cmd', 'ddlgone.$cmd'] } }, { sort: { $natural: 1 } })
        .toArray();
      expect(entries.map((entry) => entry['o'])).toEqual([
        { create: 'keep' },
        { create: 'ring', capped: true, size: 8192 },
        { create: 'gone' },
        { create: 'old' },
        { createIndexes: 'keep', v: 2, key: { email: 1 }, name: 'email_1', unique: true },
        { createIndexes: 'keep', v: 2, key: { a: 1, b: -1 }, name: 'a_b' },
        { dropIndexes: 'keep', index: 'a_b' },
        { renameCollection: 'ddl.old', to: 'ddl.renamed', stayTemp: false, dropTarget: false },
        { drop: 'gone' },
        { create: 'x' },
        { dropDatabase: 1 },
      ]);

      // As mongorestore --oplogReplay sends them: one entry per applyOps.
      for (const entry of entries) await target.db('admin').command({ applyOps: [entry] });
      const replayed = target.db('ddl');
      expect(await collectionNames(replayed)).toEqual(['keep', 'renamed', 'ring']);
      expect((await numbered(replayed, 'keep').indexes()).map((index) => [index.name, index.key, index.unique === true])).toEqual([
        ['_id_', { _id: 1 }, false],
        ['email_1', { email: 1 }, true],
      ]);
      const databases = (await target.db('admin').admin().listDatabases()).databases.map((info) => info.name);
      expect(databases).not.toContain('ddlgone');
    } finally {
      await source.close();
      await target.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// End to end with the real tools: a writer changes documents while mongodump --oplog runs; the
// restore with --oplogReplay into a fresh FerretDB must equal the source as it was after one of
// the writer's operations (a consistent point), one reached only through the replayed oplog.

type Operation = { kind: 'insert'; doc: NumberedDoc } | { kind: 'set' | 'unset'; id: number; field: string; value?: number } | { kind: 'replace'; doc: NumberedDoc } | { kind: 'delete'; id: number };

/** The writer's n-th operation: every kind, over a small set of hot documents. */
function operationNumber(n: number, live: Map<number, Document>): Operation {
  const ids = [...live.keys()];
  const id = ids[(n * 7) % Math.max(ids.length, 1)];
  if (id === undefined || n % 6 === 0) return { kind: 'insert', doc: { _id: 100_000 + n, n, a: n, b: 'x' } };
  switch (n % 6) {
    case 1:
      return { kind: 'set', id, field: 'a', value: n };
    case 2:
      return { kind: 'unset', id, field: 'b' };
    case 3:
      return { kind: 'replace', doc: { _id: id, replacedAt: n } };
    case 4:
      return { kind: 'set', id, field: `f${n % 3}`, value: n };
    default:
      return { kind: 'delete', id };
  }
}

function simulate(live: Map<number, Document>, op: Operation): void {
  switch (op.kind) {
    case 'insert':
    case 'replace':
      live.set(op.doc['_id'] as number, { ...op.doc });
      return;
    case 'set':
      live.set(op.id, { ...live.get(op.id), [op.field]: op.value });
      return;
    case 'unset': {
      const { [op.field]: _removed, ...rest } = live.get(op.id) ?? {};
      live.set(op.id, rest);
      return;
    }
    case 'delete':
      live.delete(op.id);
  }
}

async function perform(db: Db, op: Operation): Promise<void> {
  const hot = numbered(db, 'hot');
  switch (op.kind) {
    case 'insert':
      await hot.insertOne({ ...op.doc });
      return;
    case 'replace':
      await hot.replaceOne({ _id: op.doc['_id'] }, { ...op.doc });
      return;
    case 'set':
      await hot.updateOne({ _id: op.id }, { $set: { [op.field]: op.value } });
      return;
    case 'unset':
      await hot.updateOne({ _id: op.id }, { $unset: { [op.field]: '' } });
      return;
    case 'delete':
      await hot.deleteOne({ _id: op.id });
  }
}

/** Runs operations one after another until stopped; returns the state after each of them. */
function startWriter(db: Db, initial: Map<number, Document>) {
  const live = new Map(initial);
  const states: string[] = [stateKey([...live.values()])];
  let stopped = false;
  const done = (async () => {
    for (let n = 1; !stopped; n++) {
      const op = operationNumber(n, live);
      await perform(db, op);
      simulate(live, op);
      states.push(stateKey([...live.values()]));
    }
  })();
  return {
    states,
    async stop(): Promise<void> {
      stopped = true;
      await done;
    },
  };
}

/** A canonical text of a set of documents (sorted by _id, keys sorted) for comparison. */
function stateKey(docs: Document[]): string {
  const sorted = [...docs].sort((x, y) => (x['_id'] as number) - (y['_id'] as number));
  return JSON.stringify(sorted.map((doc) => Object.fromEntries(Object.entries(doc).sort(([x], [y]) => x.localeCompare(y)))));
}

function runTool(binary: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', fail);
    child.once('close', (code) => done({ code, stderr }));
  });
}

describe('patched FerretDB on private instances: dump while writing and replay, oplog rollover', () => {
  it('restores the state after one of the writer operations, including ones made during the dump', async (ctx) => {
    ferretdbOrSkip(ctx);
    const source = await privateFerretDB();
    const target = await privateFerretDB();
    const archive = join(source.dataDir, 'dump.archive');
    const sourceClient = new MongoClient(source.details.uri);
    const targetClient = new MongoClient(target.details.uri);
    try {
      const db = sourceClient.db('pitrsource');
      const initial = Array.from({ length: 50 }, (_, i) => ({ _id: i, n: 0, a: i, b: 'x' }));
      await numbered(db, 'hot').insertMany(initial);
      // Bulk data keeps mongodump busy long enough for the writer to work during the dump.
      const bulk = sampleDocuments(3000);
      await db.collection('bulk').insertMany(bulk);

      const writer = startWriter(db, new Map(initial.map((doc) => [doc._id, doc])));
      // Some writes before the dump starts, so "not older than the dump's start" means something.
      await vi.waitFor(() => expect(writer.states.length).toBeGreaterThan(20), { timeout: 30_000, interval: 20 });
      const statesAtDumpStart = writer.states.length;
      const dump = await runTool(source.details.mongodump, [`--uri=${source.details.uri}`, '--oplog', `--archive=${archive}`]);
      const opsBeforeStop = writer.states.length - 1;
      await writer.stop();
      expect(dump.code, dump.stderr).toBe(0);
      const dumpedOplog = Number(/dumped (\d+) oplog entries/.exec(dump.stderr)?.[1] ?? 0);
      expect(dumpedOplog, dump.stderr).toBeGreaterThan(0);

      const restore = await runTool(target.details.mongorestore, [`--uri=${target.details.uri}`, `--archive=${archive}`, '--oplogReplay']);
      expect(restore.code, restore.stderr).toBe(0);
      expect(restore.stderr).toMatch(/applied [1-9]\d* oplog entries/);

      const restoredDb = targetClient.db('pitrsource');
      const restored = stateKey(await documents(restoredDb, 'hot'));
      const matching = writer.states.lastIndexOf(restored);
      expect(matching, 'the restored documents match no state the writer went through').toBeGreaterThan(-1);
      // Not older than the moment mongodump started: the oplog carried the writes made meanwhile.
      expect(matching).toBeGreaterThanOrEqual(statesAtDumpStart - 1);
      expect(matching).toBeLessThanOrEqual(opsBeforeStop + 1);
      expect(await numbered(restoredDb, 'bulk').countDocuments()).toBe(bulk.length);
    } finally {
      await sourceClient.close();
      await targetClient.close();
    }
  });

  it('an oplog slice dumped from local.oplog.rs replays onto a restored base with --oplogFile; --oplogLimit stops before the given entry', async (ctx) => {
    ferretdbOrSkip(ctx);
    const source = await privateFerretDB();
    const full = await privateFerretDB();
    const limited = await privateFerretDB();
    const sourceClient = new MongoClient(source.details.uri);
    const clients = [full, limited].map((peer) => new MongoClient(peer.details.uri));
    try {
      const db = sourceClient.db('slice');
      const oplog = sourceClient.db('local').collection('oplog.rs');
      await numbered(db, 't').insertMany([{ _id: 1, a: 1, b: 1 }, { _id: 2, a: 2 }]);
      const base = join(source.dataDir, 'base.archive');
      expect((await runTool(source.details.mongodump, [`--uri=${source.details.uri}`, `--archive=${base}`])).code).toBe(0);
      const baseEnd = (await oplog.find({}, { sort: { $natural: -1 }, limit: 1 }).next())?.['ts'] as Timestamp;

      await numbered(db, 't').updateOne({ _id: 1 }, { $unset: { b: '' } });
      await numbered(db, 't').deleteOne({ _id: 2 });
      await db.createCollection('side');
      await numbered(db, 'side').createIndex({ k: 1 }, { name: 'k_1' });
      await numbered(db, 'side').insertOne({ _id: 5, k: 'v' });
      const deleteEntry = await oplog.findOne({ ns: 'slice.t', op: 'd' });

      const sliceDir = join(source.dataDir, 'slice');
      const query = JSON.stringify({ ts: { $gt: { $timestamp: { t: baseEnd.t, i: baseEnd.i } } } });
      const slice = await runTool(source.details.mongodump, [`--uri=${source.details.uri}`, '-d', 'local', '-c', 'oplog.rs', `--query=${query}`, `--out=${sliceDir}`]);
      expect(slice.stderr).toMatch(/done dumping local\.oplog\.rs \(5 documents\)/);
      const emptyDir = join(source.dataDir, 'empty');
      await mkdir(emptyDir, { recursive: true });

      const deleteTs = deleteEntry?.['ts'] as Timestamp;
      const limits = [[], [`--oplogLimit=${deleteTs.t}:${deleteTs.i}`]];
      for (const [index, peer] of [full, limited].entries()) {
        expect((await runTool(peer.details.mongorestore, [`--uri=${peer.details.uri}`, `--archive=${base}`])).code).toBe(0);
        const replay = await runTool(peer.details.mongorestore, [
          `--uri=${peer.details.uri}`, '--oplogReplay', `--oplogFile=${join(sliceDir, 'local', 'oplog.rs.bson')}`, ...limits[index]!, `--dir=${emptyDir}`,
        ]);
        expect(replay.code, replay.stderr).toBe(0);
      }

      const [fullDb, limitedDb] = clients.map((client) => client.db('slice')) as [Db, Db];
      expect(await documents(fullDb, 't')).toEqual([{ _id: 1, a: 1 }]);
      expect(await documents(fullDb, 'side')).toEqual([{ _id: 5, k: 'v' }]);
      expect((await numbered(fullDb, 'side').indexes()).map((index) => index.name)).toEqual(['_id_', 'k_1']);
      // --oplogLimit is exclusive: the $unset before the delete is applied, the delete and what follows are not.
      expect(await documents(limitedDb, 't')).toEqual([{ _id: 1, a: 1 }, { _id: 2, a: 2 }]);
      expect(await collectionNames(limitedDb)).toEqual(['t']);
    } finally {
      await sourceClient.close();
      for (const client of clients) await client.close();
    }
  });

  it('a small oplog rolls over: the oldest entries go, the newest stay', async (ctx) => {
    ferretdbOrSkip(ctx);
    // FerretDB trims capped collections on a timer, not on each insert: a 1 s interval here.
    const small = await privateFerretDB({ oplogSizeBytes: 20_000, cappedCleanupSeconds: 1 });
    const client = new MongoClient(small.details.uri);
    try {
      const things = client.db('rollover').collection<NumberedDoc>('things');
      const oplog = client.db('local').collection('oplog.rs');
      await things.insertOne({ _id: 0, pad: 'first' });
      const first = await oplog.findOne({ ns: 'rollover.things', 'o._id': 0 });
      expect(first).not.toBeNull();
      for (let batch = 1; batch <= 10; batch++) {
        await things.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: batch * 100 + i, pad: 'x'.repeat(100) })));
      }

      await vi.waitFor(async () => expect(await oplog.countDocuments({ ts: first!['ts'] })).toBe(0), { timeout: 30_000, interval: 250 });
      expect(await oplog.countDocuments({ ns: 'rollover.things', 'o._id': 1049 })).toBe(1);
      expect(await things.countDocuments()).toBe(501);
    } finally {
      await client.close();
    }
  });
});
