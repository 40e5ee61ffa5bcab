// Starts every peer in parallel, each in a fresh directory under one temp root, and collects the
// connection details. A peer that cannot start is recorded in `missing` with the reason instead of
// failing the whole run; tests decide what that means (testbed.ts: fail in CI, skip locally).
import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startAzure,
  startFerretDB,
  startFtp,
  startGcs,
  mongoServerToolsOnPath,
  startMongod,
  startS3,
  startSftp,
  type PeerHandle,
  type PeerName,
  type Testbed,
} from './peers.js';
import { claimPeerDir, reapAbandonedPeerDirs } from './process.js';

export const notSelectedReason = 'not selected by MONGO_BACKUP_TEST_PEERS';

export const peerNames: readonly PeerName[] = ['mongo', 's3', 'gcs', 'azure', 'sftp', 'ftp', 'ftps'];

// Shapes that stand in for a missing peer, so Testbed stays one plain serializable object.
const unavailable: Omit<Testbed, 'missing'> = {
  mongo: { uri: '', mongodump: '', mongorestore: '', kind: 'ferretdb' },
  s3: { endpoint: '', region: '', bucket: '', accessKeyId: '', secretAccessKey: '', forcePathStyle: true },
  gcs: { apiEndpoint: '', bucket: '', projectId: '' },
  azure: { connectionString: '', container: '', accountName: '', accountKey: '', blobEndpoint: '' },
  sftp: { host: '', port: 0, username: '', privateKeyPath: '', hostFingerprint: '', path: '' },
  ftp: { host: '', port: 0, user: '', password: '', passwordFile: '', path: '', secure: false },
  ftps: { host: '', port: 0, user: '', password: '', passwordFile: '', path: '', secure: true },
};

export interface StartedTestbed {
  testbed: Testbed;
  rootDir: string;
  /** Per peer: how long it took to become ready (ms). */
  startupMs: Partial<Record<PeerName, number>>;
  /** Stops every peer and removes the temp root (unless MONGO_BACKUP_TEST_KEEP=1). Idempotent. */
  stopAll(): Promise<void>;
}

/** `MONGO_BACKUP_TEST_PEERS=mongo,s3` starts only those; `none` starts none (for unit-only runs). */
export function selectedPeers(env: NodeJS.ProcessEnv = process.env): Set<PeerName> {
  const selection = env['MONGO_BACKUP_TEST_PEERS']?.trim();
  if (!selection || selection === 'all') return new Set(peerNames);
  if (selection === 'none') return new Set();
  return new Set(peerNames.filter((name) => selection.split(',').map((part) => part.trim()).includes(name)));
}

function starterFor(name: PeerName, dataDir: string): () => Promise<PeerHandle<Testbed[PeerName]>> {
  switch (name) {
    case 'mongo':
      // A real mongod only when asked for and installed; FerretDB otherwise.
      return process.env['MONGO_BACKUP_TEST_MONGOD'] === '1' && mongoServerToolsOnPath() ? () => startMongod({ dataDir }) : () => startFerretDB({ dataDir });
    case 's3':
      return () => startS3({ dataDir });
    case 'gcs':
      return () => startGcs({ dataDir });
    case 'azure':
      return () => startAzure({ dataDir });
    case 'sftp':
      return () => startSftp({ dataDir });
    case 'ftp':
      return () => startFtp({ dataDir, secure: false });
    case 'ftps':
      return () => startFtp({ dataDir, secure: true });
  }
}

export async function startTestbed(): Promise<StartedTestbed> {
  const reaped = reapAbandonedPeerDirs();
  if (reaped.length > 0) process.stderr.write(`[testbed] removed ${reaped.length} test bed(s) left by dead runs: ${reaped.join(', ')}\n`);
  const rootDir = await mkdtemp(join(tmpdir(), 'mongo-backup-testbed-'));
  claimPeerDir(rootDir);
  // Servers that drop privileges (vsftpd) must be able to reach their data below this root.
  await chmod(rootDir, 0o755);
  const wanted = selectedPeers();
  const handles: PeerHandle<unknown>[] = [];
  const testbed: Testbed = { ...unavailable, missing: {} };
  const startupMs: Partial<Record<PeerName, number>> = {};

  await Promise.all(
    peerNames.map(async (name) => {
      if (!wanted.has(name)) {
        testbed.missing[name] = notSelectedReason;
        return;
      }
      const started = Date.now();
      try {
        const handle = await starterFor(name, join(rootDir, name))();
        handles.push(handle);
        startupMs[name] = Date.now() - started;
        Object.assign(testbed, { [name]: handle.details });
      } catch (error) {
        testbed.missing[name] = error instanceof Error ? error.message : String(error);
      }
    }),
  );

  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      await Promise.allSettled(handles.map((handle) => handle.stop()));
      if (process.env['MONGO_BACKUP_TEST_KEEP'] !== '1') await rm(rootDir, { recursive: true, force: true });
    })());
  return { testbed, rootDir, startupMs, stopAll };
}
