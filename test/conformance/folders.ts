// Direct access to the folders of the target types that have them (local, sftp, ftp), for the
// shared suite's prune case: it plants an empty backup folder as a run killed right after creating
// it leaves one, aged by setting its modification time, and checks which folders exist.
import { mkdir, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import * as posix from 'node:path/posix';
import { Client as FtpClient } from 'basic-ftp';
import type { SFTPWrapper } from 'ssh2';
import { connectSftp, ftpAccessOptions, type FtpPeer, type SftpPeer } from '../setup/testbed.js';

export interface FolderAccess {
  /** Creates the empty folder `key` (relative to the target's root) with a modification time `ageMs` in the past. */
  plantEmpty(key: string, ageMs: number): Promise<void>;
  exists(key: string): Promise<boolean>;
  close(): Promise<void>;
}

function secondsAgo(ageMs: number): number {
  return Math.floor((Date.now() - ageMs) / 1000);
}

/** A local target's folders: the file system itself. */
export function localFolders(root: string): FolderAccess {
  return {
    async plantEmpty(key, ageMs) {
      const folder = join(root, ...key.split('/'));
      await mkdir(folder, { recursive: true });
      await utimes(folder, secondsAgo(ageMs), secondsAgo(ageMs));
    },
    exists: (key) => stat(join(root, ...key.split('/'))).then((s) => s.isDirectory(), () => false),
    close: async () => undefined,
  };
}

/** An SFTP target's folders, through the peer's own SFTP client. */
export async function sftpFolders(peer: SftpPeer, prefix: string): Promise<FolderAccess> {
  const client = await connectSftp(peer);
  // ssh2-sftp-client has no utimes; its underlying ssh2 channel (untyped there) does.
  const channel = (client as unknown as { sftp: SFTPWrapper }).sftp;
  const root = posix.join(peer.path, prefix);
  return {
    async plantEmpty(key, ageMs) {
      const folder = posix.join(root, key);
      await client.mkdir(folder, true);
      await new Promise<void>((resolve, reject) => channel.utimes(folder, secondsAgo(ageMs), secondsAgo(ageMs), (error) => (error ? reject(error) : resolve())));
    },
    exists: async (key) => (await client.exists(posix.join(root, key))) === 'd',
    close: async () => {
      await client.end();
    },
  };
}

/**
 * An FTP target's folders: created over FTP; aged on the peer's disk (it serves a local folder),
 * since vsftpd sets the time of files only (`MDTM time path`).
 */
export async function ftpFolders(peer: FtpPeer, prefix: string): Promise<FolderAccess> {
  const client = new FtpClient();
  await client.access(await ftpAccessOptions(peer));
  const root = posix.join(peer.path, prefix);
  return {
    async plantEmpty(key, ageMs) {
      const folder = posix.join(root, key);
      await client.ensureDir(folder);
      await utimes(folder, secondsAgo(ageMs), secondsAgo(ageMs));
    },
    exists: (key) => stat(posix.join(root, key)).then((s) => s.isDirectory(), () => false),
    close: async () => client.close(),
  };
}
