// A point-in-time drill (docs/REFERENCE.md#drill, docs/PITR.md) on a private FerretDB replica set:
// a full backup and an incremental replayed under a prefix, counted, dropped, and recorded under the
// chain's last link with both links' checksums.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MongoClient } from 'mongodb';
import type { MongoPeer } from '../setup/peers.js';
import { baseConfig, describeRun, withMongo, type Workspace } from './helpers.js';
import { PrivateServers, createBackup, ferretdbOrSkip, replicaSetAvailable, type BackupJson } from './pitr-fixtures.js';

const servers = new PrivateServers();
afterAll(() => servers.stopAll());

async function collections(client: MongoClient, db: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { name } of await client.db(db).listCollections({}, { nameOnly: true }).toArray()) counts[name] = await client.db(db).collection(name).countDocuments();
  return counts;
}

describe('point-in-time drill', () => {
  let mongo: MongoPeer;
  let ws: Workspace;
  let full: BackupJson;
  let incremental: BackupJson;
  let ready = false;

  beforeAll(async () => {
    if (!replicaSetAvailable()) return;
    mongo = await servers.replicaSet('drill-pitr');
    ws = await servers.workspace(mongo);
    await ws.writeConfig(baseConfig(ws, mongo));
    await withMongo(mongo.uri, async (client) => {
      await client.db('pitr').collection<{ _id: number; n: number }>('c').insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i, n: i })));
      full = await createBackup(ws, []);
      await client.db('pitr').collection<{ _id: number; n: number }>('c').insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: 100 + i, n: i })));
      await client.db('pitr').collection<{ _id: number; n: number }>('c').deleteOne({ _id: 0 });
      incremental = await createBackup(ws, ['--type', 'incremental']);
    });
    ready = true;
  });

  it('replays the chain under a prefix, counts the moment, drops it and records both links', async (ctx) => {
    ferretdbOrSkip(ctx);
    if (!ready) ctx.skip('needs the patched FerretDB replica set');
    const result = await ws.run(['--json', 'drill', '--to-time', 'latest', '--prefix', 'drill']);
    expect(result.code, describeRun(result)).toBe(0);
    const record = result.json<{ drill: any }>().drill;
    expect(record.result).toEqual({ passed: true });
    expect(record.toTime).toBe('latest');
    expect(record.backupId).toBe(incremental.id);
    expect(record.objects.map((o: { backupId: string }) => o.backupId)).toEqual([full.id, incremental.id]);
    expect(record.namespaces).toEqual([expect.objectContaining({ source: 'pitr.c', destination: 'drillpitr.c', expected: 20, restored: 24 })]);
    expect(await withMongo(mongo.uri, (client) => collections(client, 'drillpitr'))).toEqual({});
    const shown = await ws.run(['--json', 'show', incremental.id]);
    expect(shown.json<{ backup: { drills: unknown[] } }>().backup.drills).toEqual([expect.objectContaining({ passed: true, trusted: true })]);
  });
});
