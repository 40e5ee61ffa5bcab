// One start function per test peer. Each takes a data directory (and optionally a fixed port, so
// a test can stop a peer and start it again on the same port with the same data) and returns a
// handle once the peer answers a real protocol request.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { Client as FtpClient } from 'basic-ftp';
import { MongoClient } from 'mongodb';
import SftpClient from 'ssh2-sftp-client';
import {
  canConnect,
  freePort,
  freePortRange,
  once,
  peersBinDir,
  repoRoot,
  spawnPeer,
  stopPeer,
  waitUntilReady,
  type SpawnedPeer,
} from './process.js';

const execFileAsync = promisify(execFile);

export interface MongoPeer { uri: string; mongodump: string; mongorestore: string; kind: 'ferretdb' | 'mongod'; }
export interface S3Peer { endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string; forcePathStyle: true; }
export interface GcsPeer { apiEndpoint: string; bucket: string; projectId: string; }
export interface AzurePeer { connectionString: string; container: string; accountName: string; accountKey: string; blobEndpoint: string; }
export interface SftpPeer {
  host: string;
  port: number;
  username: string;
  privateKeyPath: string;
  /** SHA256:base64, as `ssh-keygen -lf` prints it. */
  hostFingerprint: string;
  /** A writable directory. */
  path: string;
}
export interface FtpPeer {
  host: string;
  port: number;
  user: string;
  password: string;
  passwordFile: string;
  path: string;
  secure: false | true | 'implicit';
  /** FTPS only: the server's self-signed certificate (PEM), to trust it as a CA (`NODE_EXTRA_CA_CERTS`). */
  caCertPath?: string;
}
export interface Testbed {
  mongo: MongoPeer;
  s3: S3Peer;
  gcs: GcsPeer;
  azure: AzurePeer;
  sftp: SftpPeer;
  ftp: FtpPeer;
  ftps: FtpPeer;
  /** peer -> why it is not available (locally only; in CI a missing peer fails the run). */
  missing: Record<string, string>;
}

export type PeerName = Exclude<keyof Testbed, 'missing'>;

export interface PeerHandle<Details> {
  details: Details;
  pid: number;
  /** The port the peer listens on: pass it back to start it again at the same address. */
  port: number;
  dataDir: string;
  logFile: string;
  /** Stops the peer and everything it forked. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Where the peer keeps its data; reuse it (with `port`) to restart a peer with its data. */
  dataDir: string;
  /** A fixed port (for restarts); a free one is picked when absent. */
  port?: number;
}

/** Thrown when a peer's binary is not installed: the caller records the peer as missing. */
export class PeerUnavailableError extends Error {
  override readonly name = 'PeerUnavailableError';
}

function peerBinary(name: string): string {
  const path = join(peersBinDir, name);
  if (!existsSync(path)) throw new PeerUnavailableError(`${path} is not built: run \`npm run peers\``);
  return path;
}

function systemBinary(path: string, debianPackage: string): string {
  if (!existsSync(path)) throw new PeerUnavailableError(`${path} is missing: run \`npm run peers\` (installs Debian ${debianPackage})`);
  return path;
}

async function prepare(options: StartOptions, name: string): Promise<{ port: number; logFile: string }> {
  await mkdir(options.dataDir, { recursive: true });
  return { port: options.port ?? (await freePort()), logFile: join(options.dataDir, `${name}.log`) };
}

/** Starts the process and waits for readiness; kills it if it never gets ready. */
async function launch<Details>(
  spawned: SpawnedPeer,
  context: { port: number; dataDir: string; details: Details; what: string; graceMs?: number; termSignals?: number },
  probe: () => Promise<boolean>,
): Promise<PeerHandle<Details>> {
  const stop = once(() => stopPeer(spawned, context.graceMs, context.termSignals));
  try {
    await waitUntilReady(spawned, context.what, probe);
  } catch (error) {
    await stop();
    throw error;
  }
  return { details: context.details, pid: spawned.pid, port: context.port, dataDir: context.dataDir, logFile: spawned.logFile, stop };
}

