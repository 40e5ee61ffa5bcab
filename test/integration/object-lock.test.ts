// S3 Object Lock end to end (docs/TARGETS.md#object-lock), against a private versitygw with
// versioning (docs/TESTBED.md#s3-with-object-lock-versioning): a locked backup cannot be removed by
// `delete`, `prune` or the host's own credentials deleting its versions; once a (short, real) lock
// ends, prune removes every version; a bucket without Object Lock is refused with exit 2; replicate
// to a locked target locks the copy there; list,
// show, verify and health report the locks. Retention's clock is faked by planting backups with old
// start times; the server's lock is real and a few seconds long, waited for by polling prune.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
  type ObjectLockMode,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newBackupId } from '../../src/engine/ids.js';
import { archiveObjectName, MANIFEST_FILE, serializeManifest, type Manifest } from '../../src/engine/manifest.js';
import { createTarget } from '../../src/targets/registry.js';
import type { TargetConfigBase } from '../../src/targets/types.js';
import { peerDataDir, peerMissingReason, peerOrSkip, removePeerDataDir, startS3, testbed, type MongoPeer, type PeerHandle, type S3Peer } from '../setup/testbed.js';
import { plantedManifest } from './plant.js';
import { s3Target } from './target-configs.js';
import { DAY, makeSandbox, mongoConfig, pollUntil, runCli, seededDatabase, uniquePrefix, type Sandbox } from './run-fixtures.js';

let s3: PeerHandle<S3Peer> | undefined;
let dataDir: string | undefined;
let client: S3Client;
let mongo: MongoPeer;
let db: string;
let sandbox: Sandbox;
const PLAIN_BUCKET = 'no-lock-bucket';

beforeAll(async () => {
  if (peerMissingReason('s3') !== undefined || peerMissingReason('mongo') !== undefined) return;
  mongo = testbed().mongo;
  db = await seededDatabase(mongo, 'objlock');
  dataDir = await peerDataDir('s3lock');
  s3 = await startS3({ dataDir, objectLock: true, bucket: 'locked-bucket' });
  client = new S3Client({
    endpoint: s3.details.endpoint,
    region: s3.details.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.details.accessKeyId, secretAccessKey: s3.details.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });
  await client.send(new CreateBucketCommand({ Bucket: PLAIN_BUCKET }));
}, 60_000);

afterAll(async () => {
  client?.destroy();
  await s3?.stop();
  if (dataDir) await removePeerDataDir(dataDir);
});

beforeEach(async ({ skip, onTestFinished }) => {
  peerOrSkip('s3', { skip });
  peerOrSkip('mongo', { skip });
  sandbox = await makeSandbox('objlock');
  onTestFinished(() => sandbox.cleanup());
});

/** A target on the private, versioned versitygw, locked unless `objectLock` is null. */
function lockedTarget(name: string, prefix: string, extra: Record<string, unknown> = {}): TargetConfigBase {
  return s3Target(name, s3!.details, prefix, { objectLock: { mode: 'COMPLIANCE', days: 1 }, ...extra });
}

async function configure(targets: TargetConfigBase[], extra: Record<string, unknown> = {}): Promise<void> {
  await sandbox.writeConfig({ mongodb: mongoConfig(mongo), stateDir: sandbox.stateDir, targets, ...extra });
}

async function head(key: string): Promise<{ mode?: string; until?: Date }> {
  const answer = await client.send(new HeadObjectCommand({ Bucket: s3!.details.bucket, Key: key }));
  return { ...(answer.ObjectLockMode ? { mode: answer.ObjectLockMode } : {}), ...(answer.ObjectLockRetainUntilDate ? { until: answer.ObjectLockRetainUntilDate } : {}) };
}

/** Every version and delete marker stored under `prefix`. */
async function versionsUnder(prefix: string): Promise<Array<{ key: string; versionId: string; marker: boolean }>> {
  const page = await client.send(new ListObjectVersionsCommand({ Bucket: s3!.details.bucket, Prefix: prefix }));
  return [
    ...(page.Versions ?? []).map((v) => ({ key: v.Key!, versionId: v.VersionId!, marker: false })),
    ...(page.DeleteMarkers ?? []).map((m) => ({ key: m.Key!, versionId: m.VersionId!, marker: true })),
  ];
}

