// Point-in-time backups, the create side (docs/PITR.md), against the test bed's FerretDB running
// as a one-member replica set with an oplog: a full backup carries its oplog and records its
// restore point; incrementals continue the newest restore point without a gap, hold exactly the
// writes after it, and refuse (exit 1, CRITICAL alert) when the oplog rolled over in between.
// Each test has a private server, so the oplog holds only its own writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Timestamp, type MongoClient } from 'mongodb';
import type { MongoPeer } from '../setup/peers.js';
import { describeRun, pollUntil, snapshotDir, withMongo, type Workspace } from './helpers.js';
import { PrivateServers, createBackup, ferretdbOrSkip, replicaSetAvailable, type BackupJson } from './pitr-fixtures.js';

const servers = new PrivateServers();
afterAll(() => servers.stopAll());

async function writeSome(client: MongoClient, start: number): Promise<number> {
  const c = client.db('pitr').collection<{ _id: number; n: number; gone?: boolean }>('c');
  for (let i = 0; i < 10; i++) await c.insertOne({ _id: start + i, n: i });
  for (let i = 0; i < 5; i++) await c.updateOne({ _id: start + i }, { $set: { n: 100 + i } });
  for (let i = 5; i < 8; i++) await c.deleteOne({ _id: start + i });
  return 18;
}

describe('point-in-time chains: create', () => {
  let mongo: MongoPeer;
  let ws: Workspace;
  let full: BackupJson;

  beforeAll(async () => {
    if (!replicaSetAvailable()) return;
    mongo = await servers.replicaSet('pitr-create');
    ws = await servers.workspace(mongo);
    await withMongo(mongo.uri, async (client) => {
      await client.db('pitr').collection<{ _id: number; n: number }>('c').insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: -1 - i, n: i })));
    });
  });

  it('a full backup of a replica-set member carries its oplog and records its restore point', async (ctx) => {
    ferretdbOrSkip(ctx);
    full = await createBackup(ws);
    expect(full).toMatchObject({ type: 'FULL', pointInTime: true });
    expect(full.pointInTimeReason).toBeUndefined();
    expect(full.oplog!.entries).toBeGreaterThanOrEqual(1);
    expect(full.namespaces['oplog']).toBe(full.oplog!.entries);
    expect(full.oplog!.to.t * 1000 + 999).toBeGreaterThanOrEqual(Date.parse(full.oplog!.toTime));
    expect(Date.parse(full.oplog!.toTime)).toBeGreaterThanOrEqual(Date.parse(full.oplog!.fromTime));
    const deep = await ws.run(['--json', 'verify', full.id, '--deep']);
    expect(deep.code, describeRun(deep)).toBe(0);
  });

  it('an incremental holds exactly the writes after the full; the next one continues it, even with nothing written', async (ctx) => {
    ferretdbOrSkip(ctx);
    expect(full, 'the full backup of the test before').toBeDefined();
    const written = await withMongo(mongo.uri, (client) => writeSome(client, 0));
    const first = await createBackup(ws, ['--type', 'incremental']);
    expect(first).toMatchObject({ type: 'INCREMENTAL', parent: full.id, base: full.id, pointInTime: true });
    expect(first.oplog!.from).toEqual(full.oplog!.to);
    expect(first.oplog!.fromTime).toBe(full.oplog!.toTime);
    expect(first.oplog!.entries).toBe(written);
    expect(first.namespaces).toEqual({ 'local.oplog.rs': written });
    const deep = await ws.run(['--json', 'verify', first.id, '--deep']);
    expect(deep.code, describeRun(deep)).toBe(0);

    const idle = await createBackup(ws, ['--type', 'incremental']);
    expect(idle).toMatchObject({ type: 'INCREMENTAL', parent: first.id, base: full.id });
    expect(idle.oplog).toMatchObject({ from: first.oplog!.to, to: first.oplog!.to, entries: 0 });

    await withMongo(mongo.uri, (client) => writeSome(client, 1000));
    const third = await createBackup(ws, ['--type', 'incremental']);
    expect(third).toMatchObject({ parent: idle.id, base: full.id });
    expect(third.oplog!.entries).toBe(written);

    const listed = await ws.run(['--json', 'list', '--type', 'INCREMENTAL']);
    // Ids order by the second only: incrementals made within one second come in any order.
    expect(listed.json<{ backups: BackupJson[] }>().backups.map((b) => b.id).sort()).toEqual([third.id, idle.id, first.id].sort());
  });

  it('a dump of one database is not point-in-time, and says why once', async (ctx) => {
    ferretdbOrSkip(ctx);
    const result = await ws.run(['--json', 'create', '--db', 'pitr']);
    expect(result.code, describeRun(result)).toBe(0);
    const backup = result.json<{ backup: BackupJson }>().backup;
    expect(backup.pointInTime).toBe(false);
    expect(backup.pointInTimeReason).toMatch(/one database or collection cannot carry the oplog/);
    expect(backup.oplog).toBeUndefined();
    expect(result.stderr.match(/is not point-in-time/g)).toHaveLength(1);
  });
});

