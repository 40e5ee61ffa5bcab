// Point-in-time chains as list, show, verify and health see them (docs/PITR.md,
// docs/REFERENCE.md#list, #show, #verify, #health-checks), against the test bed's FerretDB running as a
// private one-member replica set: a full backup and two incrementals make one chain on the local
// target; then a middle link is damaged, then removed.
import { rename, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MongoClient } from 'mongodb';
import { parse } from 'yaml';
import { peerOrSkip, testbed } from '../setup/testbed.js';
import { describeRun, storedObjectPath, withMongo, type Workspace } from './helpers.js';
import { PrivateServers, createBackup, ferretdbOrSkip, replicaSetAvailable, type BackupJson } from './pitr-fixtures.js';
import { localTarget, s3Target, sftpTarget, uniquePrefix } from './target-configs.js';
import type { MongoPeer } from '../setup/peers.js';

interface HealthJson {
  status: string;
  issues: Array<{ level: string; type: string; message: string; target?: string }>;
  notes: string[];
  metrics: { newestRestorePoint: { time: string; backupId: string } | null; targets: Array<{ name: string; newestRestorePoint?: string; restorableSeconds?: number }> };
}

const servers = new PrivateServers();
afterAll(() => servers.stopAll());

async function writeSome(client: MongoClient, start: number): Promise<void> {
  const c = client.db('pitr').collection<{ _id: number; n: number }>('c');
  for (let i = 0; i < 6; i++) await c.insertOne({ _id: start + i, n: i });
  await c.updateOne({ _id: start }, { $set: { n: 100 } });
  await c.deleteOne({ _id: start + 1 });
}

/** A full backup and two incrementals with writes between them: the chain these tests look at. */
async function makeChain(mongo: MongoPeer, ws: Workspace): Promise<{ full: BackupJson; first: BackupJson; second: BackupJson }> {
  await withMongo(mongo.uri, (client) => client.db('pitr').collection<{ _id: number }>('c').insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: -1 - i }))));
  const full = await createBackup(ws);
  await withMongo(mongo.uri, (client) => writeSome(client, 0));
  const first = await createBackup(ws, ['--type', 'incremental']);
  await withMongo(mongo.uri, (client) => writeSome(client, 100));
  const second = await createBackup(ws, ['--type', 'incremental']);
  return { full, first, second };
}

