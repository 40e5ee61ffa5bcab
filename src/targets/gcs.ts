/**
 * Google Cloud Storage.
 *
 * Large saves are resumable uploads (`createWriteStream({ resumable: true })`), streamed in one
 * request with no local buffering beyond the stream's own; the object exists only once the upload
 * is finalised, so a failed or aborted save leaves nothing under the key (the unfinished session
 * expires on its own). Objects that end within the first 8 MiB (manifests) are sent as one simple
 * upload instead, which saves the session round trips. Loads are ranged reads.
 *
 * Credentials come from Application Default Credentials unless `keyFilename` names a service
 * account key file. With `apiEndpoint` (an emulator such as fake-gcs-server, or a private
 * endpoint) the client library sends no credentials unless `keyFilename` is also given.
 */
import { Storage, type Bucket, type File, type GetFilesOptions } from '@google-cloud/storage';
import { PassThrough, Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackupError } from '../errors.js';
import { authFailed, destroyOnAbort, honourLateAbort, messageOf, networkErrorCode, notFound, readHead, saveFailure, targetFailed, trackBody, unreachable, type TrackedBody } from './remote.js';
import type { LoadOptions, ObjectInfo, SaveOptions, SaveResult, Target, TargetCapabilities, TargetConfigBase, TargetFactory } from './types.js';
import { assertValidKey, configError, normalizePrefix, optionalString, requireString } from './util.js';
import { checkFileTrust, warnIfReadableByOthers } from '../settings/secret-file.js';

/** Objects up to this size go up in one request; larger ones as a resumable upload. */
const SIMPLE_UPLOAD_LIMIT = 8 * 1024 * 1024;

export interface GcsTargetSettings {
  bucket: string;
  prefix: string;
  projectId?: string;
  keyFilename?: string;
  apiEndpoint?: string;
}

export class GcsTarget implements Target {
  readonly type = 'gcs';
  readonly capabilities: TargetCapabilities;
  private readonly bucket: Bucket;

  constructor(
    readonly name: string,
    private readonly settings: GcsTargetSettings,
  ) {
    const storage = new Storage({
      ...(settings.projectId ? { projectId: settings.projectId } : {}),
      ...(settings.keyFilename ? { keyFilename: settings.keyFilename } : {}),
      ...(settings.apiEndpoint ? { apiEndpoint: settings.apiEndpoint, useAuthWithCustomEndpoint: settings.keyFilename !== undefined } : {}),
      retryOptions: { autoRetry: true, maxRetries: 2, maxRetryDelay: 4, totalTimeout: 120 },
    });
    this.bucket = storage.bucket(settings.bucket);
    this.capabilities = { insecureTransport: settings.apiEndpoint?.startsWith('http://') ?? false };
  }

  describe(): string {
    const at = this.settings.apiEndpoint ? ` at ${this.settings.apiEndpoint}` : '';
    return `gs://${this.settings.bucket}/${this.settings.prefix}${at}`;
  }

  private file(key: string): File {
    assertValidKey(key);
    return this.bucket.file(this.settings.prefix + key);
  }

  async save(key: string, body: Readable, options: SaveOptions = {}): Promise<SaveResult> {
    const file = this.file(key);
    let tracked: TrackedBody | undefined;
    try {
      tracked = trackBody(body, options.signal);
      const head = await readHead(tracked.stream, SIMPLE_UPLOAD_LIMIT);
      // MD5 (native crypto) rather than the library's default CRC32C, which it computes in
      // JavaScript at a fraction of the upload speed.
      const uploadOptions = { validation: 'md5' as const, ...(options.contentType ? { contentType: options.contentType } : {}) };
      if (head.ended) {
        await file.save(head.data, { resumable: false, ...uploadOptions });
      } else {
        const upload: Writable = file.createWriteStream({ resumable: true, ...uploadOptions });
        await pipeline(head.whole, upload);
      }
      await honourLateAbort(options.signal, () => file.delete({ ignoreNotFound: true }));
      return { size: tracked.bytes() };
    } catch (error) {
      throw saveFailure(this, key, tracked, error, (e) => this.toTargetError(e, `save ${key}`));
    } finally {
      tracked?.dispose();
    }
  }

