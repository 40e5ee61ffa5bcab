/**
 * Azure Blob Storage (block blobs).
 *
 * Saves use BlockBlobClient.uploadStream: the stream is cut into `blockSize` buffers, at most two
 * blocks are staged at once (bounded memory), and the blob appears only when the block list is
 * committed at the end. A failed or aborted save never commits, so nothing appears under the key
 * (Azure drops uncommitted blocks after a week). Loads are ranged downloads streamed through.
 */
import {
  BlobServiceClient,
  ContainerClient,
  StorageSharedKeyCredential,
  type BlockBlobTier,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import { Readable } from 'node:stream';
import { BackupError } from '../errors.js';
import { abortReason, authFailed, destroyOnAbort, honourLateAbort, messageOf, networkErrorCode, notFound, readHead, saveFailure, targetFailed, trackBody, unreachable, type TrackedBody } from './remote.js';
import type { LoadOptions, ObjectInfo, SaveOptions, SaveResult, Target, TargetCapabilities, TargetConfigBase, TargetFactory } from './types.js';
import { assertValidKey, configError, normalizePrefix, optionalString } from './util.js';

const MIB = 1024 * 1024;
/** Block size: 8 MiB × 50,000 blocks (Azure's limit) = 390 GiB per blob. */
const BLOCK_SIZE = 8 * MIB;
/** Blocks staged at once. */
const BLOCK_CONCURRENCY = 2;
const ACCESS_TIERS = ['Hot', 'Cool', 'Cold', 'Archive'];

const pipelineOptions: StoragePipelineOptions = {
  // Each staged block is a buffer, so the SDK can retry it on its own.
  retryOptions: { maxTries: 4, retryDelayInMs: 500, maxRetryDelayInMs: 8000 },
};

export class AzureTarget implements Target {
  readonly type = 'azure';
  readonly capabilities: TargetCapabilities;

  constructor(
    readonly name: string,
    private readonly container: ContainerClient,
    private readonly prefix: string,
    private readonly accessTier: BlockBlobTier | undefined,
  ) {
    this.capabilities = { insecureTransport: container.url.startsWith('http://') };
  }

  describe(): string {
    return `azure://${this.container.accountName}/${this.container.containerName}/${this.prefix}`;
  }

  private blob(key: string) {
    assertValidKey(key);
    return this.container.getBlockBlobClient(this.prefix + key);
  }

  async save(key: string, body: Readable, options: SaveOptions = {}): Promise<SaveResult> {
    const blob = this.blob(key);
    let tracked: TrackedBody | undefined;
    try {
      tracked = trackBody(body, options.signal);
      const uploadOptions = {
        ...(options.signal ? { abortSignal: options.signal } : {}),
        ...(options.contentType ? { blobHTTPHeaders: { blobContentType: options.contentType } } : {}),
        ...(this.accessTier ? { tier: this.accessTier } : {}),
      };
      const head = await readHead(tracked.stream, BLOCK_SIZE);
      if (head.ended) {
        // Small object: one Put Blob request instead of stage-block + commit.
        await blob.upload(head.data, head.data.length, uploadOptions);
      } else {
        await blob.uploadStream(head.whole, BLOCK_SIZE, BLOCK_CONCURRENCY, uploadOptions);
      }
      await honourLateAbort(options.signal, () => blob.deleteIfExists());
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
      await this.stat(key);
      return Readable.from([]);
    }
    try {
      const response = await this.blob(key).download(
        range?.start ?? 0,
        range?.end === undefined ? undefined : range.end - (range.start ?? 0),
        options.signal ? { abortSignal: options.signal } : {},
      );
      const stream = response.readableStreamBody;
      if (!stream) throw new Error('download returned no body');
      const readable = stream instanceof Readable ? stream : Readable.from(stream);
      destroyOnAbort(readable, options.signal);
      return readable;
    } catch (error) {
      // The SDK's own abort error would hide why the caller stopped (LoadOptions.signal).
      if (options.signal?.aborted) throw abortReason(options.signal);
      throw this.toTargetError(error, `load ${key}`, key);
    }
  }

  async stat(key: string): Promise<ObjectInfo> {
    try {
      const properties = await this.blob(key).getProperties();
      return { key, size: properties.contentLength ?? 0, ...(properties.lastModified ? { modified: properties.lastModified } : {}) };
    } catch (error) {
      throw this.toTargetError(error, `stat ${key}`, key);
    }
  }

  async *list(prefix = ''): AsyncIterable<ObjectInfo> {
    const pages = this.container.listBlobsFlat({ prefix: this.prefix + prefix }).byPage({ maxPageSize: 1000 });
    for (;;) {
      let page;
      try {
        page = await pages.next();
      } catch (error) {
        throw this.toTargetError(error, `list ${prefix || 'blobs'}`);
      }
      if (page.done) return;
      for (const item of page.value.segment.blobItems) {
        yield {
          key: item.name.slice(this.prefix.length),
          size: item.properties.contentLength ?? 0,
          ...(item.properties.lastModified ? { modified: item.properties.lastModified } : {}),
        };
      }
    }
  }

  async remove(key: string): Promise<void> {
    try {
      await this.blob(key).delete();
    } catch (error) {
      throw this.toTargetError(error, `remove ${key}`, key);
    }
  }

  async check(): Promise<void> {
    try {
      // Listing (rather than container properties) also works with a container-scoped SAS.
      await this.container.listBlobsFlat({ prefix: this.prefix }).byPage({ maxPageSize: 1 }).next();
    } catch (error) {
      throw this.toTargetError(error, 'list the container');
    }
  }

  async close(): Promise<void> {}

  private toTargetError(error: unknown, action: string, key?: string): BackupError {
    if (error instanceof BackupError) return error;
    const e = error as { statusCode?: number; code?: string; details?: { errorCode?: string } };
    const code = e.details?.errorCode ?? e.code ?? '';
    if (code === 'ContainerNotFound') {
      return targetFailed(this, action, `container ${this.container.containerName} does not exist: create it or fix targets.${this.name}.container`, error);
    }
    if (key !== undefined && (code === 'BlobNotFound' || e.statusCode === 404)) return notFound(this, key, error);
    if (e.statusCode === 401 || e.statusCode === 403 || /^Authentication|^Authorization|InvalidAuthenticationInfo/.test(code)) {
      return authFailed(
        this,
        code || `HTTP ${e.statusCode}`,
        `check targets.${this.name}.connectionString, accountKey or sasUrl (expiry and permissions: read, write, delete, list)`,
        error,
      );
    }
    const network = networkErrorCode(error);
    if (network) return unreachable(this, `${network} (${messageOf(error)})`, error);
    return targetFailed(this, action, `${code ? `${code}: ` : ''}${firstLine(messageOf(error))}`, error);
  }
}

/** Azure error messages carry a RequestId and timestamp on further lines. */
function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

function containerClient(config: TargetConfigBase): ContainerClient {
  const connectionString = optionalString(config, 'connectionString');
  const account = optionalString(config, 'account');
  const accountKey = optionalString(config, 'accountKey');
  const sasUrl = optionalString(config, 'sasUrl');
  const container = optionalString(config, 'container');
  const endpoint = optionalString(config, 'endpoint');
  const given = [connectionString, account ?? accountKey, sasUrl].filter((value) => value !== undefined).length;
  if (given !== 1) {
    throw configError('connectionString', 'or account + accountKey, or sasUrl: give exactly one of them', config.name);
  }
  try {
    if (sasUrl !== undefined) {
      return container ? new BlobServiceClient(sasUrl, undefined, pipelineOptions).getContainerClient(container) : new ContainerClient(sasUrl, undefined, pipelineOptions);
    }
    if (!container) throw configError('container', 'is required for an azure target', config.name);
    if (connectionString !== undefined) {
      return BlobServiceClient.fromConnectionString(connectionString, pipelineOptions).getContainerClient(container);
    }
    if (!account) throw configError('account', 'is required with accountKey', config.name);
    if (!accountKey) throw configError('accountKey', 'is required with account', config.name);
    const url = endpoint ?? `https://${account}.blob.core.windows.net`;
    return new BlobServiceClient(url, new StorageSharedKeyCredential(account, accountKey), pipelineOptions).getContainerClient(container);
  } catch (error) {
    if (error instanceof BackupError) throw error;
    const which = sasUrl !== undefined ? 'sasUrl' : connectionString !== undefined ? 'connectionString' : 'accountKey';
    // The SDK's messages may quote the connection string; say only which key is malformed.
    throw configError(which, `is not valid (${(error as Error).name})`, config.name);
  }
}

export const azureTargetFactory: TargetFactory = {
  type: 'azure',
  create(config: TargetConfigBase): Target {
    const accessTier = optionalString(config, 'accessTier');
    if (accessTier !== undefined && !ACCESS_TIERS.includes(accessTier)) {
      throw configError('accessTier', `must be one of ${ACCESS_TIERS.join(', ')}`, config.name);
    }
    return new AzureTarget(config.name, containerClient(config), normalizePrefix(config.prefix), accessTier as BlockBlobTier | undefined);
  },
};