/** Runs `create`; returns the backup id and the lock the copy on `vault` reported. */
async function createBackup(): Promise<{ id: string; lock: { mode: string; retainUntil: string } }> {
  const created = await runCli(sandbox, ['--json', 'create', '--db', db]);
  expect(created.code, created.stderr).toBe(0);
  return { id: created.json.backup.id, lock: created.json.copies.find((c: { name: string }) => c.name === 'vault').objectLock };
}

/**
 * A completed backup written with the raw SDK, as `create` lays it out, started `startTime` (the
 * retention clock) and locked by the server until `retainUntil` (undefined: not locked at all);
 * `recorded` is the lock its manifest claims.
 */
async function plantLocked(prefix: string, startTime: Date, lock: { mode: ObjectLockMode; retainUntil: Date } | undefined, recorded = lock): Promise<string> {
  const id = newBackupId(startTime);
  const body = Buffer.from(`planted locked archive ${id}\n`.repeat(8));
  const lockParams = lock ? { ObjectLockMode: lock.mode, ObjectLockRetainUntilDate: lock.retainUntil, ChecksumAlgorithm: 'CRC32' as const } : {};
  const put = (key: string, data: Buffer | string) => client.send(new PutObjectCommand({ Bucket: s3!.details.bucket, Key: `${prefix}${id}/${key}`, Body: data, ...lockParams }));
  await put(archiveObjectName('none', false), body);
  const manifest: Manifest = {
    ...plantedManifest(id, body, startTime, { description: 'planted by the object lock test', durationMs: 1000 }),
    ...(recorded ? { objectLock: { mode: recorded.mode as 'COMPLIANCE', retainUntil: recorded.retainUntil.toISOString() } } : {}),
  };
  await put(MANIFEST_FILE, serializeManifest(manifest));
  return id;
}