describe('point-in-time chains: list, show, verify, health', () => {
  let mongo: MongoPeer;
  let ws: Workspace;
  let full: BackupJson;
  let first: BackupJson;
  let second: BackupJson;


  async function withHealthConfig(health: Record<string, unknown>): Promise<void> {
    const config = parse(await readFile(ws.configFile, 'utf8')) as Record<string, unknown>;
    await ws.writeConfig({ ...config, health });
  }

  async function health(): Promise<{ code: number | null; health: HealthJson }> {
    const result = await ws.run(['--json', 'health']);
    return { code: result.code, health: result.json<{ health: HealthJson }>().health };
  }

  beforeAll(async () => {
    if (!replicaSetAvailable()) return;
    mongo = await servers.replicaSet('pitr-views');
    ws = await servers.workspace(mongo);
    ({ full, first, second } = await makeChain(mongo, ws));
  });

  it('list shows each backup in its chain and the restorable window per target', async (ctx) => {
    ferretdbOrSkip(ctx);
    expect(second).toMatchObject({ parent: first.id, base: full.id });
    const json = await ws.run(['--json', 'list']);
    expect(json.code, describeRun(json)).toBe(0);
    const listed = json.json<{ pitr: Array<{ target: string; from: string; to: string; base: string }>; orphans?: unknown[] }>();
    expect(listed.pitr).toEqual([{ target: 'local', from: full.oplog!.toTime, to: second.oplog!.toTime, base: full.id }]);
    expect(listed.orphans).toBeUndefined();

    const text = await ws.run(['list']);
    expect(text.stdout).toContain('point-in-time base');
    expect(text.stdout).toContain(`after ${first.id} (base ${full.id})`);
    expect(text.stdout).toMatch(new RegExp(`local: restorable to any moment from .* to .* \\(base ${full.id}\\)`));
  });

  it('show of a link gives its parent, base, oplog range and its intact chain from the base', async (ctx) => {
    ferretdbOrSkip(ctx);
    const json = await ws.run(['--json', 'show', second.id]);
    expect(json.code, describeRun(json)).toBe(0);
    const shown = json.json<{ backup: BackupJson & { chains: Array<{ target: string; links: string[]; intact: boolean }> } }>().backup;
    expect(shown).toMatchObject({ type: 'INCREMENTAL', parent: first.id, base: full.id, pointInTime: true, oplog: second.oplog });
    expect(shown.chains).toEqual([expect.objectContaining({ target: 'local', links: [full.id, first.id, second.id], intact: true })]);

    const text = await ws.run(['show', second.id]);
    expect(text.stdout).toContain(`Parent      ${first.id}`);
    expect(text.stdout).toContain(`Oplog       ${second.oplog!.entries} entries`);
    expect(text.stdout).toContain(`Chain on local: ${full.id} → ${first.id} → ${second.id}  (intact)`);
  });

  it('verify --deep of the last incremental parses every link of its chain', async (ctx) => {
    ferretdbOrSkip(ctx);
    const result = await ws.run(['--json', 'verify', second.id, '--deep']);
    expect(result.code, describeRun(result)).toBe(0);
    const copies = result.json<{ result: { valid: boolean; copies: Array<{ chain?: string[]; valid: boolean }> } }>().result.copies;
    expect(copies).toEqual([expect.objectContaining({ valid: true, chain: [full.id, first.id, second.id] })]);

    const all = await ws.run(['--json', 'verify', '--all', '--deep']);
    expect(all.code, describeRun(all)).toBe(0);
    const each = all.json<{ result: { copies: Array<{ backupId: string; chain?: string[] }> } }>().result.copies;
    // Ids order by the second only: backups made within one second come in any order.
    expect(new Map(each.map((c) => [c.backupId, c.chain?.length]))).toEqual(
      new Map([
        [second.id, 3],
        [first.id, 2],
        [full.id, undefined],
      ]),
    );
  });

  it('health measures the newest restore point against health.rpoMinutes and reads the source oplog window', async (ctx) => {
    ferretdbOrSkip(ctx);
    await withHealthConfig({ rpoMinutes: 60, incrementalInterval: '1ms' });
    const fresh = await health();
    expect(fresh.health.issues, JSON.stringify(fresh.health)).toEqual([]);
    expect(fresh.code).toBe(0);
    expect(fresh.health.metrics.newestRestorePoint).toMatchObject({ time: second.oplog!.toTime, backupId: second.id });
    const local = fresh.health.metrics.targets.find((t) => t.name === 'local')!;
    expect(local.restorableSeconds).toBe(Math.round((Date.parse(second.oplog!.toTime) - Date.parse(full.oplog!.toTime)) / 1000));

    // The restore point is seconds old by now: 0.01 minutes (0.6 s) makes it more than twice too old.
    await withHealthConfig({ rpoMinutes: 0.01, incrementalInterval: '1ms' });
    const stale = await health();
    expect(stale.code).toBe(2);
    const rpo = stale.health.issues.filter((i) => i.type === 'restore_point_too_old');
    expect(rpo).toEqual([expect.objectContaining({ level: 'CRITICAL', message: expect.stringContaining(second.id) })]);
    const alerts = (await ws.run(['--json', 'alerts', 'list'])).json<{ alerts: Array<{ type: string; level: string }> }>().alerts;
    expect(alerts.some((a) => a.type === 'restore_point_too_old' && a.level === 'CRITICAL')).toBe(true);

    // The default interval (1h) is far longer than this young oplog: a WARNING read from the source itself.
    await withHealthConfig({});
    const window = await health();
    expect(window.health.issues.map((i) => [i.level, i.type])).toEqual([['WARNING', 'oplog_window_short']]);
    expect(window.code).toBe(1);

    const prom = join(ws.dir, 'metrics.prom');
    await ws.run(['health', '--prometheus', prom]);
    const text = await readFile(prom, 'utf8');
    expect(text).toContain(`mongo_backup_restore_point_timestamp_seconds{target="local"} ${Date.parse(second.oplog!.toTime) / 1000}`);
    expect(text).toMatch(/mongo_backup_restorable_window_seconds\{target="local"\} \d+/);
  });

  it('verify of the last incremental fails (exit 3) naming a damaged middle link', async (ctx) => {
    ferretdbOrSkip(ctx);
    const file = await storedObjectPath(ws.backupsDir, first.id);
    const original = await readFile(file);
    const damaged = Buffer.from(original);
    damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
    await writeFile(file, damaged);
    try {
      const result = await ws.run(['--json', 'verify', second.id]);
      expect(result.code, describeRun(result)).toBe(3);
      const error = result.json<{ error: { code: string; message: string } }>().error;
      expect(error.code).toBe('CHECKSUM_MISMATCH');
      expect(error.message).toContain(`link ${first.id}`);
    } finally {
      await writeFile(file, original);
    }
    const again = await ws.run(['verify', second.id]);
    expect(again.code, describeRun(again)).toBe(0);
  });

  it('a missing middle link: verify of the last reports the gap, list shows it orphaned, health is CRITICAL', async (ctx) => {
    ferretdbOrSkip(ctx);
    const folder = join(ws.backupsDir, first.id);
    const away = join(ws.dir, 'moved-away');
    await rename(folder, away);
    try {
      const result = await ws.run(['--json', 'verify', second.id]);
      expect(result.code, describeRun(result)).toBe(3);
      const error = result.json<{ error: { code: string; message: string } }>().error;
      expect(error.code).toBe('INTEGRITY');
      expect(error.message).toContain(`the chain of ${second.id} on local is broken, gap: ${first.id}, the parent of ${second.id}, is missing`);
      expect(error.message).toContain(second.oplog!.fromTime);

      const listed = (await ws.run(['--json', 'list'])).json<{ pitr: Array<{ to: string }>; orphans: Array<{ target: string; id: string; reason: string }> }>();
      expect(listed.pitr).toEqual([expect.objectContaining({ to: full.oplog!.toTime })]);
      expect(listed.orphans).toEqual([{ target: 'local', id: second.id, reason: `its parent ${first.id} is missing on this target` }]);

      await withHealthConfig({ incrementalInterval: '1ms' });
      const broken = await health();
      expect(broken.code).toBe(2);
      expect(broken.health.status).toBe('CRITICAL');
      const chain = broken.health.issues.filter((i) => i.type === 'chain_broken');
      expect(chain).toEqual([expect.objectContaining({ level: 'CRITICAL', target: 'local', message: expect.stringContaining(second.id) })]);
    } finally {
      await rename(away, folder);
    }
  });
});

