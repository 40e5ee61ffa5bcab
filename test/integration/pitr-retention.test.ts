// Retention and replication of point-in-time chains (docs/REFERENCE.md#retention, #replicate),
// end to end against a private FerretDB replica set with an oplog: a real chain (a full backup and
// three incrementals) on a local target. Prune keeps the full a kept incremental depends on;
// `replicate` of the last incremental to a second local target copies the whole chain, oldest
// first, and the copies verify (and --all-missing on to S3 and SFTP where those peers run); after
// `delete` of a middle link, prune removes the links after it and says why (only reporting it with
// --dry-run), on the local target and on S3 and SFTP.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MongoClient } from 'mongodb';
import { optionalPeer, peerOrSkip, testbed } from '../setup/testbed.js';
import type { MongoPeer } from '../setup/peers.js';
import { baseConfig, describeRun, withMongo, type Workspace } from './helpers.js';
import { PrivateServers, createBackup, ferretdbOrSkip, replicaSetAvailable, type BackupJson } from './pitr-fixtures.js';
import { targetConfig, uniquePrefix, type TargetConfig } from './target-configs.js';

interface DecisionJson {
  id: string;
  type?: string;
  action: 'keep' | 'delete';
  reasons: string[];
  deleted?: boolean;
}

interface PruneJson {
  prune: { dryRun: boolean; targets: Array<{ target: string; decisions: DecisionJson[]; kept: number; deleted: number }> };
}

const servers = new PrivateServers();
afterAll(() => servers.stopAll());

async function writeSome(client: MongoClient, start: number): Promise<void> {
  const c = client.db('pitr').collection<{ _id: number; n: number }>('c');
  for (let i = 0; i < 5; i++) await c.insertOne({ _id: start + i, n: i });
  await c.updateOne({ _id: start }, { $set: { n: -1 } });
  await c.deleteOne({ _id: start + 1 });
}