async function mongoAnswersPing(uri: string, port: number): Promise<boolean> {
  if (!(await canConnect(port))) return false;
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
  try {
    const reply = await client.db('admin').command({ ping: 1 });
    return reply['ok'] === 1;
  } finally {
    await client.close();
  }
}

function mongoTools(): { mongodump: string; mongorestore: string } {
  return { mongodump: peerBinary('mongodump'), mongorestore: peerBinary('mongorestore') };
}

// ---------------------------------------------------------------------------------------------
// MongoDB: FerretDB (SQLite backend) or, when asked for, a real mongod from PATH.

/** The replica-set name FerretDB answers `hello` with: drivers and mongodump see a one-member set. */
export const ferretdbReplicaSetName = 'rs0';

/** Default capped size of the test bed's `local.oplog.rs`: no test run comes near rolling it over. */
export const defaultOplogSizeBytes = 1024 ** 3;

export interface FerretDBStartOptions extends StartOptions {
  /** Capped size of `local.oplog.rs`; a small one makes the oplog roll over (docs/TESTBED.md). */
  oplogSizeBytes?: number;
  /**
   * How often FerretDB trims capped collections (the oplog included), in seconds; FerretDB's
   * default is 60. FerretDB trims only then, not on each insert as mongod does, so a test that
   * wants the oplog to roll over sets a short interval.
   */
  cappedCleanupSeconds?: number;
}

/**
 * FerretDB as a one-member replica set with a capped `local.oplog.rs`, so every insert, update and
 * delete is logged as on a replica-set member (docs/TESTBED.md, "Oplog and applyOps").
 */
export async function startFerretDB(options: FerretDBStartOptions): Promise<PeerHandle<MongoPeer>> {
  const binary = peerBinary('ferretdb');
  const tools = mongoTools();
  const { port, logFile } = await prepare(options, 'ferretdb');
  const sqliteDir = join(options.dataDir, 'sqlite');
  await mkdir(sqliteDir, { recursive: true });
  const spawned = spawnPeer('ferretdb', binary, [
    `--listen-addr=127.0.0.1:${port}`,
    '--handler=sqlite',
    `--sqlite-url=file:${sqliteDir}/`,
    `--state-dir=${options.dataDir}`,
    '--telemetry=disable',
    // The debug HTTP listener defaults to a fixed port, which parallel instances would fight over.
    '--debug-addr=-',
    '--log-level=warn',
    `--repl-set-name=${ferretdbReplicaSetName}`,
    ...(options.cappedCleanupSeconds === undefined ? [] : [`--test-capped-cleanup-interval=${options.cappedCleanupSeconds}s`]),
  ], logFile);
  const uri = `mongodb://127.0.0.1:${port}/`;
  const details: MongoPeer = { uri, ...tools, kind: 'ferretdb' };
  const handle = await launch(spawned, { port, dataDir: options.dataDir, details, what: 'ping' }, () => mongoAnswersPing(uri, port));
  try {
    await ensureOplog(uri, options.oplogSizeBytes ?? defaultOplogSizeBytes);
  } catch (error) {
    await handle.stop();
    throw error;
  }
  return handle;
}

/** FerretDB logs writes only once a capped `local.oplog.rs` exists; a restart keeps the one it has. */
async function ensureOplog(uri: string, sizeBytes: number): Promise<void> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  try {
    const local = client.db('local');
    const existing = await local.listCollections({ name: 'oplog.rs' }, { nameOnly: true }).toArray();
    if (existing.length === 0) await local.createCollection('oplog.rs', { capped: true, size: sizeBytes });
  } finally {
    await client.close();
  }
}

/** mongod, mongodump and mongorestore from PATH, when all three are there. */
export function mongoServerToolsOnPath(): { mongod: string; mongodump: string; mongorestore: string } | undefined {
  const [mongod, mongodump, mongorestore] = ['mongod', 'mongodump', 'mongorestore'].map(findOnPath);
  return mongod && mongodump && mongorestore ? { mongod, mongodump, mongorestore } : undefined;
}

