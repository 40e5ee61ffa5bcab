/**
 * Amazon S3 and S3-compatible servers (MinIO, versitygw, Ceph, ...).
 *
 * Streams go up as a multipart upload (@aws-sdk/lib-storage `Upload`): `partSize` bytes are
 * buffered per part and at most two parts are in flight, so memory stays near 3 × partSize
 * whatever the object size. An object becomes visible only when the upload completes; a failed or
 * aborted save aborts the multipart upload, so nothing appears under the key. Loads are ranged
 * GetObject requests streamed straight through.
 *
 * A killed run (`kill -9`) cannot abort its upload: the parts stay on the server, billed but
 * invisible (they are not objects). removeStaleTemporaries(), called by prune, aborts the
 * multipart uploads under the target's prefix that began longer ago than the grace period.
 *
 * With `objectLock` (docs/TARGETS.md#object-lock) every object is written under an S3 Object Lock
 * retention (s3-lock.ts), check() refuses a bucket without Object Lock, and remove() deletes every
 * version of the key, not just the current one, once the lock has ended.
 */
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  StorageClass,
  type ListMultipartUploadsCommandOutput,
  type S3ClientConfig,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { BackupError, isNotFound } from '../errors.js';
import {
  abortReason,
  authFailed,
  destroyOnAbort,
  honourLateAbort,
  messageOf,
  networkErrorCode,
  notFound,
  saveFailure,
  targetFailed,
  trackBody,
  unreachable,
  type TrackedBody,
} from './remote.js';
import { isLockActive, readObjectLockConfig } from './lock-policy.js';
import { assertBucketLocks, lockUploadParams, objectLockedError, readLock, removeAllVersions, removeVersionsUnder, type LockContext } from './s3-lock.js';
import type {
  LoadOptions,
  ObjectInfo,
  ObjectLockPolicy,
  ObjectLockState,
  SaveOptions,
  SaveResult,
  Target,
  TargetConfigBase,
  TargetCapabilities,
  TargetFactory,
  TemporaryCleanupOptions,
} from './types.js';
import { assertValidKey, configError, normalizePrefix, removeStaleLeftovers, optionalBoolean, optionalString, requireString } from './util.js';

const MIB = 1024 * 1024;
/** 16 MiB parts: 10,000 parts (S3's limit) then cover 156 GiB; memory ≈ 3 parts. */
const DEFAULT_PART_SIZE = 16 * MIB;
const MIN_PART_SIZE = 5 * MIB;
/** Parts uploaded at once; small on purpose (bounded memory, several targets share the machine). */
const QUEUE_SIZE = 2;

export interface S3TargetSettings {
  bucket: string;
  prefix: string;
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  storageClass?: StorageClass;
  sse?: ServerSideEncryption;
  kmsKeyId?: string;
  partSize: number;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  objectLock?: ObjectLockPolicy;
}

/** A multipart upload under the target's prefix, `key` relative to the prefix. */
interface PendingUpload {
  key: string;
  uploadId: string;
  initiated?: Date;
}

/** Where a ListMultipartUploads page starts: after this key and upload (none: from the start). */
interface UploadMarkers {
  KeyMarker?: string;
  UploadIdMarker?: string;
}

/** How removeStaleTemporaries() names an aborted upload, so prune's report does not read as a deleted object. */
const MULTIPART_UPLOAD_MARK = ' (multipart upload)';

export class S3Target implements Target {
  readonly type = 's3';
  readonly capabilities: TargetCapabilities;
  private readonly client: S3Client;

  constructor(
    readonly name: string,
    private readonly settings: S3TargetSettings,
  ) {
    this.capabilities = {
      insecureTransport: settings.endpoint?.startsWith('http://') ?? false,
      removeStaleTemporaries: (olderThanMs, options) => this.removeStale(olderThanMs, options),
      lockOf: (key) => this.readObjectLock(key),
      ...(settings.objectLock ? { objectLock: settings.objectLock, removeHiddenVersions: (prefix: string) => this.removeHidden(prefix) } : {}),
    };
    this.client = new S3Client(clientConfig(settings));
  }

  describe(): string {
    const at = this.settings.endpoint ? ` at ${this.settings.endpoint}` : '';
    return `s3://${this.settings.bucket}/${this.settings.prefix}${at}`;
  }

  private objectKey(key: string): string {
    assertValidKey(key);
    return this.settings.prefix + key;
  }