describe('point-in-time chains: prune and replicate', () => {
  let mongo: MongoPeer;
  let ws: Workspace;
  let copyDir: string;
  /** S3 and SFTP targets where their peers run (in CI every peer is required). */
  const remotes: TargetConfig[] = [];
  const chain: BackupJson[] = [];

  const create = (args: string[]): Promise<BackupJson> => createBackup(ws, ['--target', 'local', ...args]);

  async function prune(args: string[], target = 'local'): Promise<PruneJson['prune']['targets'][number]> {
    const result = await ws.run(['--json', 'prune', '--target', target, ...args]);
    expect(result.code, describeRun(result)).toBe(0);
    return result.json<PruneJson>().prune.targets[0]!;
  }

  async function idsOn(target: string): Promise<string[]> {
    const result = await ws.run(['--json', 'list', '--target', target]);
    expect(result.code, describeRun(result)).toBe(0);
    return result.json<{ backups: Array<{ id: string }> }>().backups.map((b) => b.id).sort();
  }

  beforeAll(async () => {
    if (!replicaSetAvailable()) return;
    mongo = await servers.replicaSet('pitr-retention');
    ws = await servers.workspace(mongo);
    copyDir = join(ws.dir, 'copy');
    for (const kind of ['s3', 'sftp'] as const) {
      // Missing locally: checked on local only; in CI a missing peer fails (optionalPeer).
      if (optionalPeer(kind)) remotes.push(targetConfig(kind, kind, testbed(), { prefix: uniquePrefix('pitr-retention'), localDir: '' }));
    }
    const config = baseConfig(ws, mongo);
    await ws.writeConfig({ ...config, targets: [...(config['targets'] as object[]), { name: 'copy', type: 'local', path: copyDir }, ...remotes] });
    await withMongo(mongo.uri, (client) => writeSome(client, 0));
    chain.push(await create([]));
    for (let i = 1; i <= 3; i++) {
      await withMongo(mongo.uri, (client) => writeSome(client, i * 100));
      chain.push(await create(['--type', 'incremental']));
    }
  });

  it('makes a chain of a full backup and three incrementals on the local target', (ctx) => {
    ferretdbOrSkip(ctx);
    expect(chain.map((b) => b.type)).toEqual(['FULL', 'INCREMENTAL', 'INCREMENTAL', 'INCREMENTAL']);
    expect(chain.slice(1).map((b) => b.parent)).toEqual(chain.slice(0, 3).map((b) => b.id));
  });

  it('keeps the full backup and every link a kept incremental needs, even when the policy would delete them', async (ctx) => {
    ferretdbOrSkip(ctx);
    // keepLast 1 keeps the full, but maxAge 1s overrides it, and the count rules keep no
    // incremental: only the protections keep anything.
    const report = await prune(['--keep-last', '1', '--max-age', '1s']);
    const [full, first, second, third] = chain.map((b) => report.decisions.find((d) => d.id === b.id)!);
    expect(third).toMatchObject({ action: 'keep', type: 'INCREMENTAL', reasons: ['newest completed backup (always kept)'] });
    expect(second).toMatchObject({ action: 'keep', reasons: [`needed by ${chain[3]!.id}`] });
    expect(first).toMatchObject({ action: 'keep', reasons: expect.arrayContaining([`needed by ${chain[2]!.id}`]) });
    expect(full).toMatchObject({ action: 'keep', type: 'FULL', reasons: expect.arrayContaining([`needed by ${chain[1]!.id}`, `needed by ${chain[3]!.id}`]) });
    expect(report.deleted).toBe(0);
    expect(await idsOn('local')).toEqual(chain.map((b) => b.id).sort());
  });

  it('replicating the last incremental to a target without its chain copies the whole chain, oldest first, and the copies verify', async (ctx) => {
    ferretdbOrSkip(ctx);
    const result = await ws.run(['--json', 'replicate', chain[3]!.id, '--to', 'copy']);
    expect(result.code, describeRun(result)).toBe(0);
    const replicated = result.json<{ replicated: Array<{ backupId: string; action: string; from: string }> }>().replicated;
    expect(replicated).toEqual(chain.map((b) => expect.objectContaining({ backupId: b.id, action: 'copied', from: 'local' })));
    expect(await idsOn('copy')).toEqual(chain.map((b) => b.id).sort());
    for (const backup of chain) {
      const verified = await ws.run(['--json', 'verify', backup.id, '--target', 'copy', '--deep']);
      expect(verified.code, `${backup.id}: ${describeRun(verified)}`).toBe(0);
    }
    const copied = await ws.run(['--json', 'list', '--target', 'copy']);
    const checksums = Object.fromEntries(copied.json<{ backups: BackupJson[] }>().backups.map((b) => [b.id, b.checksum]));
    expect(checksums).toEqual(Object.fromEntries(chain.map((b) => [b.id, b.checksum])));

    const again = await ws.run(['--json', 'replicate', '--all-missing', '--to', 'copy']);
    expect(again.code, describeRun(again)).toBe(0);
    expect(again.json<{ replicated: unknown[] }>().replicated).toEqual([]);
  });

  it('--all-missing to S3 and SFTP copies the chain, never a link before its parent, and the copies verify', async (ctx) => {
    ferretdbOrSkip(ctx);
    if (remotes.length === 0) ctx.skip('no S3 or SFTP peer running');
    for (const remote of remotes) {
      const result = await ws.run(['--json', 'replicate', '--all-missing', '--from', 'copy', '--to', remote.name]);
      expect(result.code, describeRun(result)).toBe(0);
      const replicated = result.json<{ replicated: Array<{ backupId: string; action: string }> }>().replicated;
      expect(replicated, remote.name).toEqual(chain.map((b) => expect.objectContaining({ backupId: b.id, action: 'copied' })));
      const verified = await ws.run(['--json', 'verify', chain[3]!.id, '--target', remote.name, '--deep']);
      expect(verified.code, `${remote.name}: ${describeRun(verified)}`).toBe(0);
      expect(await idsOn(remote.name)).toEqual(chain.map((b) => b.id).sort());
    }
  });

  it('after a middle link is deleted, prune removes the links after it and says why; --dry-run only reports', async (ctx) => {
    ferretdbOrSkip(ctx);
    const [full, first, middle, last] = chain;
    const deleted = await ws.run(['--json', 'delete', middle!.id, '--yes', '--target', 'local']);
    expect(deleted.code, describeRun(deleted)).toBe(0);

    const dryRun = await prune(['--dry-run']);
    expect(dryRun.decisions.find((d) => d.id === last!.id)).toMatchObject({
      action: 'delete',
      reasons: [`broken chain: its parent ${middle!.id} is not a completed link of a chain on this target`],
    });
    const text = await ws.run(['prune', '--target', 'local', '--dry-run']);
    expect(text.code, describeRun(text)).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`would delete\\s+${last!.id}.*broken chain: its parent ${middle!.id} is not a completed link`));
    expect(existsSync(join(ws.backupsDir, last!.id, 'manifest.json'))).toBe(true);

    const report = await prune([]);
    expect(report.decisions.find((d) => d.id === last!.id)).toMatchObject({ action: 'delete', deleted: true, reasons: [expect.stringMatching(/^broken chain: /)] });
    expect(report.decisions.find((d) => d.id === first!.id)).toMatchObject({ action: 'keep', reasons: ['newest completed backup (always kept)'] });
    expect(await idsOn('local')).toEqual([full!.id, first!.id].sort());
    expect(existsSync(join(ws.backupsDir, last!.id))).toBe(false);
    // The other target's chain is untouched.
    expect(await idsOn('copy')).toEqual(chain.map((b) => b.id).sort());
  });

  it('the same on S3 and SFTP: a middle link deleted there, prune there removes the later links and says why', async (ctx) => {
    ferretdbOrSkip(ctx);
    if (remotes.length === 0) ctx.skip('no S3 or SFTP peer running');
    const [full, first, middle, last] = chain;
    for (const remote of remotes) {
      expect(await idsOn(remote.name), 'the chain replicated by the test before').toEqual(chain.map((b) => b.id).sort());
      const deleted = await ws.run(['--json', 'delete', middle!.id, '--yes', '--target', remote.name]);
      expect(deleted.code, describeRun(deleted)).toBe(0);
      const dryRun = await prune(['--dry-run'], remote.name);
      expect(dryRun.decisions.find((d) => d.id === last!.id), remote.name).toMatchObject({ action: 'delete', reasons: [expect.stringMatching(/^broken chain: its parent /)] });
      expect(await idsOn(remote.name)).toEqual([full!.id, first!.id, last!.id].sort());
      const report = await prune([], remote.name);
      expect(report.decisions.find((d) => d.id === last!.id), remote.name).toMatchObject({ action: 'delete', deleted: true });
      expect(await idsOn(remote.name)).toEqual([full!.id, first!.id].sort());
    }
  });
});
