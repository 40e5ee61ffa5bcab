// The optional removeStaleTemporaries capability (prune's removal of upload leftovers of killed runs):
// `.tmp-` files on every target that saves under temporary names, and pending multipart uploads
// on S3. The leftovers are planted directly on the storage with the peer's own client, the way a
// `kill -9` mid-upload leaves them; files are aged by setting their modification time (S3 cannot
// backdate an upload, so there the grace period is 0 or an hour instead).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as posix from 'node:path/posix';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Client as FtpClient } from 'basic-ftp';
import type { SFTPWrapper } from 'ssh2';
import { describe, expect, it, type TestContext } from 'vitest';
import { BackupError, ErrorCodes } from '../../src/errors.js';
import { createTarget } from '../../src/targets/registry.js';
import type { Target, TargetCapabilities } from '../../src/targets/types.js';
import { TEMP_MARKER } from '../../src/targets/util.js';
import { freePort } from '../setup/process.js';
import { connectSftp, ftpAccessOptions, peerOrSkip, type FtpPeer, type S3Peer, type SftpPeer } from '../setup/testbed.js';
import { CLEANUP_PROVEN_FOR } from './capabilities.js';
import { ftpConfig } from './ftp-config.js';
import { hashStream, mapLimit, pseudoRandomStream, readBuffer } from './streams.js';

const HOUR = 60 * 60 * 1000;

/** Direct access to the target's storage, bypassing the target. Keys are relative to its root. */
interface Storage {
  /** Writes a file under `key` whose modification time is `ageMs` in the past. */
  plant(key: string, content: string, ageMs: number): Promise<void>;
  /** Names in the folder `folderKey` ('' = the root), temporary ones included; [] when it is missing. */
  names(folderKey: string): Promise<string[]>;
  close(): Promise<void>;
}

interface Setup {
  target: CleaningTarget;
  storage: Storage;
}