  async save(key: string, body: Readable, options: SaveOptions = {}): Promise<SaveResult> {
    const Key = this.objectKey(key);
    let tracked: TrackedBody | undefined;
    try {
      tracked = trackBody(body, options.signal);
      const upload = new Upload({
        client: this.client,
        partSize: this.settings.partSize,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
        params: {
          Bucket: this.settings.bucket,
          Key,
          Body: tracked.stream,
          ...(options.contentType ? { ContentType: options.contentType } : {}),
          ...(this.settings.storageClass ? { StorageClass: this.settings.storageClass } : {}),
          ...(this.settings.sse ? { ServerSideEncryption: this.settings.sse } : {}),
          ...(this.settings.kmsKeyId ? { SSEKMSKeyId: this.settings.kmsKeyId } : {}),
          ...(this.settings.objectLock ? lockUploadParams(this.settings.objectLock, new Date()) : {}),
        },
      });
      await upload.done();
      await honourLateAbort(options.signal, () => this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key })));
      return { size: tracked.bytes() };
    } catch (error) {
      throw saveFailure(this, key, tracked, error, (e) => this.toTargetError(e, `save ${key}`));
    } finally {
      tracked?.dispose();
    }
  }

  async load(key: string, options: LoadOptions = {}): Promise<Readable> {
    const range = options.range;
    if (range && range.end !== undefined && range.end <= range.start) {
      await this.stat(key); // an empty range of a missing object is still a missing object
      return Readable.from([]);
    }
    try {
      const response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.settings.bucket,
          Key: this.objectKey(key),
          ...(range ? { Range: `bytes=${range.start}-${range.end === undefined ? '' : range.end - 1}` } : {}),
        }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      if (!(response.Body instanceof Readable)) throw new Error('GetObject returned no readable body');
      // The SDK's signal covers the request; the body stream needs its own hook.
      destroyOnAbort(response.Body, options.signal);
      return response.Body;
    } catch (error) {
      // The SDK's own abort error would hide why the caller stopped (LoadOptions.signal).
      if (options.signal?.aborted) throw abortReason(options.signal);
      throw this.toTargetError(error, `load ${key}`, key);
    }
  }

  async stat(key: string): Promise<ObjectInfo> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }));
      return { key, size: head.ContentLength ?? 0, ...(head.LastModified ? { modified: head.LastModified } : {}) };
    } catch (error) {
      throw this.toTargetError(error, `stat ${key}`, key);
    }
  }

  async *list(prefix = ''): AsyncIterable<ObjectInfo> {
    let ContinuationToken: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.settings.prefix + prefix, ContinuationToken, MaxKeys: 1000 }),
        );
      } catch (error) {
        throw this.toTargetError(error, `list ${prefix || 'objects'}`);
      }
      for (const object of page.Contents ?? []) {
        if (!object.Key || object.Key.endsWith('/')) continue; // folder placeholders of S3 consoles
        yield {
          key: object.Key.slice(this.settings.prefix.length),
          size: object.Size ?? 0,
          ...(object.LastModified ? { modified: object.LastModified } : {}),
        };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async remove(key: string): Promise<void> {
    if (this.settings.objectLock) return this.removeLocked(key);
    // DeleteObject succeeds for missing keys; the contract wants NotFound, so look first.
    await this.stat(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }));
    } catch (error) {
      throw this.toTargetError(error, `remove ${key}`, key);
    }
  }

  /**
   * A locked target's bucket keeps versions: the key is gone only when every version and delete
   * marker is. A lock still running is reported as OBJECT_LOCKED with its date, before any request
   * that S3 would refuse.
   */
  private async removeLocked(key: string): Promise<void> {
    const Key = this.objectKey(key);
    const lock = await this.readObjectLock(key).catch((error: unknown) => {
      if (isNotFound(error)) return undefined; // only delete markers or older versions may be left
      throw error;
    });
    if (isLockActive(lock, new Date())) throw objectLockedError(this.name, key, lock);
    if (!(await removeAllVersions(this.lockContext(), Key, key))) throw notFound(this, key);
  }

  private async removeHidden(prefix: string): Promise<number> {
    return removeVersionsUnder(this.lockContext(), this.settings.prefix + prefix, this.settings.prefix);
  }

  private async readObjectLock(key: string): Promise<ObjectLockState | undefined> {
    return readLock(this.lockContext(), this.objectKey(key), key);
  }

  private lockContext(): LockContext {
    return { client: this.client, bucket: this.settings.bucket, targetName: this.name, toTargetError: (e, action, key) => this.toTargetError(e, action, key) };
  }

  /**
   * Aborts the multipart uploads under the prefix that began more than `olderThanMs` ago: those of
   * killed runs (a finished or failed save completes or aborts its own). Like an incomplete backup
   * folder, a run older than the grace period counts as dead. An upload whose start the server
   * does not tell is kept. Returns `KEY (multipart upload)` for each, KEY relative to the prefix;
   * [] on servers without ListMultipartUploads.
   */
  private async removeStale(olderThanMs: number, options: TemporaryCleanupOptions = {}): Promise<string[]> {
    const stale = await this.staleUploads(olderThanMs);
    return removeStaleLeftovers(stale, (upload) => upload.key + MULTIPART_UPLOAD_MARK, (upload) => this.abortUpload(upload), options);
  }

  /** The uploads under the prefix that began more than `olderThanMs` ago. */
  private async staleUploads(olderThanMs: number): Promise<PendingUpload[]> {
    const stale: PendingUpload[] = [];
    // All pages first, aborts after: a next page's markers name an upload, which must still exist
    // on servers that look it up (versitygw does).
    for await (const upload of this.pendingUploads()) {
      if (upload.initiated && Date.now() - upload.initiated.getTime() > olderThanMs) stale.push(upload);
    }
    return stale;
  }

  /** Every multipart upload pending under the prefix, following the listing's pages. */
  private async *pendingUploads(): AsyncIterable<PendingUpload> {
    const prefix = this.settings.prefix;
    let markers: UploadMarkers = {};
    for (;;) {
      const page = await this.uploadsPage(markers);
      if (!page) return;
      for (const upload of page.Uploads ?? []) {
        // Checked again: a server that ignored Prefix must still not get other prefixes' uploads aborted.
        if (!upload.Key?.startsWith(prefix) || !upload.UploadId) continue;
        yield { key: upload.Key.slice(prefix.length), uploadId: upload.UploadId, ...(upload.Initiated ? { initiated: upload.Initiated } : {}) };
      }
      const next: UploadMarkers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
      // A truncated page whose markers do not move on would loop forever.
      if (!page.IsTruncated || !next.KeyMarker || (next.KeyMarker === markers.KeyMarker && next.UploadIdMarker === markers.UploadIdMarker)) return;
      markers = next;
    }
  }

  /** One ListMultipartUploads page; undefined when the server does not implement the call. */
  private async uploadsPage(markers: UploadMarkers): Promise<ListMultipartUploadsCommandOutput | undefined> {
    try {
      return await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.settings.bucket,
          ...(this.settings.prefix ? { Prefix: this.settings.prefix } : {}),
          ...(markers.KeyMarker ? { KeyMarker: markers.KeyMarker } : {}),
          ...(markers.UploadIdMarker ? { UploadIdMarker: markers.UploadIdMarker } : {}),
        }),
      );
    } catch (error) {
      const { name, status } = errorInfo(error);
      // Nothing to clean up where uploads cannot be listed; prune goes on with the backups.
      if (name === 'NotImplemented' || status === 501) return undefined;
      // versitygw (1.8.0, versity/versitygw#2149) rejects its own NextUploadIdMarker; it only ever
      // lists keys after KeyMarker, so the page it means is the one without the upload marker.
      if (markers.UploadIdMarker && name === 'InvalidArgument') return this.uploadsPage({ KeyMarker: markers.KeyMarker });
      throw this.toTargetError(error, 'list multipart uploads');
    }
  }

  /** Aborts one upload; false when it was gone already (completed, or aborted by another prune). */
  private async abortUpload(upload: PendingUpload): Promise<boolean> {
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: this.settings.prefix + upload.key, UploadId: upload.uploadId }),
      );
      return true;
    } catch (error) {
      if (errorInfo(error).name === 'NoSuchUpload') return false;
      throw this.toTargetError(error, `abort the multipart upload of ${upload.key}`);
    }
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.settings.prefix, MaxKeys: 1 }));
    } catch (error) {
      throw this.toTargetError(error, 'list the bucket');
    }
    if (this.settings.objectLock) await assertBucketLocks(this.lockContext());
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** Maps an SDK error; `key` marks operations on one object, where 404 means NotFound. */
  private toTargetError(error: unknown, action: string, key?: string): BackupError {
    if (error instanceof BackupError) return error;
    const { name, status } = errorInfo(error);
    if (name === 'NoSuchBucket') {
      return targetFailed(this, action, `bucket ${this.settings.bucket} does not exist: create it or fix targets.${this.name}.bucket`, error);
    }
    if (key !== undefined && (name === 'NoSuchKey' || name === 'NotFound' || status === 404)) return notFound(this, key, error);
    if (AUTH_ERROR_NAMES.has(name) || status === 401 || status === 403) {
      const credentials = this.settings.accessKeyId
        ? `targets.${this.name}.accessKeyId/secretAccessKey`
        : 'the AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the instance role)';
      return authFailed(this, `${name || `HTTP ${status}`}`, `check ${credentials} and that they may read and write bucket ${this.settings.bucket}`, error);
    }
    const network = networkErrorCode(error);
    if (network) return unreachable(this, `${network} (${messageOf(error)})`, error);
    return targetFailed(this, action, `${name && name !== 'Error' ? `${name}: ` : ''}${messageOf(error)}`, error);
  }
}

