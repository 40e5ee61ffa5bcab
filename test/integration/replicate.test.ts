// `replicate` end to end: copying a backup from a local target to S3 verifies it there and writes
// the manifest last; running it again changes nothing; --all-missing copies exactly what the
// destination lacks; a corrupted source copy is refused (exit 3) and leaves nothing COMPLETED.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { peerOrSkip, seedDatabase, testbed, type MongoPeer } from '../setup/testbed.js';
import { letters, localTarget, makeWorkspace, s3Target, storedDigest, storedKeys, uniquePrefix, type TargetConfig, type Workspace } from './target-configs.js';

const workspaces: Workspace[] = [];
afterAll(async () => {
  await Promise.all(workspaces.map((w) => w.cleanup()));
});

let seeded: Promise<string> | undefined;
/** One small database for every test of this file. */
function sourceDatabase(mongo: MongoPeer): Promise<string> {
  seeded ??= (async () => {
    const db = `replica${letters(6)}`;
    await seedDatabase(mongo.uri, db, { people: 1500, orders: 500 });
    return db;
  })();
  return seeded;
}

/** A workspace with a local target and an S3 target under a prefix of its own. */
async function setup(mongo: MongoPeer, label: string): Promise<{ ws: Workspace; local: TargetConfig; s3: TargetConfig; db: string }> {
  const ws = await makeWorkspace(label, mongo);
  workspaces.push(ws);
  const local = localTarget('local', join(ws.dir, 'local'));
  const s3 = s3Target('s3', testbed().s3, uniquePrefix(label));
  await ws.writeConfig({ targets: [local, s3] });
  return { ws, local, s3, db: await sourceDatabase(mongo) };
}

async function createOnLocal(ws: Workspace, db: string): Promise<{ id: string; checksum: string; object: string; storedSize: number }> {
  const created = await ws.run(['--json', 'create', '--db', db, '--target', 'local']);
  expect(created.code, created.stderr).toBe(0);
  return created.json.backup;
}

async function listed(ws: Workspace, target: string): Promise<Array<{ id: string; status: string; checksum: string }>> {
  const result = await ws.run(['--json', 'list', '--target', target]);
  expect(result.code, result.stderr).toBe(0);
  return result.json.backups;
}

describe('replicate', () => {
  it('copies latest to S3 and verifies it there; a second run is a no-op', async (ctx) => {
    const mongo = peerOrSkip('mongo', ctx);
    peerOrSkip('s3', ctx);
    const { ws, s3, db } = await setup(mongo, 'replicate');
    const backup = await createOnLocal(ws, db);
    expect(await listed(ws, 's3')).toEqual([]);

    const copied = await ws.run(['--json', 'replicate', 'latest', '--to', 's3']);
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.json.replicated).toEqual([expect.objectContaining({ backupId: backup.id, from: 'local', to: 's3', action: 'copied', bytes: backup.storedSize })]);
    expect(await listed(ws, 's3')).toEqual([expect.objectContaining({ id: backup.id, status: 'COMPLETED', checksum: backup.checksum })]);
    // The bytes on S3, read with the S3 client itself, are the bytes of the manifest.
    expect(await storedDigest(s3, `${backup.id}/${backup.object}`, testbed())).toEqual({ checksum: backup.checksum, size: backup.storedSize });
    // And the copy is restorable on its own: decrypted, decompressed and parsed from S3.
    const deep = await ws.run(['--json', 'verify', backup.id, '--target', 's3', '--deep']);
    expect(deep.code, deep.stderr).toBe(0);
    expect(deep.json.result.valid).toBe(true);

    const again = await ws.run(['replicate', 'latest', '--to', 's3']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`${backup.id}: already on s3`);
    expect(await storedKeys(s3, `${backup.id}/`)).toEqual([`${backup.id}/${backup.object}`, `${backup.id}/manifest.json`]);
  });

  it('--all-missing copies only the backups the destination lacks', async (ctx) => {
    const mongo = peerOrSkip('mongo', ctx);
    peerOrSkip('s3', ctx);
    const { ws, db } = await setup(mongo, 'allmissing');
    const first = await createOnLocal(ws, db);
    const second = await createOnLocal(ws, db);
    const third = await createOnLocal(ws, db);
    expect((await ws.run(['replicate', second.id, '--to', 's3'])).code).toBe(0);

    const result = await ws.run(['--json', 'replicate', '--all-missing', '--from', 'local', '--to', 's3']);
    expect(result.code, result.stderr).toBe(0);
    const actions = Object.fromEntries((result.json.replicated as Array<{ backupId: string; action: string }>).map((o) => [o.backupId, o.action]));
    expect(actions).toEqual({ [first.id]: 'copied', [third.id]: 'copied' });
    expect((await listed(ws, 's3')).map((b) => b.id).sort()).toEqual([first.id, second.id, third.id].sort());

    const nothingLeft = await ws.run(['--json', 'replicate', '--all-missing', '--to', 's3']);
    expect(nothingLeft.code, nothingLeft.stderr).toBe(0);
    expect(nothingLeft.json.replicated).toEqual([]);
  });

  it('refuses a corrupted source copy: exit 3, nothing COMPLETED (nor left) at the destination', async (ctx) => {
    const mongo = peerOrSkip('mongo', ctx);
    peerOrSkip('s3', ctx);
    const { ws, local, s3, db } = await setup(mongo, 'corrupt');
    const backup = await createOnLocal(ws, db);

    // Flip one byte in the middle of the stored object (the manifest still has the old checksum).
    const file = await open(join(local['path'] as string, backup.id, backup.object), 'r+');
    try {
      const position = Math.floor(backup.storedSize / 2);
      const byte = Buffer.alloc(1);
      await file.read(byte, 0, 1, position);
      byte[0] = byte[0]! ^ 0xff;
      await file.write(byte, 0, 1, position);
    } finally {
      await file.close();
    }

    const result = await ws.run(['--json', 'replicate', backup.id, '--to', 's3']);
    expect(result.code, result.stderr).toBe(3);
    expect(result.json.replicated).toEqual([expect.objectContaining({ backupId: backup.id, action: 'failed', error: expect.objectContaining({ code: 'CHECKSUM_MISMATCH' }) })]);
    expect(await listed(ws, 's3')).toEqual([]);
    expect(await storedKeys(s3, `${backup.id}/`)).toEqual([]);
  });
});
