// A 20 MB random object goes up to each storage peer through its official client, streamed, and
// comes back with the same SHA-256: the peers are real enough to test targets against.
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Storage } from '@google-cloud/storage';
import { BlobServiceClient } from '@azure/storage-blob';
import SftpClient from 'ssh2-sftp-client';
import { Client as FtpClient } from 'basic-ftp';
import { pipeline } from 'node:stream/promises';
import {
  connectSftp,
  ftpAccessOptions,
  peerDataDir,
  peerOrSkip,
  removePeerDataDir,
  sftpConnectOptions,
  startFtp,
  type FtpPeer,
} from '../setup/testbed.js';
import { payloadSize, randomPayload, sha256Of } from './payload.js';

const payload = randomPayload();
const objectKey = () => `smoke/${Date.now()}-${Math.random().toString(16).slice(2)}/payload.bin`;

describe('storage peers: 20 MB streamed round trip, same SHA-256', () => {
  it('S3 (versitygw): multipart upload with lib-storage, GetObject back', async (ctx) => {
    const s3 = peerOrSkip('s3', ctx);
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: s3.forcePathStyle,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const key = objectKey();
    try {
      // 5 MiB parts: four or five parts, so the multipart path is what is tested.
      await new Upload({ client, params: { Bucket: s3.bucket, Key: key, Body: payload.stream() }, partSize: 5 * 1024 * 1024 }).done();
      const { Body } = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
      expect(await sha256Of(Body as AsyncIterable<Uint8Array>)).toEqual({ sha256: payload.sha256, size: payloadSize });
    } finally {
      client.destroy();
    }
  });

  it('GCS (fake-gcs-server): resumable upload with @google-cloud/storage, stream back', async (ctx) => {
    const gcs = peerOrSkip('gcs', ctx);
    const file = new Storage({ apiEndpoint: gcs.apiEndpoint, projectId: gcs.projectId }).bucket(gcs.bucket).file(objectKey());
    await pipeline(payload.stream(), file.createWriteStream({ resumable: true }));
    expect(await sha256Of(file.createReadStream())).toEqual({ sha256: payload.sha256, size: payloadSize });
  });

  it('Azure Blob (Azurite): uploadStream with @azure/storage-blob, download back', async (ctx) => {
    const azure = peerOrSkip('azure', ctx);
    const blob = BlobServiceClient.fromConnectionString(azure.connectionString).getContainerClient(azure.container).getBlockBlobClient(objectKey());
    await blob.uploadStream(payload.stream(), 4 * 1024 * 1024, 4);
    const download = await blob.download();
    expect(await sha256Of(download.readableStreamBody as AsyncIterable<Uint8Array>)).toEqual({ sha256: payload.sha256, size: payloadSize });
  });

  it('SFTP (OpenSSH): put and read back with ssh2-sftp-client, host key pinned by fingerprint', async (ctx) => {
    const sftp = peerOrSkip('sftp', ctx);
    const client = await connectSftp(sftp);
    const path = `${sftp.path}/payload-${Date.now()}.bin`;
    try {
      await client.put(payload.stream(), path);
      const download = client.createReadStream(path);
      expect(await sha256Of(download)).toEqual({ sha256: payload.sha256, size: payloadSize });
      // The stream closes its remote handle after 'end'; ending the session first would fail that.
      if (!download.closed) await once(download, 'close');
    } finally {
      await client.end();
    }
  });

  it('SFTP (OpenSSH): a client expecting another host key is refused', async (ctx) => {
    const sftp = peerOrSkip('sftp', ctx);
    const client = new SftpClient();
    const impostor = { ...sftp, hostFingerprint: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' };
    await expect(client.connect(sftpConnectOptions(impostor, await readFile(sftp.privateKeyPath)))).rejects.toThrow(/verification failed/i);
    await client.end().catch(() => undefined);
  });

  it('implicit FTPS (private vsftpd): TLS from the first byte, round trip of 1 MB', async (ctx) => {
    peerOrSkip('ftps', ctx);
    const dataDir = await peerDataDir('ftps-implicit');
    const server = await startFtp({ dataDir, secure: 'implicit' });
    const client = new FtpClient(30_000);
    const small = randomPayload(1024 * 1024);
    try {
      await client.access(await ftpAccessOptions(server.details));
      expect(client.ftp.socket instanceof TLSSocket).toBe(true);
      await client.uploadFrom(small.stream(), `${server.details.path}/small.bin`);
      const received = new PassThrough();
      const [hashed] = await Promise.all([sha256Of(received), client.downloadTo(received, `${server.details.path}/small.bin`)]);
      expect(hashed).toEqual({ sha256: small.sha256, size: small.bytes.length });
    } finally {
      client.close();
      await server.stop();
      await removePeerDataDir(dataDir);
    }
  });

  for (const name of ['ftp', 'ftps'] as const) {
    it(`${name.toUpperCase()} (vsftpd): uploadFrom and downloadTo with basic-ftp`, async (ctx) => {
      const ftp: FtpPeer = peerOrSkip(name, ctx);
      expect(await readFile(ftp.passwordFile, 'utf8')).toBe(ftp.password);
      const client = new FtpClient(30_000);
      const path = `${ftp.path}/payload-${Date.now()}.bin`;
      try {
        await client.access(await ftpAccessOptions(ftp));
        // FTPS: the session must really be encrypted, not silently downgraded.
        expect(client.ftp.socket instanceof TLSSocket).toBe(ftp.secure !== false);
        await client.uploadFrom(payload.stream(), path);
        const received = new PassThrough();
        const [hashed] = await Promise.all([sha256Of(received), client.downloadTo(received, path)]);
        expect(hashed).toEqual({ sha256: payload.sha256, size: payloadSize });
      } finally {
        client.close();
      }
    });
  }
});
