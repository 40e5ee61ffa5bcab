// `delete` end to end on a local and an S3 target: --target removes only that copy, without it
// every copy goes, and without --yes off a terminal nothing is touched (exit 2).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peerMissingReason, seedDatabase, testbed } from '../setup/testbed.js';
import { letters, localTarget, makeWorkspace, s3Target, storedKeys, uniquePrefix, type TargetConfig, type Workspace } from './target-configs.js';

interface Backup {
  id: string;
  object: string;
}

const missing = peerMissingReason('mongo') ?? peerMissingReason('s3');
if (missing && process.env['CI'] === 'true') throw new Error(`delete tests need the mongo and s3 peers: ${missing}`);

describe.skipIf(missing !== undefined)('delete', () => {
  let ws: Workspace;
  let local: TargetConfig;
  let s3: TargetConfig;
  /** Three backups, each on both targets; one per test. */
  const backups: Backup[] = [];

  beforeAll(async () => {
    const bed = testbed();
    const db = `deleting${letters(6)}`;
    await seedDatabase(bed.mongo.uri, db, { people: 300 });
    ws = await makeWorkspace('delete', bed.mongo);
    local = localTarget('local', join(ws.dir, 'local'));
    s3 = s3Target('s3', bed.s3, uniquePrefix('delete'));
    await ws.writeConfig({ targets: [local, s3] });
    for (let i = 0; i < 3; i++) {
      const created = await ws.run(['--json', 'create', '--db', db]);
      expect(created.code, created.stderr).toBe(0);
      expect(created.json.backup.targets).toEqual(['local', 's3']);
      backups.push(created.json.backup);
    }
  });

  afterAll(async () => {
    await ws?.cleanup();
  });

  /** Where `list` says each backup is COMPLETED: id -> target names. */
  async function holders(): Promise<Record<string, string[]>> {
    const listed = await ws.run(['--json', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    return Object.fromEntries((listed.json.backups as Array<{ id: string; targets: string[] }>).map((b) => [b.id, b.targets]));
  }

  async function objectsOf(backup: Backup): Promise<{ local: string[]; s3: string[] }> {
    return { local: await storedKeys(local, `${backup.id}/`), s3: await storedKeys(s3, `${backup.id}/`) };
  }

  const both = (backup: Backup) => [`${backup.id}/${backup.object}`, `${backup.id}/manifest.json`];

  it('without --yes, off a terminal: exit 2 and nothing is deleted', async () => {
    const [backup] = backups;
    const result = await ws.run(['delete', backup!.id]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--yes/);
    expect((await holders())[backup!.id]).toEqual(['local', 's3']);
    expect(await objectsOf(backup!)).toEqual({ local: both(backup!), s3: both(backup!) });
  });

  it('--target s3 --yes removes only the S3 copy', async () => {
    const backup = backups[1]!;
    const result = await ws.run(['--json', 'delete', backup.id, '--target', 's3', '--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json.targets).toEqual([expect.objectContaining({ target: 's3', ok: true })]);
    expect((await holders())[backup.id]).toEqual(['local']);
    expect(await objectsOf(backup)).toEqual({ local: both(backup), s3: [] });
  });

  it('--yes without --target removes every copy, and only that backup', async () => {
    const backup = backups[2]!;
    const result = await ws.run(['--json', 'delete', backup.id, '--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect((result.json.targets as Array<{ target: string; ok: boolean }>).map((t) => [t.target, t.ok])).toEqual([
      ['local', true],
      ['s3', true],
    ]);
    const remaining = await holders();
    expect(remaining[backup.id]).toBeUndefined();
    expect(await objectsOf(backup)).toEqual({ local: [], s3: [] });
    expect(existsSync(join(local['path'] as string, backup.id)), 'no empty folder is left behind').toBe(false);
    // The others are untouched.
    expect(remaining[backups[0]!.id]).toEqual(['local', 's3']);
  });
});
