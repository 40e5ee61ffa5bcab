// Interrupted and killed backups, end to end (docs/REFERENCE.md#failure-semantics). `create` is stopped at each test
// checkpoint (src/engine/checkpoints.ts: dump-started, upload-started, before-manifest):
// - SIGTERM: exit 130 after cleanup — nothing COMPLETED, no temporary file, no half object and no
//   pending multipart upload on any target, an INTERRUPTED run in the journal, lock released;
//   the next create succeeds.
// - SIGKILL: no cleanup at all — the lock names a dead PID and the next create takes it over with
//   a warning; the leftovers (temporary files, a folder without manifest, a pending S3 multipart
//   upload) never list as COMPLETED, and prune removes them once they are older than the grace period.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { optionalPeer, peerMissingReason, peerOrSkip, testbed, type MongoPeer } from '../setup/testbed.js';
import {
  createHeldAt,
  DAY,
  filesUnder,
  journal,
  listed,
  localTargetConfig,
  makeSandbox,
  mongoConfig,
  pollUntil,
  runCli,
  s3TargetConfig,
  seededDatabase,
  spawnCli,
  uniquePrefix,
  type RunningCli,
  type Sandbox,
} from './run-fixtures.js';

const CHECKPOINTS = ['dump-started', 'upload-started', 'before-manifest'] as const;
type Checkpoint = (typeof CHECKPOINTS)[number];

let mongo: MongoPeer;
let db: string;
let sandbox: Sandbox;
/** The S3 prefix of this test's offsite target, or undefined when the S3 peer is missing (locally; in CI that fails). */
let s3Prefix: string | undefined;

beforeAll(async () => {
  if (peerMissingReason('mongo') !== undefined) return;
  mongo = testbed().mongo;
  db = await seededDatabase(mongo, 'interrupt');
});

beforeEach(async ({ skip, onTestFinished }) => {
  peerOrSkip('mongo', { skip });
  sandbox = await makeSandbox('interrupt');
  s3Prefix = optionalPeer('s3') ? uniquePrefix('interrupt') : undefined;
  await writeConfig();
  onTestFinished(() => sandbox.cleanup());
});

async function writeConfig(extra: Record<string, unknown> = {}, s3Extra: Record<string, unknown> = {}): Promise<void> {
  const targets = [localTargetConfig(sandbox), ...(s3Prefix ? [s3TargetConfig('offsite', s3Prefix, s3Extra)] : [])];
  await sandbox.writeConfig({ mongodb: mongoConfig(mongo), stateDir: sandbox.stateDir, targets, ...extra });
}

function s3Client(): S3Client {
  const s3 = testbed().s3;
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}

/** Object keys under this test's S3 prefix, and the multipart uploads still pending there. */
async function s3State(): Promise<{ keys: string[]; pendingUploads: string[] }> {
  if (!s3Prefix) return { keys: [], pendingUploads: [] };
  const client = s3Client();
  try {
    const bucket = testbed().s3.bucket;
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: s3Prefix }));
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: s3Prefix }));
    return {
      keys: (listed.Contents ?? []).map((o) => o.Key!.slice(s3Prefix!.length)).sort(),
      pendingUploads: (uploads.Uploads ?? []).map((u) => u.Key!),
    };
  } finally {
    client.destroy();
  }
}

/** The one COMPLETED backup `list` shows (on every target); fails if there are more or none. */
async function onlyCompletedId(): Promise<string> {
  const completed = await listed(sandbox, ['--status', 'COMPLETED']);
  expect(completed).toEqual([expect.objectContaining({ targets: s3Prefix ? ['local', 'offsite'] : ['local'] })]);
  return completed[0]!.id;
}

/** Documents holding `bytes` of random base64 each: nothing for a compressor to win. */
function randomDocuments(count: number, bytes: number): Array<{ _id: number; payload: string }> {
  return Array.from({ length: count }, (_, index) => ({ _id: index, payload: randomBytes((bytes * 3) / 4).toString('base64') }));
}

const isTemporary = (file: string): boolean => /(^|\/)\.tmp-/.test(file);
const lockFile = (): string => join(sandbox.stateDir, 'lock');

/**
 * Holds `create` at the checkpoint and checks that it really is where the name says: before
 * anything reached a target, with the first bytes of the archive in a temporary file, or with
 * the archive stored under its final name but no manifest.
 */
