/// <reference path="./vitest.d.ts" />
// What tests import to reach the test bed:
//   import { testbed, peerOrSkip, seedDatabase } from '../setup/testbed.js';
//   it('uploads', async (ctx) => { const s3 = peerOrSkip('s3', ctx); ... });
// To stop or restart a peer mid-test, start a private one with the start functions re-exported
// below (startS3({ dataDir: await peerDataDir('s3') }) ...).
import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { MongoClient, type Document } from 'mongodb';
import type { PeerName, Testbed } from './peers.js';
import { claimPeerDir } from './process.js';

export type { AzurePeer, FtpHandle, FtpPeer, FtpStartOptions, GcsPeer, MongoPeer, PeerHandle, PeerName, S3Peer, SftpPeer, StartOptions, Testbed } from './peers.js';
export {
  connectSftp,
  ftpAccessOptions,
  mongoServerToolsOnPath,
  sftpConnectOptions,
  sshKeyFingerprint,
  startAzure,
  startFerretDB,
  startFtp,
  startGcs,
  startMongod,
  startS3,
  startSftp,
} from './peers.js';

/** The shared peers started by the global setup. */
export function testbed(): Testbed {
  const provided = inject('testbed');
  if (provided === undefined) {
    throw new Error('no test bed: run the tests through vitest.config.ts, whose globalSetup starts the peers');
  }
  return provided;
}

/** Why a peer is not available, or undefined when it is. */
export function peerMissingReason(name: PeerName): string | undefined {
  return testbed().missing[name];
}

/** Why a peer is missing (undefined when it is there); in CI (`CI=true`: every peer is required there) a missing peer throws. */
function missingOutsideCi(name: PeerName): string | undefined {
  const reason = peerMissingReason(name);
  if (reason !== undefined && process.env['CI'] === 'true') throw new Error(`test peer "${name}" is not available: ${reason}`);
  return reason;
}

/**
 * The details of a shared peer. When the peer is missing, the test fails in CI
 * (`CI=true`: every peer is required there) and is skipped locally, with the reason.
 */
export function peerOrSkip<Name extends PeerName>(name: Name, context: { skip(note?: string): never }): Testbed[Name] {
  const reason = missingOutsideCi(name);
  if (reason !== undefined) context.skip(`test peer "${name}" is not available: ${reason}`);
  return testbed()[name];
}

/**
 * The details of a peer a test can run without (it then checks less), or undefined when the peer
 * is missing locally. In CI a missing peer fails the test, as with peerOrSkip.
 */
export function optionalPeer<Name extends PeerName>(name: Name): Testbed[Name] | undefined {
  return missingOutsideCi(name) === undefined ? testbed()[name] : undefined;
}

/**
 * A fresh directory for a private peer (one a test stops and restarts). Readable by the servers
 * that drop privileges; remove it with `removePeerDataDir` when done.
 */
export async function peerDataDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `mongo-backup-peer-${label}-`));
  await chmod(dir, 0o755);
  claimPeerDir(dir);
  return dir;
}

export async function removePeerDataDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Collection name -> number of documents to insert, or the documents themselves. */
export type SeedSpec = Record<string, number | Document[]>;

/**
 * Fills `dbName` with documents and returns the per-namespace counts (`{"db.coll": n}`), the shape
 * manifests use. Generated documents stay inside FerretDB's limits (no nested arrays, NUL
 * characters, dotted or `$` keys, NaN): see docs/TESTBED.md. Database names: Latin letters only.
 */
export async function seedDatabase(uri: string, dbName: string, spec: SeedSpec): Promise<Record<string, number>> {
  if (!/^[A-Za-z]+$/.test(dbName)) throw new Error(`database name "${dbName}": FerretDB accepts Latin letters only`);
  const client = new MongoClient(uri);
  const counts: Record<string, number> = {};
  try {
    const db = client.db(dbName);
    for (const [collection, content] of Object.entries(spec)) {
      const documents = typeof content === 'number' ? sampleDocuments(content) : content;
      for (let start = 0; start < documents.length; start += 1000) {
        await db.collection(collection).insertMany(documents.slice(start, start + 1000));
      }
      if (documents.length === 0) await db.createCollection(collection);
      counts[`${dbName}.${collection}`] = documents.length;
    }
  } finally {
    await client.close();
  }
  return counts;
}

/** Varied but FerretDB-safe documents: strings, numbers, dates, nested documents, flat arrays. */
export function sampleDocuments(count: number, firstId = 0): Document[] {
  return Array.from({ length: count }, (_, index) => {
    const id = firstId + index;
    return {
      _id: id,
      name: `document ${id} — ünïcödé ✓`,
      amount: id * 1.5,
      big: BigInt(id) * 1_000_000_007n,
      active: id % 2 === 0,
      createdAt: new Date(Date.UTC(2026, 0, 1) + id * 60_000),
      tags: ['alpha', `t${id % 7}`],
      address: { city: `city-${id % 13}`, zip: String(10_000 + id) },
      note: id % 5 === 0 ? null : 'x'.repeat(id % 50),
    };
  });
}

/** Document count per collection of one database, `{"db.coll": n}`. */
export async function countDocuments(uri: string, dbName: string): Promise<Record<string, number>> {
  const client = new MongoClient(uri);
  try {
    const db = client.db(dbName);
    const counts: Record<string, number> = {};
    for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
      counts[`${dbName}.${name}`] = await db.collection(name).countDocuments();
    }
    return counts;
  } finally {
    await client.close();
  }
}
