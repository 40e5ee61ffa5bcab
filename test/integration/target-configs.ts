// Shared by the fan-out, replicate, delete and disaster-recovery tests:
// - target configuration objects (what an operator would write in backuprc.yaml) for every target
//   type, built from the test bed's peer details, each under its own prefix so tests sharing a peer
//   never see each other's backups;
// - a workspace: a temporary directory with a config file, a state directory and an encryption key
//   file, and a way to run the built CLI (bin/mongo-backup, through helpers.ts's runCli) against it;
// - small polling helpers (no fixed sleeps).
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix, relative } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { stringify } from 'yaml';
import { runCli } from './helpers.js';
import { connectSftp, type AzurePeer, type FtpPeer, type GcsPeer, type MongoPeer, type PeerName, type S3Peer, type SftpPeer, type Testbed } from '../setup/testbed.js';

/** The kinds of target the tests exercise; ftp and ftps are one target type with `secure` set. */
export type TargetKind = 'local' | 's3' | 'gcs' | 'azure' | 'sftp' | 'ftp' | 'ftps';
export const targetKinds: readonly TargetKind[] = ['local', 's3', 'gcs', 'azure', 'sftp', 'ftp', 'ftps'];

/** The target `type` a kind is configured with. */
export function targetTypeOf(kind: TargetKind): string {
  return kind === 'ftps' ? 'ftp' : kind;
}

/** The test-bed peer a kind needs (none for local). */
export function peerOf(kind: TargetKind): PeerName | undefined {
  return kind === 'local' ? undefined : kind;
}

export type TargetConfig = Record<string, unknown> & { name: string; type: string };

export function s3Target(name: string, peer: S3Peer, prefix: string, extra: Record<string, unknown> = {}): TargetConfig {
  return {
    name,
    type: 's3',
    bucket: peer.bucket,
    prefix,
    region: peer.region,
    endpoint: peer.endpoint,
    forcePathStyle: true,
    accessKeyId: peer.accessKeyId,
    secretAccessKey: peer.secretAccessKey,
    ...extra,
  };
}

export function gcsTarget(name: string, peer: GcsPeer, prefix: string): TargetConfig {
  return { name, type: 'gcs', bucket: peer.bucket, prefix, projectId: peer.projectId, apiEndpoint: peer.apiEndpoint };
}

export function azureTarget(name: string, peer: AzurePeer, prefix: string): TargetConfig {
  return { name, type: 'azure', container: peer.container, prefix, connectionString: peer.connectionString };
}

export function sftpTarget(name: string, peer: SftpPeer, prefix: string): TargetConfig {
  return {
    name,
    type: 'sftp',
    host: peer.host,
    port: peer.port,
    username: peer.username,
    privateKey: peer.privateKeyPath,
    hostFingerprint: peer.hostFingerprint,
    path: peer.path,
    prefix,
  };
}

/** FTP, or FTPS when the peer is secure (its self-signed certificate trusted through `ca`). */
export function ftpTarget(name: string, peer: FtpPeer, prefix: string): TargetConfig {
  return {
    name,
    type: 'ftp',
    host: peer.host,
    port: peer.port,
    user: peer.user,
    passwordFile: peer.passwordFile,
    path: peer.path,
    secure: peer.secure,
    ...(peer.caCertPath ? { ca: peer.caCertPath } : {}),
    prefix,
  };
}

export function localTarget(name: string, path: string): TargetConfig {
  return { name, type: 'local', path };
}

/**
 * The configuration of a target of `kind` named `name`. Remote kinds live under `prefix` on the
 * shared peer; a local one in `localDir`.
 */
export function targetConfig(kind: TargetKind, name: string, bed: Testbed, where: { prefix: string; localDir: string }): TargetConfig {
  switch (kind) {
    case 'local':
      return localTarget(name, where.localDir);
    case 's3':
      return s3Target(name, bed.s3, where.prefix);
    case 'gcs':
      return gcsTarget(name, bed.gcs, where.prefix);
    case 'azure':
      return azureTarget(name, bed.azure, where.prefix);
    case 'sftp':
      return sftpTarget(name, bed.sftp, where.prefix);
    case 'ftp':
      return ftpTarget(name, bed.ftp, where.prefix);
    case 'ftps':
      return ftpTarget(name, bed.ftps, where.prefix);
  }
}

/** A random string of Latin letters (FerretDB database names allow nothing else). */
export function letters(count: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz';
  return Array.from(randomBytes(count), (b) => alphabet[b % alphabet.length]).join('');
}

/** A unique object-store prefix for one test, e.g. `fanout-kq3x9/`. */
export function uniquePrefix(label: string): string {
  return `it-${label}-${randomBytes(4).toString('hex')}/`;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is JSON (commands run with --json), else undefined. */
  json: any;
  /** Wall time of the process, ms. */
  ms: number;
  /** Peak resident set size in bytes (only when run with `measureRss`). */
  maxRssBytes?: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Sample the CLI's peak RSS (VmHWM) until it exits. */
  measureRss?: boolean;
}

export interface Workspace {
  dir: string;
  stateDir: string;
  configFile: string;
  keyFile: string;
  /** The key as 64 hex characters (also in keyFile). */
  key: string;
  /** Writes the config file: mongodb, the key, the state dir, then `settings` (targets, retries...). */
  writeConfig(settings: Record<string, unknown>): Promise<void>;
  /** Runs the built CLI with this workspace's config (stdin closed: not a terminal). */
  run(args: string[], options?: RunOptions): Promise<CliResult>;
  cleanup(): Promise<void>;
}