describe('point-in-time chains are per target: local, S3 and SFTP', () => {
  let ws: Workspace;
  let full: BackupJson;
  let first: BackupJson;
  let second: BackupJson;


  beforeAll(async () => {
    const bed = testbed();
    if (!replicaSetAvailable() || bed.missing.s3 !== undefined || bed.missing.sftp !== undefined) return;
    const mongo = await servers.replicaSet('pitr-views');
    ws = await servers.workspace(mongo);
    const config = parse(await readFile(ws.configFile, 'utf8')) as Record<string, unknown>;
    await ws.writeConfig({
      ...config,
      targets: [localTarget('local', ws.backupsDir), s3Target('s3', bed.s3, uniquePrefix('pitr-views')), sftpTarget('sftp', bed.sftp, uniquePrefix('pitr-views'))],
      health: { incrementalInterval: '1ms' },
    });
    ({ full, first, second } = await makeChain(mongo, ws));
  });

  it("each target has its own window; a link gone from one target breaks only that target's chain", async (ctx) => {
    ferretdbOrSkip(ctx);
    peerOrSkip('s3', ctx);
    peerOrSkip('sftp', ctx);
    const window = { from: full.oplog!.toTime, to: second.oplog!.toTime, base: full.id };
    const listed = (await ws.run(['--json', 'list'])).json<{ pitr: Array<{ target: string }> }>();
    expect(listed.pitr).toEqual(['local', 's3', 'sftp'].map((target) => ({ target, ...window })));

    const deep = await ws.run(['--json', 'verify', second.id, '--deep']);
    expect(deep.code, describeRun(deep)).toBe(0);
    const copies = deep.json<{ result: { copies: Array<{ target: string; valid: boolean; chain?: string[] }> } }>().result.copies;
    expect(copies.map((c) => [c.target, c.valid, c.chain])).toEqual(['local', 's3', 'sftp'].map((t) => [t, true, [full.id, first.id, second.id]]));

    const removed = await ws.run(['delete', first.id, '--target', 's3', '--yes']);
    expect(removed.code, describeRun(removed)).toBe(0);

    const quick = await ws.run(['--json', 'verify', second.id]);
    expect(quick.code, describeRun(quick)).toBe(3);
    const after = quick.json<{ result: { copies: Array<{ target: string; valid: boolean; issues: string[] }> } }>().result.copies;
    expect(after.map((c) => [c.target, c.valid])).toEqual([
      ['local', true],
      ['s3', false],
      ['sftp', true],
    ]);
    expect(after[1]!.issues.join('\n')).toContain(`${first.id}, the parent of ${second.id}, is missing`);

    const relisted = (await ws.run(['--json', 'list'])).json<{ pitr: Array<{ target: string; to: string }>; orphans: Array<{ target: string; id: string }> }>();
    expect(relisted.pitr.map((w) => [w.target, w.to])).toEqual([
      ['local', second.oplog!.toTime],
      ['s3', full.oplog!.toTime],
      ['sftp', second.oplog!.toTime],
    ]);
    expect(relisted.orphans).toEqual([expect.objectContaining({ target: 's3', id: second.id })]);

    const health = await ws.run(['--json', 'health']);
    const report = health.json<{ health: HealthJson }>().health;
    expect(report.issues.filter((i) => i.type === 'chain_broken').map((i) => i.target)).toEqual(['s3']);
    expect(report.metrics.newestRestorePoint).toMatchObject({ time: second.oplog!.toTime, targets: ['local', 'sftp'] });
    expect(health.code).toBe(2);
  });
});