describe('point-in-time chains: refusals', () => {
  it('an incremental with no chain to continue exits 1 naming it, and dumps nothing', async (ctx) => {
    ferretdbOrSkip(ctx);
    const ws = await servers.workspace(await servers.replicaSet('pitr-create'));
    const before = await snapshotDir(ws.backupsDir);
    const result = await ws.run(['--json', 'create', '--type', 'incremental']);
    expect(result.code, describeRun(result)).toBe(1);
    const error = result.json<{ error: { code: string; message: string; hint?: string } }>().error;
    expect(error.code).toBe('NO_CHAIN');
    expect(error.hint).toMatch(/full backup/);
    expect(await snapshotDir(ws.backupsDir)).toEqual(before);
  });

  it('an oplog that rolled over since the chain ended: exit 1 naming the gap, a CRITICAL alert, no incremental; a new full starts a new chain', async (ctx) => {
    ferretdbOrSkip(ctx);
    const mongo = await servers.replicaSet('pitr-create', { oplogSizeBytes: 20_000, cappedCleanupSeconds: 1 });
    const ws = await servers.workspace(mongo);
    await withMongo(mongo.uri, (client) => client.db('pitr').collection<{ _id: string }>('c').insertOne({ _id: 'seed' }));
    const full = await createBackup(ws);
    expect(full.pointInTime).toBe(true);

    // Enough writes to push the full's last entry out of the small capped oplog.
    await withMongo(mongo.uri, async (client) => {
      const c = client.db('pitr').collection<{ _id: number; pad: string }>('c');
      await c.insertMany(Array.from({ length: 400 }, (_, i) => ({ _id: i, pad: 'x'.repeat(200) })));
      await pollUntil('the oplog to roll over past the full backup', async () => {
        const hit = await client.db('local').collection('oplog.rs').findOne({ ts: new Timestamp(full.oplog!.to) });
        return hit === null ? true : undefined;
      });
    });

    const result = await ws.run(['--json', 'create', '--type', 'incremental']);
    expect(result.code, describeRun(result)).toBe(1);
    const error = result.json<{ error: { code: string; message: string; hint?: string } }>().error;
    expect(error.code).toBe('OPLOG_ROLLED_OVER');
    expect(error.message).toContain(full.id);
    expect(error.message).toMatch(/rolled over/);
    expect(error.hint).toMatch(/full backup/);

    const alerts = (await ws.run(['--json', 'alerts', 'list'])).json<{ alerts: Array<{ level: string; message: string }> }>().alerts;
    expect(alerts.some((a) => a.level === 'CRITICAL' && /rolled over/.test(a.message))).toBe(true);
    const incrementals = (await ws.run(['--json', 'list', '--type', 'INCREMENTAL'])).json<{ count: number }>();
    expect(incrementals.count).toBe(0);

    const newFull = await createBackup(ws);
    const next = await createBackup(ws, ['--type', 'incremental']);
    expect(next).toMatchObject({ parent: newFull.id, base: newFull.id });
  });
});