/** An SDK error's name (S3's error code, '' when none) and HTTP status. */
function errorInfo(error: unknown): { name: string; status: number | undefined } {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return { name: e?.name ?? '', status: e?.$metadata?.httpStatusCode };
}

const AUTH_ERROR_NAMES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'CredentialsProviderError',
  'InvalidClientTokenId',
  'AuthorizationHeaderMalformed',
  'Forbidden',
]);

function clientConfig(settings: S3TargetSettings): S3ClientConfig {
  const config: S3ClientConfig = {
    // Custom endpoints default to us-east-1 (what most S3-compatible servers expect).
    ...(settings.region ? { region: settings.region } : settings.endpoint ? { region: 'us-east-1' } : {}),
    ...(settings.forcePathStyle !== undefined ? { forcePathStyle: settings.forcePathStyle } : {}),
    maxAttempts: 3,
  };
  if (settings.endpoint) {
    config.endpoint = settings.endpoint;
    // S3-compatible servers often mishandle the SDK's default flexible checksums (aws-chunked
    // trailers end up inside the object on s3rver); send and check them only when S3 requires it.
    config.requestChecksumCalculation = 'WHEN_REQUIRED';
    config.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  if (settings.accessKeyId && settings.secretAccessKey) {
    config.credentials = {
      accessKeyId: settings.accessKeyId,
      secretAccessKey: settings.secretAccessKey,
      ...(settings.sessionToken ? { sessionToken: settings.sessionToken } : {}),
    };
  }
  return config;
}

/** `partSize`: bytes as a number, or a string such as `64MiB` / `64MB` / `67108864`. */
export function parseByteSize(value: unknown, key: string, targetName: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$/i.exec(String(value));
  if (!match) throw configError(key, 'must be a size in bytes or like 64MiB', targetName);
  const units: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: MIB, gb: 1e9, gib: 1024 * MIB };
  return Math.round(Number(match[1]) * (units[(match[2] ?? 'b').toLowerCase()] ?? 1));
}