  async load(key: string, options: LoadOptions = {}): Promise<Readable> {
    // The read stream reports a missing object only once it is read; look first so load() rejects.
    const info = await this.stat(key);
    const range = options.range;
    const start = range?.start ?? 0;
    const end = range?.end === undefined ? info.size : Math.min(range.end, info.size);
    if (end <= start) return Readable.from([]);
    const stream = this.file(key).createReadStream({
      ...(range ? { start, end: end - 1 } : {}),
      // No CRC32C check here: the library computes it in JavaScript (downloads ran at less than
      // half speed with it), and the engine verifies every object's SHA-256 (and, when
      // encrypted, its authentication tags) as it reads.
      validation: false,
    });
    // Pass the bytes through so a failure mid-read reaches the consumer as a typed error.
    const output = new PassThrough({ highWaterMark: 1024 * 1024 });
    stream.on('error', (error) => output.destroy(this.toTargetError(error, `load ${key}`, key)));
    output.on('close', () => stream.destroy());
    destroyOnAbort(output, options.signal);
    stream.pipe(output);
    return output;
  }

  async stat(key: string): Promise<ObjectInfo> {
    try {
      const [metadata] = await this.file(key).getMetadata();
      return { key, size: Number(metadata.size ?? 0), ...(metadata.updated ? { modified: new Date(metadata.updated) } : {}) };
    } catch (error) {
      throw this.toTargetError(error, `stat ${key}`, key);
    }
  }

  async *list(prefix = ''): AsyncIterable<ObjectInfo> {
    let query: GetFilesOptions | null = { prefix: this.settings.prefix + prefix, autoPaginate: false, maxResults: 1000 };
    while (query) {
      let files: File[];
      let next: GetFilesOptions | null;
      try {
        [files, next] = (await this.bucket.getFiles(query)) as unknown as [File[], GetFilesOptions | null];
      } catch (error) {
        throw this.toTargetError(error, `list ${prefix || 'objects'}`);
      }
      for (const file of files) {
        if (file.name.endsWith('/')) continue; // folder placeholders
        yield {
          key: file.name.slice(this.settings.prefix.length),
          size: Number(file.metadata.size ?? 0),
          ...(file.metadata.updated ? { modified: new Date(file.metadata.updated) } : {}),
        };
      }
      query = next?.pageToken ? { ...query, pageToken: next.pageToken } : null;
    }
  }

  async remove(key: string): Promise<void> {
    try {
      await this.file(key).delete();
    } catch (error) {
      throw this.toTargetError(error, `remove ${key}`, key);
    }
  }

  async check(): Promise<void> {
    try {
      await this.bucket.getFiles({ prefix: this.settings.prefix, autoPaginate: false, maxResults: 1 });
    } catch (error) {
      throw this.toTargetError(error, 'list the bucket');
    }
  }

  async close(): Promise<void> {}

  private toTargetError(error: unknown, action: string, key?: string): BackupError {
    if (error instanceof BackupError) return error;
    const e = error as { code?: unknown; message?: string; errors?: Array<{ reason?: string }> };
    const status = typeof e.code === 'number' ? e.code : undefined;
    const message = messageOf(error);
    if (status === 404 && /bucket/i.test(message) && !/object|file|No such object/i.test(message)) {
      return targetFailed(this, action, `bucket ${this.settings.bucket} does not exist: create it or fix targets.${this.name}.bucket`, error);
    }
    if (key !== undefined && status === 404) return notFound(this, key, error);
    if (status === 401 || status === 403 || /Could not load the default credentials|invalid_grant|unauthorized_client/i.test(message)) {
      const credentials = this.settings.keyFilename ? `the key file in targets.${this.name}.keyFilename` : 'Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS)';
      return authFailed(this, status ? `HTTP ${status}` : message, `check ${credentials} and that the account may read and write bucket ${this.settings.bucket}`, error);
    }
    const network = networkErrorCode(error);
    if (network) return unreachable(this, `${network} (${message})`, error);
    return targetFailed(this, action, message, error);
  }
}

export const gcsTargetFactory: TargetFactory = {
  type: 'gcs',
  create(config: TargetConfigBase): Target {
    const apiEndpoint = optionalString(config, 'apiEndpoint');
    if (apiEndpoint !== undefined && !/^https?:\/\/[^/]/.test(apiEndpoint)) throw configError('apiEndpoint', 'must be an http:// or https:// URL', config.name);
    const projectId = optionalString(config, 'projectId');
    const keyFilename = optionalString(config, 'keyFilename');
    // The client library reads the key file itself; its permissions are checked like every secret file's.
    if (keyFilename) {
      checkFileTrust(keyFilename, `targets.${config.name}.keyFilename`);
      warnIfReadableByOthers(keyFilename, `targets.${config.name}.keyFilename`);
    }
    return new GcsTarget(config.name, {
      bucket: requireString(config, 'bucket'),
      prefix: normalizePrefix(config.prefix),
      ...(projectId ? { projectId } : {}),
      ...(keyFilename ? { keyFilename } : {}),
      ...(apiEndpoint ? { apiEndpoint } : {}),
    });
  },
};