describe('S3 Object Lock', () => {
  it('refuses with exit 2 a target whose bucket has no Object Lock, saying what to enable', async () => {
    const prefix = uniquePrefix('plain');
    await configure([lockedTarget('plain', prefix, { bucket: PLAIN_BUCKET })]);
    const result = await runCli(sandbox, ['create', '--db', db]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(`bucket ${PLAIN_BUCKET} does not have Object Lock enabled`);
    expect(result.stderr).toContain('--object-lock-enabled-for-bucket');
    const page = await client.send(new ListObjectVersionsCommand({ Bucket: PLAIN_BUCKET, Prefix: prefix }));
    expect(page.Versions ?? []).toEqual([]);
  });

  it('writes a multipart upload locked until creation + days', async () => {
    const prefix = uniquePrefix('multipart');
    const target = createTarget(lockedTarget('big', prefix, { partSize: '5MiB', objectLock: { mode: 'GOVERNANCE', days: 2 } }));
    try {
      const before = Date.now();
      await target.save('big/object', Readable.from([randomBytes(11 * 1024 * 1024)]));
      const lock = await head(`${prefix}big/object`);
      expect(lock.mode).toBe('GOVERNANCE');
      expect(lock.until!.getTime()).toBeGreaterThanOrEqual(before + 2 * DAY - 1000);
      expect(lock.until!.getTime()).toBeLessThanOrEqual(Date.now() + 2 * DAY + 1000);
      expect(await target.capabilities.lockOf!('big/object')).toEqual({ mode: 'GOVERNANCE', retainUntil: lock.until });
    } finally {
      await target.close();
    }
  });

  it('locks a backup that delete, prune and the host deleting its versions cannot remove; list, show and verify report the lock', async () => {
    const prefix = uniquePrefix('locked');
    await configure([lockedTarget('vault', prefix)]);
    const started = Date.now();
    const first = await createBackup();
    const older = first.id;
    const newer = (await createBackup()).id;

    // The archive and the manifest are locked on the server, and the manifest records the archive's lock.
    const shown = await runCli(sandbox, ['--json', 'show', older]);
    expect(shown.code, shown.stderr).toBe(0);
    const manifestLock = await head(`${prefix}${older}/${MANIFEST_FILE}`);
    const archiveLock = await head(`${prefix}${older}/${shown.json.backup.object}`);
    expect(manifestLock.mode).toBe('COMPLIANCE');
    expect(archiveLock.mode).toBe('COMPLIANCE');
    expect(archiveLock.until!.getTime()).toBeGreaterThanOrEqual(started + DAY - 1000);
    expect(first.lock).toEqual({ mode: 'COMPLIANCE', retainUntil: archiveLock.until!.toISOString() });
    expect(shown.json.backup.locks).toEqual([{ target: 'vault', mode: 'COMPLIANCE', retainUntil: archiveLock.until!.toISOString() }]);
    const shownText = await runCli(sandbox, ['show', older]);
    expect(shownText.stdout).toContain(`vault: locked until ${archiveLock.until!.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')} (COMPLIANCE)`);

    const listedJson = await runCli(sandbox, ['--json', 'list']);
    expect(listedJson.json.backups.map((b: { id: string; locks: unknown }) => [b.id, b.locks])).toEqual([
      [newer, [{ target: 'vault', mode: 'COMPLIANCE', retainUntil: expect.any(String) }]],
      [older, [{ target: 'vault', mode: 'COMPLIANCE', retainUntil: archiveLock.until!.toISOString() }]],
    ]);
    expect((await runCli(sandbox, ['list'])).stdout).toContain(`vault (locked until ${archiveLock.until!.toISOString().replace(/\.\d+Z$/, 'Z')})`);

    const verified = await runCli(sandbox, ['--json', 'verify', older]);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.json.result.copies[0].lock).toMatchObject({ intact: true, current: { mode: 'COMPLIANCE' } });

    // delete: refused, exit 1, naming the date; nothing of the backup is gone.
    const before = await versionsUnder(`${prefix}${older}/`);
    const deleted = await runCli(sandbox, ['delete', older, '--yes']);
    expect(deleted.code).toBe(1);
    expect(deleted.stdout + deleted.stderr).toContain(`backup ${older} on target vault is locked until`);
    expect(await versionsUnder(`${prefix}${older}/`)).toEqual(before);

    // prune: retention would delete the older backup; the lock keeps it, reported, exit 0.
    const dryRun = await runCli(sandbox, ['prune', '--dry-run', '--keep-last', '1']);
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(dryRun.stdout).toMatch(new RegExp(`keep +${older} .*locked until .* \\(COMPLIANCE\\)`));
    const pruned = await runCli(sandbox, ['--json', 'prune', '--keep-last', '1']);
    expect(pruned.code, pruned.stdout + pruned.stderr).toBe(0);
    const decision = pruned.json.prune.targets[0].decisions.find((d: { id: string }) => d.id === older);
    expect(decision).toMatchObject({ action: 'keep', lockedUntil: manifestLock.until!.toISOString() });
    expect(pruned.json.prune.targets[0]).toMatchObject({ locked: 1, deleted: 0 });
    expect((await runCli(sandbox, ['prune', '--keep-last', '1'])).stdout).toMatch(/locked until .* \(COMPLIANCE\): deleted by a prune after that/);

    // The host's own credentials deleting each version: refused by the server.
    for (const version of before) {
      const refused = await client.send(new DeleteObjectCommand({ Bucket: s3!.details.bucket, Key: version.key, VersionId: version.versionId })).then(
        () => 'deleted',
        (error: Error) => error.name,
      );
      expect(refused, version.key).toBe('AccessDenied');
    }
    expect(await versionsUnder(`${prefix}${older}/`)).toEqual(before);
    expect((await runCli(sandbox, ['verify', older])).code).toBe(0);
  });

  it('replicate to a locked target locks the copy there and records that copy\'s own lock', async () => {
    const prefix = uniquePrefix('replica');
    await configure([{ name: 'local', type: 'local', path: sandbox.localDir }, lockedTarget('vault', prefix)]);
    const created = await runCli(sandbox, ['--json', 'create', '--db', db, '--target', 'local']);
    expect(created.code, created.stderr).toBe(0);
    const id = created.json.backup.id as string;

    const replicated = await runCli(sandbox, ['--json', 'replicate', id, '--to', 'vault']);
    expect(replicated.code, replicated.stdout + replicated.stderr).toBe(0);
    const archiveLock = await head(`${prefix}${id}/${created.json.backup.object}`);
    expect(archiveLock.mode).toBe('COMPLIANCE');
    const shown = await runCli(sandbox, ['--json', 'show', id]);
    expect(shown.json.backup.locks).toEqual([{ target: 'vault', mode: 'COMPLIANCE', retainUntil: archiveLock.until!.toISOString() }]);
  });

  it('prune removes every version of a backup once its lock has ended, delete markers included', async () => {
    const prefix = uniquePrefix('expiring');
    await configure([lockedTarget('vault', prefix)]);
    const retainUntil = new Date(Math.ceil((Date.now() + 4000) / 1000) * 1000);
    const old = await plantLocked(prefix, new Date(Date.now() - 40 * DAY), { mode: 'COMPLIANCE', retainUntil });
    const newest = await plantLocked(prefix, new Date(Date.now() - DAY), { mode: 'COMPLIANCE', retainUntil: new Date(Date.now() + DAY) });
    // A plain delete (what the host's credentials can do to a locked object) only hides it behind a marker.
    await client.send(new DeleteObjectCommand({ Bucket: s3!.details.bucket, Key: `${prefix}${old}/${archiveObjectName('none', false)}` }));
    expect((await versionsUnder(`${prefix}${old}/`)).filter((v) => v.marker)).toHaveLength(1);

    const first = await runCli(sandbox, ['--json', 'prune', '--max-age', '30d']);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.json.prune.targets[0].decisions.find((d: { id: string }) => d.id === old)).toMatchObject({ action: 'keep', lockedUntil: retainUntil.toISOString() });

    // The server's lock runs out a few seconds later: the next prune deletes the backup.
    let deletedBy: { action: string; deleted?: boolean } | undefined;
    await pollUntil(
      'prune to delete the backup after its lock ended',
      async () => {
        const again = await runCli(sandbox, ['--json', 'prune', '--max-age', '30d']);
        expect(again.code, again.stdout + again.stderr).toBe(0);
        deletedBy = again.json.prune.targets[0].decisions.find((d: { id: string }) => d.id === old);
        return deletedBy?.action === 'delete';
      },
      30_000,
    );
    expect(deletedBy).toMatchObject({ action: 'delete', deleted: true });
    expect(await versionsUnder(`${prefix}${old}/`)).toEqual([]);
    expect((await versionsUnder(`${prefix}${newest}/`)).length).toBe(2);
  }, 60_000);

  it('verify and health report a copy whose recorded lock is gone; prune --dry-run and health call out a lock at odds with retention', async () => {
    const prefix = uniquePrefix('unlocked');
    await configure([lockedTarget('vault', prefix, { objectLock: { mode: 'COMPLIANCE', days: 60 }, retention: { keepLast: 3, maxAge: '30d' } })]);
    // The manifest says locked, the server holds the archive without a lock (a GOVERNANCE lock removed).
    const id = await plantLocked(prefix, new Date(Date.now() - 3_600_000), undefined, { mode: 'GOVERNANCE', retainUntil: new Date(Date.now() + DAY) });

    const verified = await runCli(sandbox, ['--json', 'verify', id]);
    expect(verified.code).toBe(3);
    expect(verified.json.result.issues[0]).toContain('its Object Lock was removed (recorded locked until');
    expect(verified.json.result.copies[0].lock).toMatchObject({ intact: false, current: null });

    const health = await runCli(sandbox, ['--json', 'health']);
    const lockIssues = (health.json.health.issues as Array<{ type: string; message: string }>).filter((i) => i.type === 'object_lock');
    expect(lockIssues.map((i) => i.message)).toEqual([
      expect.stringContaining('objectLock.days 60 is longer than retention maxAge 30d'),
      expect.stringContaining(`the newest backup ${id} should be locked (objectLock COMPLIANCE, 60 days) but it carries no lock`),
    ]);
    expect(health.json.health.status).not.toBe('HEALTHY');

    const dryRun = await runCli(sandbox, ['prune', '--dry-run']);
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(dryRun.stdout).toContain('objectLock.days 60 is longer than retention maxAge 30d: prune cannot delete backups older than maxAge until their lock ends');
  });
});