async function holdAt(checkpoint: Checkpoint): Promise<RunningCli> {
  const run = await createHeldAt(sandbox, checkpoint, ['--db', db]);
  const local = await filesUnder(sandbox.localDir);
  if (checkpoint === 'dump-started') {
    for (const file of local) {
      expect(isTemporary(file) || file.endsWith('/'), `${file} exists at dump-started`).toBe(true);
      if (isTemporary(file)) expect((await stat(join(sandbox.localDir, file))).size).toBe(0);
    }
  } else if (checkpoint === 'upload-started') {
    await pollUntil('the first bytes to reach the local target', async () => {
      const temporaries = (await filesUnder(sandbox.localDir)).filter(isTemporary);
      if (temporaries.length !== 1) return false;
      return (await stat(join(sandbox.localDir, temporaries[0]!))).size > 0;
    });
    expect((await filesUnder(sandbox.localDir)).filter((f) => !isTemporary(f))).toEqual([]);
  } else {
    expect(local).toEqual([expect.stringMatching(/^backup-[\d-]+-[0-9a-f]{6}\/dump\.archive\.zst$/)]);
    if (s3Prefix) expect((await s3State()).keys).toEqual(local);
  }
  return run;
}

describe('SIGTERM during create', () => {
  for (const checkpoint of CHECKPOINTS) {
    it(`at ${checkpoint}: exits 130, leaves nothing behind, records the run; the next create succeeds`, async () => {
      const run = await holdAt(checkpoint);
      process.kill(run.pid, 'SIGTERM');
      const result = await run.result;
      expect(result.code, result.stderr).toBe(130);
      expect(result.stderr).toContain('received SIGTERM');
      expect(result.stderr).toMatch(/interrupted/);

      expect(await filesUnder(sandbox.localDir)).toEqual([]);
      expect(await s3State()).toEqual({ keys: [], pendingUploads: [] });
      expect(existsSync(lockFile())).toBe(false);

      const runs = await journal(sandbox);
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ command: 'create', status: 'INTERRUPTED', error: { code: 'INTERRUPTED' } });
      // `list` shows the run as FAILED (from the journal) and no COMPLETED backup.
      expect(await listed(sandbox)).toEqual([expect.objectContaining({ status: 'FAILED', error: expect.objectContaining({ code: 'INTERRUPTED' }) })]);

      const next = await runCli(sandbox, ['--json', 'create', '--db', db]);
      expect(next.code, next.stderr).toBe(0);
      expect(next.stderr).not.toContain('took over');
      expect(await listed(sandbox, ['--status', 'COMPLETED'])).toEqual([
        expect.objectContaining({ id: next.json.backup.id, targets: s3Prefix ? ['local', 'offsite'] : ['local'] }),
      ]);
    });
  }
});

describe('SIGTERM during a multipart upload', () => {
  it('aborts the upload on S3: no object, no pending multipart upload', async ({ skip }) => {
    peerOrSkip('s3', { skip });
    // Incompressible documents, stored uncompressed in 5 MiB parts: the upload is a multipart one
    // and stays open for several parts. The signal goes out once S3 lists it as pending.
    const bigDb = await seededDatabase(mongo, 'multipart', { blobs: randomDocuments(320, 48 * 1024) });
    await writeConfig({}, { partSize: 5 * 1024 * 1024 });
    const run = spawnCli(sandbox, ['create', '--db', bigDb, '--compression', 'none', '--target', 'offsite']);
    await pollUntil('a pending multipart upload on S3', async () => {
      if (run.exited()) throw new Error(`create ended before a multipart upload was seen:\n${(await run.result).stderr}`);
      return (await s3State()).pendingUploads.length > 0;
    });
    process.kill(run.pid, 'SIGTERM');
    const result = await run.result;
    expect(result.code, result.stderr).toBe(130);
    expect(await s3State()).toEqual({ keys: [], pendingUploads: [] });
    expect((await journal(sandbox)).map((r) => r.status)).toEqual(['INTERRUPTED']);
  });
});

describe('SIGKILL during a multipart upload', () => {
  it('leaves the upload pending on S3 (parts billed, no object); prune aborts it after the grace period and names it', async ({ skip }) => {
    peerOrSkip('s3', { skip });
    // As in the SIGTERM case: a multipart upload that stays open for several parts.
    const bigDb = await seededDatabase(mongo, 'multipart', { blobs: randomDocuments(320, 48 * 1024) });
    const s3Extra = { partSize: 5 * 1024 * 1024 };
    await writeConfig({}, s3Extra);
    const run = spawnCli(sandbox, ['create', '--db', bigDb, '--compression', 'none', '--target', 'offsite']);
    await pollUntil('a pending multipart upload on S3', async () => {
      if (run.exited()) throw new Error(`create ended before a multipart upload was seen:\n${(await run.result).stderr}`);
      return (await s3State()).pendingUploads.length > 0;
    });
    process.kill(run.pid, 'SIGKILL');
    expect((await run.result).signal).toBe('SIGKILL');
    const left = await s3State();
    expect(left).toEqual({ keys: [], pendingUploads: [expect.stringMatching(/\/backup-[^/]+\/dump\.archive$/)] });
    const leftover = `${left.pendingUploads[0]!.slice(s3Prefix!.length)} (multipart upload)`;
    const offsite = (report: { json: { prune: { targets: Array<{ target: string; leftovers: string[] }> } } }) =>
      report.json.prune.targets.find((t) => t.target === 'offsite')!;

    // Within the grace period (24h by default) the upload stays: a run might still be writing it.
    const early = await runCli(sandbox, ['--json', 'prune']);
    expect(early.code, early.stderr).toBe(0);
    expect(offsite(early).leftovers).toEqual([]);
    expect((await s3State()).pendingUploads).toEqual(left.pendingUploads);

    // Once it is older than the grace period, prune aborts it and says so: its parts are gone.
    await writeConfig({ incompleteGracePeriod: '0s' }, s3Extra);
    const later = await runCli(sandbox, ['prune']);
    expect(later.code, later.stderr).toBe(0);
    expect(later.stdout).toContain(`removed leftover temporary file ${leftover}`);
    expect(await s3State()).toEqual({ keys: [], pendingUploads: [] });
    const again = await runCli(sandbox, ['--json', 'prune']);
    expect(again.code, again.stderr).toBe(0);
    expect(offsite(again).leftovers).toEqual([]);
  });
});