export const s3TargetFactory: TargetFactory = {
  type: 's3',
  create(config: TargetConfigBase): Target {
    const storageClass = optionalString(config, 'storageClass');
    const knownClasses = Object.values(StorageClass) as string[];
    if (storageClass !== undefined && !knownClasses.includes(storageClass)) {
      throw configError('storageClass', `must be one of ${knownClasses.join(', ')}`, config.name);
    }
    const sse = optionalString(config, 'sse');
    if (sse !== undefined && sse !== 'AES256' && sse !== 'aws:kms') throw configError('sse', 'must be AES256 or aws:kms', config.name);
    const kmsKeyId = optionalString(config, 'kmsKeyId');
    if (kmsKeyId !== undefined && sse !== 'aws:kms') throw configError('kmsKeyId', 'needs sse: aws:kms', config.name);
    const partSize = parseByteSize(config['partSize'], 'partSize', config.name) ?? DEFAULT_PART_SIZE;
    if (partSize < MIN_PART_SIZE) throw configError('partSize', 'must be at least 5MiB (the S3 minimum part size)', config.name);
    const endpoint = optionalString(config, 'endpoint');
    if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) throw configError('endpoint', 'must be an http:// or https:// URL', config.name);
    const accessKeyId = optionalString(config, 'accessKeyId');
    const secretAccessKey = optionalString(config, 'secretAccessKey');
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
      throw configError(accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey', 'must be given together with the other key (or neither, for the AWS default credential chain)', config.name);
    }
    const sessionToken = optionalString(config, 'sessionToken');
    const region = optionalString(config, 'region');
    const forcePathStyle = optionalBoolean(config, 'forcePathStyle');
    const objectLock = readObjectLockConfig(config);
    const settings: S3TargetSettings = {
      bucket: requireString(config, 'bucket'),
      prefix: normalizePrefix(config.prefix),
      partSize,
      ...(region ? { region } : {}),
      ...(endpoint ? { endpoint } : {}),
      ...(forcePathStyle !== undefined ? { forcePathStyle } : {}),
      ...(storageClass ? { storageClass: storageClass as StorageClass } : {}),
      ...(sse ? { sse: sse as ServerSideEncryption } : {}),
      ...(kmsKeyId ? { kmsKeyId } : {}),
      ...(accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : {}),
      ...(sessionToken ? { sessionToken } : {}),
      ...(objectLock ? { objectLock } : {}),
    };
    return new S3Target(config.name, settings);
  },
};