/** A fresh folder (prefix) per test, so reruns against long-lived servers do not collide. */
function freshPrefix(): string {
  return `temporaries-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** A target that declares the cleanup capability. */
type CleaningTarget = Target & { readonly capabilities: Required<Pick<TargetCapabilities, 'removeStaleTemporaries'>> };

function withCleanup(target: Target): CleaningTarget {
  if (!target.capabilities.removeStaleTemporaries) throw new Error(`target ${target.type} does not declare removeStaleTemporaries`);
  return target as CleaningTarget;
}

async function localSetup(): Promise<Setup> {
  const directory = await mkdtemp(join(tmpdir(), 'mongo-backup-temporaries-'));
  const root = join(directory, 'backups');
  const target = withCleanup(createTarget({ name: 'local', type: 'local', path: directory, prefix: 'backups' }));
  const storage: Storage = {
    async plant(key, content, ageMs) {
      const file = join(root, ...key.split('/'));
      await mkdir(join(file, '..'), { recursive: true });
      await writeFile(file, content);
      const time = new Date(Date.now() - ageMs);
      await utimes(file, time, time);
    },
    names: (folderKey) => readdir(join(root, ...folderKey.split('/'))).catch(() => []),
    close: () => rm(directory, { recursive: true, force: true }),
  };
  return { target, storage };
}

async function sftpSetup(peer: SftpPeer): Promise<Setup> {
  const { host, port, username, privateKeyPath, hostFingerprint, path } = peer;
  const prefix = freshPrefix();
  const target = withCleanup(createTarget({ name: 'vault', type: 'sftp', prefix, host, port, username, privateKey: privateKeyPath, hostFingerprint, path }));
  const root = posix.join(path, prefix);
  const client = await connectSftp(peer);
  // ssh2-sftp-client has no utimes; its underlying ssh2 channel (untyped there) does.
  const channel = (client as unknown as { sftp: SFTPWrapper }).sftp;
  const storage: Storage = {
    async plant(key, content, ageMs) {
      const file = posix.join(root, key);
      await client.mkdir(posix.dirname(file), true);
      await client.put(Buffer.from(content), file);
      const seconds = Math.floor((Date.now() - ageMs) / 1000);
      await new Promise<void>((resolve, reject) => channel.utimes(file, seconds, seconds, (error) => (error ? reject(error) : resolve())));
    },
    async names(folderKey) {
      const entries = await client.list(posix.join(root, folderKey)).catch(() => []);
      return entries.map((entry) => entry.name);
    },
    async close() {
      await client.rmdir(root, true).catch(() => undefined);
      await client.end();
    },
  };
  return { target, storage };
}

async function ftpSetup(peer: FtpPeer): Promise<Setup> {
  const prefix = freshPrefix();
  const target = withCleanup(createTarget(ftpConfig(peer, { prefix })));
  const root = posix.join(peer.path, prefix);
  const client = new FtpClient();
  await client.access(await ftpAccessOptions(peer));
  const storage: Storage = {
    async plant(key, content, ageMs) {
      const file = posix.join(root, key);
      await client.ensureDir(posix.dirname(file));
      await client.uploadFrom(Readable.from([Buffer.from(content)]), file);
      // vsftpd sets a file's time with `MDTM <time> <path>` (mdtm_write, on by default).
      const time = new Date(Date.now() - ageMs).toISOString().replace(/[-:T]/g, '').slice(0, 14);
      await client.send(`MDTM ${time} ${file}`);
    },
    async names(folderKey) {
      const entries = await client.list(posix.join(root, folderKey)).catch(() => []);
      return entries.map((entry) => entry.name);
    },
    async close() {
      await client.removeDir(root).catch(() => undefined);
      client.close();
    },
  };
  return { target, storage };
}

const setups: Array<[string, (context: TestContext) => Promise<Setup>]> = [
  ['local', () => localSetup()],
  ['sftp', (context) => sftpSetup(peerOrSkip('sftp', context))],
  ['ftp', (context) => ftpSetup(peerOrSkip('ftp', context))],
  ['ftps', (context) => ftpSetup(peerOrSkip('ftps', context))],
];

// s3's leftovers are multipart uploads, proven by their own block below.
it('covers every target type that the shared suite lets declare removeStaleTemporaries', () => {
  expect([...setups.map(([type]) => type).filter((type) => type !== 'ftps'), 's3'].sort()).toEqual([...CLEANUP_PROVEN_FOR].sort());
});

describe.each(setups)('stale temporary files: %s', (_name, setUp) => {
  async function open(context: TestContext): Promise<Setup> {
    const setup = await setUp(context);
    context.onTestFinished(async () => {
      await setup.target.close();
      await setup.storage.close();
    });
    return setup;
  }

  /**
   * A complete object `backup-1/data.bin`, two leftovers two hours old (one beside that object, one
   * alone in `backup-2`) and one 10 s old, still uploading for all anyone knows.
   */
  async function plantLeftovers({ target, storage }: Setup): Promise<{ staleBesideObject: string; staleAlone: string; young: string }> {
    await target.save('backup-1/data.bin', Readable.from([Buffer.from('complete object')]));
    const staleBesideObject = `backup-1/${TEMP_MARKER}data.bin-0a1b2c3d`;
    const staleAlone = `backup-2/${TEMP_MARKER}manifest.json-4e5f6a7b`;
    const young = `backup-1/${TEMP_MARKER}next.bin-8c9d0e1f`;
    await storage.plant(staleBesideObject, 'partial', 2 * HOUR);
    await storage.plant(staleAlone, 'partial', 2 * HOUR);
    await storage.plant(young, 'still uploading', 10_000);
    return { staleBesideObject, staleAlone, young };
  }

  it('removes leftovers older than the grace period, and folders they leave empty, keeping young ones and objects', async (context) => {
    const { target, storage } = await open(context);
    const { staleBesideObject, staleAlone, young } = await plantLeftovers({ target, storage });

    const removed = await target.capabilities.removeStaleTemporaries(HOUR);

    expect(removed.sort()).toEqual([staleBesideObject, staleAlone].sort());
    expect((await storage.names('backup-1')).sort()).toEqual([posix.basename(young), 'data.bin'].sort());
    // backup-2 held only the leftover: its folder goes too.
    expect(await storage.names('')).toEqual(['backup-1']);
    expect((await readBuffer(await target.load('backup-1/data.bin'))).toString()).toBe('complete object');
    const listed: string[] = [];
    for await (const info of target.list()) listed.push(info.key);
    expect(listed).toEqual(['backup-1/data.bin']);

    // Nothing stale is left; the young file goes once the grace period is shorter than its age.
    expect(await target.capabilities.removeStaleTemporaries(HOUR)).toEqual([]);
    expect(await target.capabilities.removeStaleTemporaries(1000)).toEqual([young]);
    expect(await storage.names('backup-1')).toEqual(['data.bin']);
  });

  it('dry run: names the stale leftovers and leaves every file in place; a real run then removes them', async (context) => {
    const { target, storage } = await open(context);
    const { staleBesideObject, staleAlone, young } = await plantLeftovers({ target, storage });
    const backup1 = [posix.basename(staleBesideObject), posix.basename(young), 'data.bin'].sort();

    // Twice: the first dry run must not have removed anything the second would miss.
    for (let run = 0; run < 2; run++) {
      expect((await target.capabilities.removeStaleTemporaries(HOUR, { dryRun: true })).sort()).toEqual([staleBesideObject, staleAlone].sort());
      expect((await storage.names('backup-1')).sort()).toEqual(backup1);
      expect(await storage.names('backup-2')).toEqual([posix.basename(staleAlone)]);
      expect((await storage.names('')).sort()).toEqual(['backup-1', 'backup-2']);
    }

    expect((await target.capabilities.removeStaleTemporaries(HOUR, { dryRun: false })).sort()).toEqual([staleBesideObject, staleAlone].sort());
    expect((await storage.names('backup-1')).sort()).toEqual([posix.basename(young), 'data.bin'].sort());
    expect(await storage.names('')).toEqual(['backup-1']);
    expect(await target.capabilities.removeStaleTemporaries(HOUR, { dryRun: true })).toEqual([]);
  });

  it('returns nothing for a target folder that does not exist yet', async (context) => {
    const { target } = await open(context);
    expect(await target.capabilities.removeStaleTemporaries(0)).toEqual([]);
    expect(await target.capabilities.removeStaleTemporaries(0, { dryRun: true })).toEqual([]);
  });
});

/** A pending multipart upload as S3 lists it: full key and id. */
interface Upload {
  key: string;
  uploadId: string;
}

/** An S3 target on a fresh prefix, and the peer's own client to plant and inspect uploads with. */
interface S3Setup {
  target: CleaningTarget;
  /** The target's prefix in the bucket, with its trailing slash. */
  prefix: string;
  /** Starts a multipart upload of `prefix + key` (with one small part unless `parts` is 0) and never completes it. */
  plant(prefix: string, key: string, parts?: number): Promise<Upload>;
  /** The uploads pending under `prefix`, sorted by key. */
  pending(prefix: string): Promise<Upload[]>;
}

/** How removeStaleTemporaries() names an aborted upload. */
const asUpload = (key: string): string => `${key} (multipart upload)`;

function s3Client(peer: S3Peer): S3Client {
  const { endpoint, region, accessKeyId, secretAccessKey } = peer;
  return new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
}

/** Aborts every upload and deletes every object under `prefix` (test cleanup: first pages until none are left). */
async function emptyPrefix(client: S3Client, Bucket: string, Prefix: string): Promise<void> {
  for (;;) {
    const uploads = (await client.send(new ListMultipartUploadsCommand({ Bucket, Prefix }))).Uploads ?? [];
    if (uploads.length === 0) break;
    await mapLimit(uploads, 16, (u) => client.send(new AbortMultipartUploadCommand({ Bucket, Key: u.Key, UploadId: u.UploadId })));
  }
  for (;;) {
    const objects = (await client.send(new ListObjectsV2Command({ Bucket, Prefix }))).Contents ?? [];
    if (objects.length === 0) break;
    await mapLimit(objects, 16, (o) => client.send(new DeleteObjectCommand({ Bucket, Key: o.Key })));
  }
}

async function openS3(context: TestContext, config: Record<string, unknown> = {}): Promise<S3Setup> {
  const peer = peerOrSkip('s3', context);
  const prefix = `${freshPrefix()}/`;
  const target = withCleanup(createTarget({ name: 'offsite', type: 's3', ...peer, prefix, ...config }));
  const client = s3Client(peer);
  const Bucket = peer.bucket;
  // Leftovers of a failing test must not pile up on a long-lived server (the sibling prefix of the first test too).
  context.onTestFinished(async () => {
    await target.close();
    for (const planted of [prefix, `${prefix.slice(0, -1)}-other/`]) await emptyPrefix(client, Bucket, planted);
    client.destroy();
  });
  return {
    target,
    prefix,
    async plant(under, key, parts = 1) {
      const Key = under + key;
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
      for (let PartNumber = 1; PartNumber <= parts; PartNumber++) {
        await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: Buffer.from(`part ${PartNumber} of a killed run`) }));
      }
      return { key: Key, uploadId: UploadId! };
    },
    async pending(under) {
      const page = await client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: under }));
      return (page.Uploads ?? []).map((u) => ({ key: u.Key!, uploadId: u.UploadId! })).sort((a, b) => a.key.localeCompare(b.key));
    },
  };
}

async function listedKeys(target: Target): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of target.list()) keys.push(info.key);
  return keys.sort();
}

async function expectBackupError(promise: Promise<unknown>): Promise<BackupError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BackupError);
  return error as BackupError;
}

describe('stale multipart uploads: s3', () => {
  it('aborts the pending uploads under its prefix and names them; completed objects and other prefixes stay', async (context) => {
    // 5 MiB parts: the 6 MiB object is a completed multipart upload, the kind a finished create leaves.
    const { target, prefix, plant, pending } = await openS3(context, { partSize: '5MiB' });
    const archive = pseudoRandomStream('temporaries-s3', 6 * 1024 * 1024);
    await target.save('backup-1/dump.archive.zst', archive);
    const archiveHash = await archive.sha256();
    await target.save('backup-1/manifest.json', Readable.from([Buffer.from('{}')]));
    // A killed run's upload, one with the same key as a completed object, and one with no part yet.
    const killed = await plant(prefix, 'backup-2/dump.archive.zst');
    const sameKeyAsObject = await plant(prefix, 'backup-1/dump.archive.zst');
    const noPartYet = await plant(prefix, 'backup-3/dump.archive.zst', 0);
    // A prefix that only shares the target's name as a string (no trailing slash) belongs to someone else.
    const sibling = `${prefix.slice(0, -1)}-other/`;
    const foreign = await plant(sibling, 'backup-2/dump.archive.zst');
    expect(await pending(prefix)).toEqual([sameKeyAsObject, killed, noPartYet]);

    const removed = await target.capabilities.removeStaleTemporaries(0);

    expect(removed.sort()).toEqual(['backup-1/dump.archive.zst', 'backup-2/dump.archive.zst', 'backup-3/dump.archive.zst'].map(asUpload));
    expect(await pending(prefix)).toEqual([]);
    expect(await pending(sibling)).toEqual([foreign]);
    expect(await listedKeys(target)).toEqual(['backup-1/dump.archive.zst', 'backup-1/manifest.json']);
    expect(await hashStream(await target.load('backup-1/dump.archive.zst'))).toEqual({ bytes: 6 * 1024 * 1024, sha256: archiveHash });
    expect(await target.capabilities.removeStaleTemporaries(0)).toEqual([]);
  });

  it('keeps an upload younger than the grace period (a run may still be writing it), then aborts it once older', async (context) => {
    const { target, prefix, plant, pending } = await openS3(context);
    const running = await plant(prefix, 'backup-1/dump.archive.zst', 2);

    expect(await target.capabilities.removeStaleTemporaries(HOUR)).toEqual([]);
    expect(await pending(prefix)).toEqual([running]);

    expect(await target.capabilities.removeStaleTemporaries(0)).toEqual([asUpload('backup-1/dump.archive.zst')]);
    expect(await pending(prefix)).toEqual([]);
  });

  it('follows the listing past its first page of 1,000 uploads', async (context) => {
    const { target, prefix, plant, pending } = await openS3(context);
    const keys = Array.from({ length: 1001 }, (_, i) => `backup-1/part-${String(i).padStart(4, '0')}`);
    await mapLimit(keys, 16, (key) => plant(prefix, key, 0));

    const removed = await target.capabilities.removeStaleTemporaries(0);

    expect(removed.sort()).toEqual(keys.map(asUpload));
    expect(await pending(prefix)).toEqual([]);
  });

  it('dry run: names the stale uploads and aborts none of them; a real run then aborts them', async (context) => {
    const { target, prefix, plant, pending } = await openS3(context);
    const stale = [await plant(prefix, 'backup-1/dump.archive.zst'), await plant(prefix, 'backup-2/dump.archive.zst', 0)];
    const names = ['backup-1/dump.archive.zst', 'backup-2/dump.archive.zst'].map(asUpload);

    expect(await target.capabilities.removeStaleTemporaries(HOUR, { dryRun: true })).toEqual([]);
    for (let run = 0; run < 2; run++) {
      expect((await target.capabilities.removeStaleTemporaries(0, { dryRun: true })).sort()).toEqual(names);
      expect(await pending(prefix)).toEqual(stale);
    }

    expect((await target.capabilities.removeStaleTemporaries(0)).sort()).toEqual(names);
    expect(await pending(prefix)).toEqual([]);
    expect(await target.capabilities.removeStaleTemporaries(0, { dryRun: true })).toEqual([]);
  });

  it('returns nothing for a prefix without uploads', async (context) => {
    const { target } = await openS3(context);
    expect(await target.capabilities.removeStaleTemporaries(0)).toEqual([]);
  });

  it('fails like every other operation: TARGET_AUTH for wrong credentials, TARGET_UNREACHABLE without a server', async (context) => {
    const peer = peerOrSkip('s3', context);
    const secret = 'wrong-secret-for-the-temporaries-test';
    const denied = withCleanup(createTarget({ name: 'offsite', type: 's3', ...peer, secretAccessKey: secret }));
    const nobody = withCleanup(createTarget({ name: 'offsite', type: 's3', ...peer, endpoint: `http://127.0.0.1:${await freePort()}` }));
    context.onTestFinished(async () => {
      await denied.close();
      await nobody.close();
    });
    const auth = await expectBackupError(denied.capabilities.removeStaleTemporaries(0));
    expect(auth.code).toBe(ErrorCodes.TARGET_AUTH);
    expect(auth.message).not.toContain(secret);
    expect((await expectBackupError(nobody.capabilities.removeStaleTemporaries(0))).code).toBe(ErrorCodes.TARGET_UNREACHABLE);
  });
});