describe('SIGKILL during create', () => {
  for (const checkpoint of CHECKPOINTS) {
    it(`at ${checkpoint}: the next create takes over the stale lock; prune removes the leftovers after the grace period`, async () => {
      const run = await holdAt(checkpoint);
      process.kill(run.pid, 'SIGKILL');
      const result = await run.result;
      expect(result.signal).toBe('SIGKILL');
      const leftLock = JSON.parse(await readFile(lockFile(), 'utf8')) as { pid: number };
      expect(leftLock.pid).toBe(run.pid);

      const leftovers = await filesUnder(sandbox.localDir);
      if (checkpoint === 'upload-started') expect(leftovers).toEqual([expect.stringMatching(/^backup-[^/]+\/\.tmp-dump\.archive\.zst-[0-9a-f]+$/)]);
      if (checkpoint === 'before-manifest') expect(leftovers).toEqual([expect.stringMatching(/^backup-[^/]+\/dump\.archive\.zst$/)]);
      const incompleteId = checkpoint === 'before-manifest' ? leftovers[0]!.split('/')[0]! : undefined;
      const next = await runCli(sandbox, ['create', '--db', db]);
      expect(next.code, next.stderr).toBe(0);
      expect(next.stderr).toContain(`took over a stale lock held by PID ${run.pid}`);
      expect(next.stderr).toContain(`process ${run.pid} on this host no longer exists`);
      const completed = await onlyCompletedId();
      const completeFiles = [`${completed}/dump.archive.zst`, `${completed}/manifest.json`];

      // Within the grace period (24h by default) the leftovers stay: a run might still be writing them.
      const early = await runCli(sandbox, ['--json', 'prune']);
      expect(early.code, early.stderr).toBe(0);
      const earlyLocal = early.json.prune.targets.find((t: { target: string }) => t.target === 'local');
      expect(earlyLocal.leftovers).toEqual([]);
      if (incompleteId) {
        expect(earlyLocal.decisions).toContainEqual(
          expect.objectContaining({ id: incompleteId, status: 'INCOMPLETE', action: 'keep', reasons: ['incomplete (no manifest), within grace period 1d'] }),
        );
      }
      expect((await filesUnder(sandbox.localDir)).sort()).toEqual([...leftovers, ...completeFiles].sort());

      // A day later (file times moved back) the temporary files go...
      const temporaries = leftovers.filter(isTemporary);
      const aDayAgo = new Date(Date.now() - DAY - 60_000);
      for (const file of temporaries) await utimes(join(sandbox.localDir, file), aDayAgo, aDayAgo);
      const later = await runCli(sandbox, ['--json', 'prune']);
      expect(later.code, later.stderr).toBe(0);
      expect(later.json.prune.targets.find((t: { target: string }) => t.target === 'local').leftovers).toEqual(temporaries);
      expect((await filesUnder(sandbox.localDir)).sort()).toEqual([...leftovers.filter((f) => !isTemporary(f)), ...completeFiles].sort());

      // ...and with a grace period the folder without manifest has outlived, so does that folder.
      await writeConfig({ incompleteGracePeriod: '0s' });
      const pruned = await runCli(sandbox, ['prune']);
      expect(pruned.code, pruned.stderr).toBe(0);
      if (incompleteId) {
        expect(pruned.stdout).toMatch(new RegExp(`delete\\s+${incompleteId}\\s.*INCOMPLETE\\s+incomplete \\(no manifest\\), older than grace period 0s`));
      }
      expect((await filesUnder(sandbox.localDir)).sort()).toEqual(completeFiles.sort());
      expect(await s3State()).toEqual({ keys: s3Prefix ? completeFiles : [], pendingUploads: [] });
      expect(await onlyCompletedId()).toBe(completed);
    });
  }
});