/** A real mongod from PATH, with PATH's mongodump and mongorestore (MONGO_BACKUP_TEST_MONGOD=1). */
export async function startMongod(options: StartOptions): Promise<PeerHandle<MongoPeer>> {
  const tools = mongoServerToolsOnPath();
  if (!tools) throw new PeerUnavailableError('mongod, mongodump and mongorestore are not all on PATH');
  const { port, logFile } = await prepare(options, 'mongod');
  const dbPath = join(options.dataDir, 'db');
  await mkdir(dbPath, { recursive: true });
  const spawned = spawnPeer('mongod', tools.mongod, ['--dbpath', dbPath, '--bind_ip', '127.0.0.1', '--port', String(port), '--quiet'], logFile);
  const uri = `mongodb://127.0.0.1:${port}/`;
  const details: MongoPeer = { uri, mongodump: tools.mongodump, mongorestore: tools.mongorestore, kind: 'mongod' };
  return launch(spawned, { port, dataDir: options.dataDir, details, what: 'ping', graceMs: 10_000 }, () => mongoAnswersPing(uri, port));
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const candidate = join(dir, command);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// S3: versitygw with its POSIX backend (objects are plain files under dataDir/s3).

const s3Credentials = { accessKeyId: 'testbed-access-key', secretAccessKey: 'testbed-secret-key-0123456789' };

export interface S3StartOptions extends StartOptions {
  bucket?: string;
  /**
   * Object Lock (docs/TESTBED.md): versitygw keeps object versions under `dataDir/versions`
   * (`posix --versioning-dir`) and the bucket is created with ObjectLockEnabledForBucket.
   */
  objectLock?: boolean;
}

export async function startS3(options: S3StartOptions): Promise<PeerHandle<S3Peer>> {
  const binary = peerBinary('versitygw');
  const { port, logFile } = await prepare(options, 'versitygw');
  const storageDir = join(options.dataDir, 's3');
  await mkdir(storageDir, { recursive: true });
  const versioning: string[] = [];
  if (options.objectLock) {
    const versionsDir = join(options.dataDir, 'versions');
    await mkdir(versionsDir, { recursive: true });
    versioning.push('--versioning-dir', versionsDir);
  }
  const region = 'us-east-1';
  // Credentials go through the environment (versitygw reads ROOT_ACCESS_KEY_ID/ROOT_SECRET_ACCESS_KEY).
  const env = { ...process.env, ROOT_ACCESS_KEY_ID: s3Credentials.accessKeyId, ROOT_SECRET_ACCESS_KEY: s3Credentials.secretAccessKey };
  const spawned = spawnPeer('versitygw', binary, ['--port', `127.0.0.1:${port}`, '--region', region, 'posix', ...versioning, storageDir], logFile, { env });
  const details: S3Peer = {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    bucket: options.bucket ?? 'testbed-bucket',
    ...s3Credentials,
    forcePathStyle: true,
  };
  return launch(spawned, { port, dataDir: options.dataDir, details, what: 'create bucket' }, async () => (await canConnect(port)) && ensureS3Bucket(details, options.objectLock === true));
}

async function ensureS3Bucket(peer: S3Peer, objectLock = false): Promise<boolean> {
  const client = new S3Client({
    endpoint: peer.endpoint,
    region: peer.region,
    forcePathStyle: true,
    credentials: { accessKeyId: peer.accessKeyId, secretAccessKey: peer.secretAccessKey },
    maxAttempts: 1,
  });
  try {
    try {
      await client.send(new CreateBucketCommand({ Bucket: peer.bucket, ...(objectLock ? { ObjectLockEnabledForBucket: true } : {}) }));
    } catch (error) {
      // On a restart with the same data the bucket is already there.
      if (!(error instanceof Error && /BucketAlready(OwnedByYou|Exists)/.test(error.name))) throw error;
    }
    await client.send(new HeadBucketCommand({ Bucket: peer.bucket }));
    return true;
  } finally {
    client.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// GCS: fake-gcs-server with its filesystem backend.

export async function startGcs(options: StartOptions & { bucket?: string }): Promise<PeerHandle<GcsPeer>> {
  const binary = peerBinary('fake-gcs-server');
  const { port, logFile } = await prepare(options, 'fake-gcs-server');
  const storageDir = join(options.dataDir, 'gcs');
  await mkdir(storageDir, { recursive: true });
  const apiEndpoint = `http://127.0.0.1:${port}`;
  const spawned = spawnPeer('fake-gcs-server', binary, [
    '-scheme', 'http',
    '-host', '127.0.0.1',
    '-port', String(port),
    '-backend', 'filesystem',
    '-filesystem-root', storageDir,
    // Resumable uploads hand the client this URL for the following requests.
    '-external-url', apiEndpoint,
    '-public-host', `127.0.0.1:${port}`,
    '-log-level', 'warn',
  ], logFile);
  const details: GcsPeer = { apiEndpoint, bucket: options.bucket ?? 'testbed-bucket', projectId: 'testbed-project' };
  return launch(spawned, { port, dataDir: options.dataDir, details, what: 'create bucket' }, async () => (await canConnect(port)) && ensureGcsBucket(details));
}

async function ensureGcsBucket(peer: GcsPeer): Promise<boolean> {
  const created = await fetch(`${peer.apiEndpoint}/storage/v1/b?project=${peer.projectId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: peer.bucket }),
    signal: AbortSignal.timeout(2000),
  });
  if (!created.ok && created.status !== 409) return false;
  const found = await fetch(`${peer.apiEndpoint}/storage/v1/b/${peer.bucket}`, { signal: AbortSignal.timeout(2000) });
  return found.ok;
}

// ---------------------------------------------------------------------------------------------
// Azure Blob: Azurite (npm devDependency), run with this Node.

const azuriteAccount = {
  accountName: 'devstoreaccount1',
  // Azurite's well-known development key (public, documented by Microsoft).
  accountKey: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
};

function azuriteBlobMain(): string {
  try {
    const require = createRequire(join(repoRoot, 'package.json'));
    return join(require.resolve('azurite/package.json'), '..', 'dist/src/blob/main.js');
  } catch {
    throw new PeerUnavailableError('azurite is not installed: run `npm ci`');
  }
}

export async function startAzure(options: StartOptions & { container?: string }): Promise<PeerHandle<AzurePeer>> {
  const main = azuriteBlobMain();
  const { port, logFile } = await prepare(options, 'azurite');
  const storageDir = join(options.dataDir, 'azurite');
  await mkdir(storageDir, { recursive: true });
  const spawned = spawnPeer('azurite', process.execPath, [
    main,
    '--location', storageDir,
    '--blobHost', '127.0.0.1',
    '--blobPort', String(port),
    '--loose',
    '--skipApiVersionCheck',
    '--silent',
  ], logFile);
  const blobEndpoint = `http://127.0.0.1:${port}/${azuriteAccount.accountName}`;
  const details: AzurePeer = {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${azuriteAccount.accountName};AccountKey=${azuriteAccount.accountKey};BlobEndpoint=${blobEndpoint};`,
    container: options.container ?? 'testbed-container',
    ...azuriteAccount,
    blobEndpoint,
  };
  // The first SIGTERM only closes Azurite's port; the second one ends the process.
  return launch(spawned, { port, dataDir: options.dataDir, details, what: 'create container', termSignals: 2 }, async () => {
    // Without the TCP check and with the SDK's default retries, a probe sent before the port
    // opens backs off for seconds (a 2 s start looked like 16 s).
    if (!(await canConnect(port))) return false;
    const service = BlobServiceClient.fromConnectionString(details.connectionString, { retryOptions: { maxTries: 1 } });
    const container = service.getContainerClient(details.container);
    await container.createIfNotExists();
    return container.exists();
  });
}

// ---------------------------------------------------------------------------------------------
// SFTP: OpenSSH's sshd on its own port with its own host key; key-only login as root.

export async function startSftp(options: StartOptions): Promise<PeerHandle<SftpPeer>> {
  const sshd = systemBinary('/usr/sbin/sshd', 'openssh-server');
  const { port, logFile } = await prepare(options, 'sshd');
  const hostKey = join(options.dataDir, 'ssh_host_ed25519_key');
  const clientKey = join(options.dataDir, 'client_ed25519_key');
  const authorizedKeys = join(options.dataDir, 'authorized_keys');
  const sftpRoot = join(options.dataDir, 'sftp-root');
  await mkdir(sftpRoot, { recursive: true });
  // Keys survive a restart on the same data dir, so the fingerprint a test pinned stays valid.
  await Promise.all([generateSshKey(hostKey), generateSshKey(clientKey)]);
  await writeFile(authorizedKeys, await readFile(`${clientKey}.pub`));
  // sshd insists on its privilege separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const config = join(options.dataDir, 'sshd_config');
  await writeFile(config, [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${join(options.dataDir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The temp dir is not laid out the way StrictModes wants (root-owned, no group write...).
    'StrictModes no',
    'Subsystem sftp internal-sftp',
    'LogLevel INFO',
    '',
  ].join('\n'));
  const spawned = spawnPeer('sshd', sshd, ['-D', '-e', '-f', config], logFile);
  const details: SftpPeer = {
    host: '127.0.0.1',
    port,
    username: 'root',
    privateKeyPath: clientKey,
    hostFingerprint: await sshFingerprint(`${hostKey}.pub`),
    path: sftpRoot,
  };
  return launch(spawned, { port, dataDir: options.dataDir, details, what: 'sftp login' }, async () => {
    if (!(await canConnect(port))) return false;
    const client = await connectSftp(details);
    try {
      return (await client.exists(details.path)) === 'd';
    } finally {
      await client.end().catch(() => undefined);
    }
  });
}

/**
 * An SFTP session to the peer over a socket with TCP_NODELAY. ssh2 leaves Nagle's algorithm on,
 * and with OpenSSH's delayed ACKs every small request then waits ~40 ms: streamed reads of 20 MB
 * took 16 s instead of 0.3 s (docs/TESTBED.md).
 */
export async function connectSftp(peer: SftpPeer): Promise<SftpClient> {
  const sock = createConnection({ host: peer.host, port: peer.port });
  sock.setNoDelay(true);
  await new Promise<void>((done, fail) => {
    sock.once('connect', done);
    sock.once('error', fail);
  });
  const client = new SftpClient();
  try {
    await client.connect({ ...sftpConnectOptions(peer, await readFile(peer.privateKeyPath)), sock });
  } catch (error) {
    sock.destroy();
    throw error;
  }
  return client;
}

/** Connection options for ssh2/ssh2-sftp-client that accept only the peer's own host key. */
export function sftpConnectOptions(peer: SftpPeer, privateKey: Buffer): SftpClient.ConnectOptions {
  return {
    host: peer.host,
    port: peer.port,
    username: peer.username,
    privateKey,
    readyTimeout: 5000,
    hostVerifier: (key: Buffer) => sshKeyFingerprint(key) === peer.hostFingerprint,
  };
}

/** The SHA256 fingerprint of a raw SSH public key blob, formatted like `ssh-keygen -lf`. */
export function sshKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

async function generateSshKey(path: string): Promise<void> {
  if (existsSync(path)) return;
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mongo-backup-testbed', '-f', path]);
}

async function sshFingerprint(publicKeyPath: string): Promise<string> {
  const { stdout } = await execFileAsync('ssh-keygen', ['-l', '-E', 'sha256', '-f', publicKeyPath]);
  const fingerprint = stdout.split(' ')[1];
  if (!fingerprint?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen output: ${stdout}`);
  return fingerprint;
}

// ---------------------------------------------------------------------------------------------
// FTP and FTPS: vsftpd, logging in as a dedicated local user.

const ftpUser = 'mbtestftp';

export interface FtpStartOptions extends StartOptions {
  secure?: false | true | 'implicit';
  /** Fixed passive port range (for restarts); a free range is picked when absent. */
  passivePorts?: { min: number; max: number };
}

export interface FtpHandle extends PeerHandle<FtpPeer> {
  passivePorts: { min: number; max: number };
}

export async function startFtp(options: FtpStartOptions): Promise<FtpHandle> {
  const vsftpd = systemBinary('/usr/sbin/vsftpd', 'vsftpd');
  const secure = options.secure ?? false;
  const name = secure === false ? 'vsftpd' : 'vsftpd-tls';
  const { port, logFile } = await prepare(options, name);
  const password = await ensureFtpUser();
  const passivePorts = options.passivePorts ?? (await freePortRange(40));
  const ftpRoot = join(options.dataDir, 'ftp-root');
  const emptyDir = join(options.dataDir, 'vsftpd-empty');
  await Promise.all([mkdir(ftpRoot, { recursive: true }), mkdir(emptyDir, { recursive: true })]);
  // vsftpd drops to the FTP user, who must reach and write the directory.
  await chmod(options.dataDir, 0o755);
  const { uid, gid } = await userIds(ftpUser);
  await chown(ftpRoot, uid, gid);
  const passwordFile = join(options.dataDir, 'ftp-password');
  await writeFile(passwordFile, password, { mode: 0o600 });

  const tls = secure === false ? undefined : await selfSignedCertificate(options.dataDir);
  const config = join(options.dataDir, `${name}.conf`);
  await writeFile(config, vsftpdConfig({ port, passivePorts, ftpRoot, emptyDir, logFile: join(options.dataDir, `${name}-transfers.log`), secure, tls }));
  const spawned = spawnPeer(name, vsftpd, [config], logFile);
  const details: FtpPeer = { host: '127.0.0.1', port, user: ftpUser, password, passwordFile, path: ftpRoot, secure };
  if (tls) details.caCertPath = tls.certificate;
  const handle = await launch(spawned, { port, dataDir: options.dataDir, details, what: 'ftp login and list' }, async () => {
    if (!(await canConnect(port))) return false;
    const client = new FtpClient(5000);
    try {
      await client.access(await ftpAccessOptions(details));
      await client.list(details.path);
      return true;
    } finally {
      client.close();
    }
  });
  return { ...handle, passivePorts };
}

/** basic-ftp access options for the peer, trusting its self-signed certificate for FTPS. */
export async function ftpAccessOptions(peer: FtpPeer): Promise<Parameters<FtpClient['access']>[0]> {
  return {
    host: peer.host,
    port: peer.port,
    user: peer.user,
    password: peer.password,
    secure: peer.secure,
    ...(peer.caCertPath ? { secureOptions: { ca: await readFile(peer.caCertPath) } } : {}),
  };
}

function vsftpdConfig(settings: {
  port: number;
  passivePorts: { min: number; max: number };
  ftpRoot: string;
  emptyDir: string;
  logFile: string;
  secure: false | true | 'implicit';
  tls: { certificate: string; key: string } | undefined;
}): string {
  const lines = [
    'listen=YES',
    'listen_ipv6=NO',
    'listen_address=127.0.0.1',
    `listen_port=${settings.port}`,
    'background=NO',
    'anonymous_enable=NO',
    'local_enable=YES',
    'write_enable=YES',
    'local_umask=022',
    `local_root=${settings.ftpRoot}`,
    'chroot_local_user=NO',
    'pam_service_name=vsftpd',
    'userlist_enable=NO',
    'connect_from_port_20=NO',
    'pasv_enable=YES',
    'pasv_address=127.0.0.1',
    `pasv_min_port=${settings.passivePorts.min}`,
    `pasv_max_port=${settings.passivePorts.max}`,
    `secure_chroot_dir=${settings.emptyDir}`,
    // Containers usually forbid the namespaces and seccomp filters vsftpd would set up.
    'seccomp_sandbox=NO',
    'isolate=NO',
    'isolate_network=NO',
    'xferlog_enable=YES',
    `vsftpd_log_file=${settings.logFile}`,
  ];
  if (settings.tls) {
    lines.push(
      'ssl_enable=YES',
      `rsa_cert_file=${settings.tls.certificate}`,
      `rsa_private_key_file=${settings.tls.key}`,
      'allow_anon_ssl=NO',
      'force_local_logins_ssl=YES',
      'force_local_data_ssl=YES',
      'ssl_sslv2=NO',
      'ssl_sslv3=NO',
      'ssl_tlsv1=YES',
      'ssl_ciphers=HIGH',
      'require_ssl_reuse=YES',
    );
    if (settings.secure === 'implicit') lines.push('implicit_ssl=YES');
  }
  return `${lines.join('\n')}\n`;
}

async function selfSignedCertificate(dir: string): Promise<{ certificate: string; key: string }> {
  const certificate = join(dir, 'ftps-cert.pem');
  const key = join(dir, 'ftps-key.pem');
  if (!existsSync(certificate)) {
    await execFileAsync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '7',
      '-keyout', key, '-out', certificate,
      '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ]);
  }
  return { certificate, key };
}

let ftpUserReady: Promise<string> | undefined;

/**
 * Creates the FTP login user (once per machine) and returns its password. The password lives in
 * .peers/ so parallel processes and restarts agree on it; it only guards a throwaway test user.
 */
function ensureFtpUser(): Promise<string> {
  ftpUserReady ??= (async () => {
    const password = await sharedFtpPassword();
    const exists = await execFileAsync('id', ['-u', ftpUser]).then(() => true, () => false);
    if (!exists) {
      if (process.getuid?.() !== 0) throw new PeerUnavailableError(`user ${ftpUser} is missing and only root can create it`);
      // vsftpd changes into the home directory before local_root, so the user needs a real one.
      await execFileAsync('useradd', ['--create-home', '--shell', '/bin/bash', ftpUser]).catch(async (error: unknown) => {
        // Another process may have created it at the same moment.
        if (!(await execFileAsync('id', ['-u', ftpUser]).then(() => true, () => false))) throw error;
      });
    }
    if (process.getuid?.() === 0) {
      await runWithInput('chpasswd', `${ftpUser}:${password}\n`);
      await ensureHomeDirectory(ftpUser);
    }
    return password;
  })();
  return ftpUserReady;
}

/** vsftpd refuses a login whose home directory is missing ("500 OOPS: cannot change directory"). */
async function ensureHomeDirectory(user: string): Promise<void> {
  const { stdout } = await execFileAsync('getent', ['passwd', user]);
  const home = stdout.trim().split(':')[5];
  if (!home || existsSync(home)) return;
  if (home === '/nonexistent') {
    await execFileAsync('usermod', ['--home', `/home/${user}`, user]);
    return ensureHomeDirectory(user);
  }
  await mkdir(home, { recursive: true, mode: 0o755 });
  const { uid, gid } = await userIds(user);
  await chown(home, uid, gid);
}

async function sharedFtpPassword(): Promise<string> {
  const dir = join(repoRoot, '.peers');
  const path = join(dir, 'ftp-user.password');
  await mkdir(dir, { recursive: true });
  if (!existsSync(path)) {
    // Write aside and link into place: exactly one process wins, the others read its password.
    const candidate = `${path}.${process.pid}`;
    await writeFile(candidate, randomBytes(12).toString('hex'), { mode: 0o600 });
    await link(candidate, path).catch(() => undefined);
    await rm(candidate, { force: true });
  }
  return (await readFile(path, 'utf8')).trim();
}

async function runWithInput(command: string, input: string): Promise<void> {
  await new Promise<void>((done, fail) => {
    const child = execFile(command, (error) => (error ? fail(error) : done()));
    child.stdin?.end(input);
  });
}

async function userIds(user: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', user]), execFileAsync('id', ['-g', user])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
