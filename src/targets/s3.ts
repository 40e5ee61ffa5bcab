/**
 * Amazon S3 and S3-compatible servers (MinIO, versitygw, Ceph, ...).
 *
 * Streams go up as a multipart upload (@aws-sdk/lib-storage `Upload`): `partSize` bytes are
 * buffered per part and at most two parts are in flight, so memory stays near 3 × partSize
 * whatever the object size. An object becomes visible only when the upload completes; a failed or
 * aborted save aborts the multipart upload, so nothing appears under the key. Loads are ranged
 * GetObject requests streamed straight through.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  StorageClass,
  type S3ClientConfig,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { BackupError } from '../errors.js';
import {
  authFailed,
  destroyOnAbort,
  honourLateAbort,
  inlineSecret,
  messageOf,
  networkErrorCode,
  notFound,
  saveFailure,
  targetFailed,
  trackBody,
  unreachable,
  type TrackedBody,
} from './remote.js';
import type { LoadOptions, ObjectInfo, SaveOptions, SaveResult, Target, TargetConfigBase, TargetFactory } from './types.js';
import { assertValidKey, configError, normalizePrefix, optionalBoolean, optionalString, requireString } from './util.js';

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
}

export class S3Target implements Target {
  readonly type = 's3';
  readonly capabilities = { atomicSave: true, rangedLoad: true, localFilesystem: false, insecureTransport: false };
  private readonly client: S3Client;

  constructor(
    readonly name: string,
    private readonly settings: S3TargetSettings,
  ) {
    this.capabilities.insecureTransport = settings.endpoint?.startsWith('http://') ?? false;
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
    // DeleteObject succeeds for missing keys; the contract wants NotFound, so look first.
    await this.stat(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.objectKey(key) }));
    } catch (error) {
      throw this.toTargetError(error, `remove ${key}`, key);
    }
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.settings.prefix, MaxKeys: 1 }));
    } catch (error) {
      throw this.toTargetError(error, 'list the bucket');
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** Maps an SDK error; `key` marks operations on one object, where 404 means NotFound. */
  private toTargetError(error: unknown, action: string, key?: string): BackupError {
    if (error instanceof BackupError) return error;
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    const name = e.name ?? '';
    const status = e.$metadata?.httpStatusCode;
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
    const secretAccessKey = inlineSecret(config, 'secretAccessKey');
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
      throw configError(accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey', 'must be given together with the other key (or neither, for the AWS default credential chain)', config.name);
    }
    const sessionToken = inlineSecret(config, 'sessionToken');
    const region = optionalString(config, 'region');
    const forcePathStyle = optionalBoolean(config, 'forcePathStyle');
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
    };
    return new S3Target(config.name, settings);
  },
};