/**
 * A temporary directory with a config naming `mongo` as the source, a fresh key (or `key`), and a
 * state directory of its own. The CLI runs through helpers.ts's runCli (MONGO_BACKUP_TEST_CLI
 * selects another build).
 */
export async function makeWorkspace(label: string, mongo: MongoPeer, options: { key?: string } = {}): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), `mongo-backup-${label}-`));
  const key = options.key ?? randomBytes(32).toString('hex');
  const keyFile = join(dir, 'backup.key');
  await writeFile(keyFile, `${key}\n`, { mode: 0o600 });
  const stateDir = join(dir, 'state');
  const configFile = join(dir, 'backuprc.yaml');
  const workspace: Workspace = {
    dir,
    stateDir,
    configFile,
    keyFile,
    key,
    async writeConfig(settings) {
      const config = {
        mongodb: { uri: mongo.uri, mongodump: mongo.mongodump, mongorestore: mongo.mongorestore },
        encryption: { keyFile },
        stateDir,
        ...settings,
      };
      await writeFile(configFile, stringify(config));
    },
    async run(args, runOptions = {}) {
      let rss: Promise<number | undefined> | undefined;
      const result = await runCli(['--config', configFile, ...args], {
        cwd: dir,
        env: { PATH: process.env['PATH'], HOME: dir, NO_COLOR: '1', ...runOptions.env },
        ...(runOptions.measureRss ? { onSpawn: (child: ChildProcess) => (rss = samplePeakRss(child)) } : {}),
      });
      const maxRssBytes = await rss;
      return {
        code: result.code,
        stdout: result.stdout,
        stderr: result.stderr,
        json: parseJson(result.stdout),
        ms: result.durationMs,
        ...(maxRssBytes !== undefined ? { maxRssBytes } : {}),
      };
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  return workspace;
}

function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The highest VmHWM (peak RSS, bytes) read from /proc while the child runs (every 10 ms). */
async function samplePeakRss(child: ChildProcess): Promise<number | undefined> {
  let peak: number | undefined;
  let running = true;
  child.once('exit', () => (running = false));
  while (running && child.pid !== undefined) {
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => undefined);
    const match = status ? /^VmHWM:\s+(\d+) kB$/m.exec(status) : null;
    if (match) peak = Math.max(peak ?? 0, Number(match[1]) * 1024);
    await new Promise((done) => setTimeout(done, 10));
  }
  return peak;
}

/** Polls `condition` until it returns a truthy value (short pauses; fails after `timeoutMs`). */
export async function waitFor<T>(what: string, condition: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, pauseMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, pauseMs));
  }
}

/** Megabytes per second of `bytes` moved in `ms`, rounded to one decimal. */
export function mbPerSecond(bytes: number, ms: number): number {
  return Math.round((bytes / 1e6 / (ms / 1000)) * 10) / 10;
}

// ---------------------------------------------------------------------------------------------
// Reading what a target really holds, with the storage's own client (not the code under test).

/** SHA-256 (`sha256:hex`) and size of a stream. */
export async function digestOf(stream: Readable): Promise<{ checksum: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { checksum: `sha256:${hash.digest('hex')}`, size };
}

function s3ClientFor(config: TargetConfig): S3Client {
  return new S3Client({
    endpoint: config['endpoint'] as string,
    region: config['region'] as string,
    forcePathStyle: true,
    credentials: { accessKeyId: config['accessKeyId'] as string, secretAccessKey: config['secretAccessKey'] as string },
  });
}

/** Digest of the object `key` (relative to the target's prefix) on a local, s3 or sftp target. */
export async function storedDigest(config: TargetConfig, key: string, bed: Testbed): Promise<{ checksum: string; size: number }> {
  switch (config.type) {
    case 'local':
      return digestOf(createReadStream(join(config['path'] as string, key)));
    case 's3': {
      const client = s3ClientFor(config);
      try {
        const reply = await client.send(new GetObjectCommand({ Bucket: config['bucket'] as string, Key: `${config['prefix'] as string}${key}` }));
        return await digestOf(reply.Body as Readable);
      } finally {
        client.destroy();
      }
    }
    case 'sftp': {
      const client = await connectSftp(bed.sftp);
      try {
        // get() settles only once the remote file is closed, so ending the session after it is safe.
        const hash = createHash('sha256');
        let size = 0;
        const sink = new Writable({
          write(chunk: Buffer, _encoding, callback) {
            hash.update(chunk);
            size += chunk.length;
            callback();
          },
        });
        await client.get(posix.join(config['path'] as string, config['prefix'] as string, key), sink);
        return { checksum: `sha256:${hash.digest('hex')}`, size };
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    default:
      throw new Error(`storedDigest: no direct reader for target type ${config.type}`);
  }
}

/** Every object key (relative to the target's prefix) under `folder` on a local or s3 target. */
export async function storedKeys(config: TargetConfig, folder: string): Promise<string[]> {
  if (config.type === 'local') {
    const root = config['path'] as string;
    const entries = await readdir(join(root, folder), { recursive: true, withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isFile()).map((e) => relative(root, join(e.parentPath, e.name))).sort();
  }
  if (config.type === 's3') {
    const client = s3ClientFor(config);
    const prefix = config['prefix'] as string;
    try {
      const reply = await client.send(new ListObjectsV2Command({ Bucket: config['bucket'] as string, Prefix: `${prefix}${folder}` }));
      return (reply.Contents ?? []).map((o) => (o.Key ?? '').slice(prefix.length)).sort();
    } finally {
      client.destroy();
    }
  }
  throw new Error(`storedKeys: no direct lister for target type ${config.type}`);
}
