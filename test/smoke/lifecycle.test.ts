// Private peers can be stopped and started again on the same port with the same data, and stop
// leaves no process behind: later tests ("peer restarted, retry succeeds") depend on this.
import { describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { canConnect, isAlive } from '../setup/process.js';
import {
  peerDataDir,
  peerMissingReason,
  removePeerDataDir,
  startAzure,
  startFerretDB,
  startFtp,
  startGcs,
  startS3,
  startSftp,
  type PeerHandle,
  type PeerName,
  type StartOptions,
} from '../setup/testbed.js';


/** Skips locally (fails in CI) when the shared peer of the same kind could not start either. */
function skipIfMissing(name: PeerName, ctx: { skip(note?: string): never }): void {
  const reason = peerMissingReason(name);
  if (reason === undefined) return;
  if (process.env['CI'] === 'true') throw new Error(`test peer "${name}" is not available: ${reason}`);
  ctx.skip(reason);
}

const starters: Array<[PeerName, (options: StartOptions) => Promise<PeerHandle<unknown>>]> = [
  ['mongo', startFerretDB],
  ['s3', startS3],
  ['gcs', startGcs],
  ['azure', startAzure],
  ['sftp', startSftp],
  ['ftp', (options) => startFtp({ ...options, secure: false })],
];

describe('peer lifecycle', () => {
  for (const [name, start] of starters) {
    it(`${name}: stop kills the process and frees the port; restart on the same port works`, async (ctx) => {
      skipIfMissing(name, ctx);
      if (name === 'mongo' && process.env['MONGO_BACKUP_TEST_MONGOD'] === '1') ctx.skip('FerretDB-specific');
      const dataDir = await peerDataDir(name);
      try {
        const first = await start({ dataDir });
        await first.stop();
        await first.stop(); // idempotent
        expect(isAlive(first.pid)).toBe(false);
        expect(await canConnect(first.port)).toBe(false);

        const second = await start({ dataDir, port: first.port });
        expect(second.port).toBe(first.port);
        expect(await canConnect(second.port)).toBe(true);
        await second.stop();
        expect(isAlive(second.pid)).toBe(false);
      } finally {
        await removePeerDataDir(dataDir);
      }
    });
  }

  it('mongo (FerretDB): documents survive a restart on the same data directory', async (ctx) => {
    skipIfMissing('mongo', ctx);
    const dataDir = await peerDataDir('mongo');
    try {
      const first = await startFerretDB({ dataDir });
      let client = new MongoClient(first.details.uri);
      await client.db('restart').collection<{ _id: number; value: string }>('kept').insertOne({ _id: 1, value: 'before restart' });
      await client.close();
      await first.stop();

      const second = await startFerretDB({ dataDir, port: first.port });
      client = new MongoClient(second.details.uri);
      try {
        expect(await client.db('restart').collection<{ _id: number; value: string }>('kept').findOne({ _id: 1 })).toEqual({ _id: 1, value: 'before restart' });
      } finally {
        await client.close();
        await second.stop();
      }
    } finally {
      await removePeerDataDir(dataDir);
    }
  });

  it('s3 (versitygw): objects survive a restart; requests fail while it is down', async (ctx) => {
    skipIfMissing('s3', ctx);
    const dataDir = await peerDataDir('s3');
    try {
      const first = await startS3({ dataDir });
      const peer = first.details;
      const client = new S3Client({
        endpoint: peer.endpoint,
        region: peer.region,
        forcePathStyle: true,
        credentials: { accessKeyId: peer.accessKeyId, secretAccessKey: peer.secretAccessKey },
        maxAttempts: 1,
      });
      try {
        await client.send(new PutObjectCommand({ Bucket: peer.bucket, Key: 'kept.txt', Body: 'before restart' }));
        await first.stop();
        await expect(client.send(new GetObjectCommand({ Bucket: peer.bucket, Key: 'kept.txt' }))).rejects.toThrow();

        const second = await startS3({ dataDir, port: first.port });
        try {
          const { Body } = await client.send(new GetObjectCommand({ Bucket: peer.bucket, Key: 'kept.txt' }));
          expect(await Body?.transformToString()).toBe('before restart');
        } finally {
          await second.stop();
        }
      } finally {
        client.destroy();
      }
    } finally {
      await removePeerDataDir(dataDir);
    }
  });
});
