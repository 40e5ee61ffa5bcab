// The optional TemporaryCleanup capability (prune's removal of `.tmp-` upload leftovers of killed
// runs), for every target that saves under temporary names. The leftovers are planted directly on
// the storage with the peer's own client, aged by setting their modification time, the way a
// `kill -9` mid-upload leaves them.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as posix from 'node:path/posix';
import { Readable } from 'node:stream';
import { Client as FtpClient } from 'basic-ftp';
import type { SFTPWrapper } from 'ssh2';
import { describe, expect, it, type TestContext } from 'vitest';
import { TEMP_MARKER } from '../../src/targets/local.js';
import { createTarget } from '../../src/targets/registry.js';
import { hasTemporaryCleanup, type Target, type TemporaryCleanup } from '../../src/targets/types.js';
import { connectSftp, ftpAccessOptions, peerOrSkip, type FtpPeer, type SftpPeer } from '../setup/testbed.js';
import { ftpConfig } from './ftp-config.js';
import { readBuffer } from './streams.js';

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
  target: Target & TemporaryCleanup;
  storage: Storage;
}

/** A fresh folder (prefix) per test, so reruns against long-lived servers do not collide. */
function freshPrefix(): string {
  return `temporaries-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

function withCleanup(target: Target): Target & TemporaryCleanup {
  if (!hasTemporaryCleanup(target)) throw new Error(`target ${target.type} does not offer removeStaleTemporaries()`);
  return target;
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
];

describe.each(setups)('stale temporary files: %s', (_name, setUp) => {
  async function open(context: TestContext): Promise<Setup> {
    const setup = await setUp(context);
    context.onTestFinished(async () => {
      await setup.target.close();
      await setup.storage.close();
    });
    return setup;
  }

  it('removes leftovers older than the grace period, and folders they leave empty, keeping young ones and objects', async (context) => {
    const { target, storage } = await open(context);
    await target.save('backup-1/data.bin', Readable.from([Buffer.from('complete object')]));
    const staleBesideObject = `backup-1/${TEMP_MARKER}data.bin-0a1b2c3d`;
    const staleAlone = `backup-2/${TEMP_MARKER}manifest.json-4e5f6a7b`;
    const young = `backup-1/${TEMP_MARKER}next.bin-8c9d0e1f`;
    await storage.plant(staleBesideObject, 'partial', 2 * HOUR);
    await storage.plant(staleAlone, 'partial', 2 * HOUR);
    await storage.plant(young, 'still uploading', 10_000);

    const removed = await target.removeStaleTemporaries(HOUR);

    expect(removed.sort()).toEqual([staleBesideObject, staleAlone].sort());
    expect((await storage.names('backup-1')).sort()).toEqual([posix.basename(young), 'data.bin'].sort());
    // backup-2 held only the leftover: its folder goes too.
    expect(await storage.names('')).toEqual(['backup-1']);
    expect((await readBuffer(await target.load('backup-1/data.bin'))).toString()).toBe('complete object');
    const listed: string[] = [];
    for await (const info of target.list()) listed.push(info.key);
    expect(listed).toEqual(['backup-1/data.bin']);

    // Nothing stale is left; the young file goes once the grace period is shorter than its age.
    expect(await target.removeStaleTemporaries(HOUR)).toEqual([]);
    expect(await target.removeStaleTemporaries(1000)).toEqual([young]);
    expect(await storage.names('backup-1')).toEqual(['data.bin']);
  });

  it('returns nothing for a target folder that does not exist yet', async (context) => {
    const { target } = await open(context);
    expect(await target.removeStaleTemporaries(0)).toEqual([]);
  });
});
