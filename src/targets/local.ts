/**
 * Local directory target. Writes are atomic (docs/TARGETS.md#local--a-directory-on-this-machine): data goes to a hidden temporary name in the
 * destination directory, is fsynced, renamed over the final name, and the directory is fsynced, so a
 * crash leaves either the old state or the complete new object, never a partial one under its key.
 */
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { BackupError, ErrorCodes, NotFoundError } from '../errors.js';
import { ByteCounter } from '../streams.js';
import type {
  LoadOptions,
  ObjectInfo,
  SaveOptions,
  SaveResult,
  SpaceInfo,
  Target,
  TargetCapabilities,
  TargetConfigBase,
  TargetFactory,
  TemporaryCleanupOptions,
} from './types.js';
import { destroyOnAbort } from './remote.js';
import { assertValidKey, normalizePrefix, removeStaleLeftovers, requireString, TEMP_MARKER, temporaryName } from './util.js';

export class LocalTarget implements Target {
  readonly type = 'local';
  readonly capabilities: TargetCapabilities = {
    insecureTransport: false,
    space: () => this.freeSpace(),
    removeStaleTemporaries: (olderThanMs, options) => this.removeStale(olderThanMs, options),
  };
  readonly root: string;

  constructor(readonly name: string, directory: string, prefix = '') {
    this.root = path.resolve(directory, prefix);
  }

  describe(): string {
    return this.root;
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  async save(key: string, body: Readable, options: SaveOptions = {}): Promise<SaveResult> {
    const finalPath = this.pathOf(key);
    const dir = path.dirname(finalPath);
    await fs.mkdir(dir, { recursive: true });
    const tempPath = path.join(dir, temporaryName(path.basename(finalPath)));
    const counter = new ByteCounter();
    try {
      const out = new FlushBehindFile(await fs.open(tempPath, 'wx', 0o600));
      await pipeline(body, counter, out, options.signal ? { signal: options.signal } : {});
      await fs.rename(tempPath, finalPath);
      await fsyncPath(dir);
    } catch (error) {
      await fs.rm(tempPath, { force: true });
      await this.removeEmptyFolder(dir);
      throw wrapFsError(error, `write ${key} to ${this.root}`);
    }
    return { size: counter.bytes };
  }

  async load(key: string, options: LoadOptions = {}): Promise<Readable> {
    const file = this.pathOf(key);
    const handle = await fs.open(file, 'r').catch((error: unknown) => {
      throw wrapFsError(error, `read ${key} from ${this.root}`, key);
    });
    const range = options.range;
    // An empty range (end <= start) is valid and reads nothing; createReadStream would throw.
    if (range?.end !== undefined && range.end <= range.start) {
      await handle.close();
      return Readable.from([]);
    }
    const stream = createReadStream('', {
      fd: handle,
      ...(range ? { start: range.start, ...(range.end !== undefined ? { end: range.end - 1 } : {}) } : {}),
      highWaterMark: 1024 * 1024,
    });
    // Not createReadStream's own `signal`: that fails with a generic AbortError, and the interface
    // promises the signal's reason, as the remote targets give it (types.ts, LoadOptions).
    destroyOnAbort(stream, options.signal);
    return stream;
  }

  async stat(key: string): Promise<ObjectInfo> {
    const st = await fs.stat(this.pathOf(key)).catch((error: unknown) => {
      throw wrapFsError(error, `stat ${key} in ${this.root}`, key);
    });
    if (!st.isFile()) throw new NotFoundError(`object ${key} in ${this.describe()}`);
    return { key, size: st.size, modified: st.mtime };
  }

  async *list(prefix = ''): AsyncIterable<ObjectInfo> {
    // Walk only the directory part of the prefix, then filter by the full prefix.
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash >= 0 ? prefix.slice(0, slash) : '';
    yield* this.walk(baseKey, prefix);
  }

  private async *walk(dirKey: string, prefix: string): AsyncIterable<ObjectInfo> {
    const dir = dirKey === '' ? this.root : path.join(this.root, ...dirKey.split('/'));
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw wrapFsError(error, `list ${this.root}`);
    }
    for (const entry of entries) {
      if (entry.name.startsWith(TEMP_MARKER)) continue;
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.walk(key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const st = await fs.stat(path.join(dir, entry.name)).catch(() => undefined);
        if (st) yield { key, size: st.size, modified: st.mtime };
      }
    }
  }

  async remove(key: string): Promise<void> {
    const file = this.pathOf(key);
    await fs.unlink(file).catch((error: unknown) => {
      throw wrapFsError(error, `remove ${key} from ${this.root}`, key);
    });
    // Remove now-empty parent directories up to the root, so deleted backups leave no folders.
    let dir = path.dirname(file);
    while (dir.startsWith(this.root) && dir !== this.root) {
      try {
        await fs.rmdir(dir);
      } catch {
        break;
      }
      dir = path.dirname(dir);
    }
  }

  /**
   * Removes what killed runs left (docs/TARGETS.md#optional-capabilities) older than `olderThanMs`:
   * temporary files, the folders they leave empty, and the empty folders `emptyFolders` accepts
   * (a run killed between creating its backup folder and its first upload).
   */
  private async removeStale(olderThanMs: number, options: TemporaryCleanupOptions = {}): Promise<string[]> {
    const stale = (await this.staleLeftovers(olderThanMs, options.emptyFolders)).map((leftover) => `${path.relative(this.root, leftover.path)}${leftover.folder ? '/' : ''}`);
    return removeStaleLeftovers(stale, (key) => key, (key) => this.removeLeftover(key), options);
  }

  /** The temporary files and accepted empty folders under the root older than `olderThanMs`. */
  private async staleLeftovers(olderThanMs: number, emptyFolders: TemporaryCleanupOptions['emptyFolders']): Promise<Array<{ path: string; folder: boolean }>> {
    const stale: Array<{ path: string; folder: boolean }> = [];
    const isStale = async (full: string): Promise<boolean> => {
      const st = await fs.stat(full).catch(() => undefined);
      return st !== undefined && Date.now() - st.mtimeMs > olderThanMs;
    };
    const walk = async (dir: string): Promise<void> => {
      const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => undefined);
      if (entries === undefined) return;
      const folderKey = path.relative(this.root, dir).split(path.sep).join('/');
      if (entries.length === 0 && dir !== this.root && emptyFolders?.(folderKey) && (await isStale(dir))) stale.push({ path: dir, folder: true });
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.name.startsWith(TEMP_MARKER) && (await isStale(full))) stale.push({ path: full, folder: false });
      }
    };
    await walk(this.root);
    return stale;
  }

  /** Removes one leftover (a `folder/` key: an empty folder) and the folder it leaves empty; false when it was gone already. */
  private async removeLeftover(key: string): Promise<boolean> {
    if (key.endsWith('/')) return this.removeStaleFolder(path.join(this.root, key));
    const file = path.join(this.root, key);
    try {
      // unlink, not rm: it names the failing call (rm of an undeletable file reports a scandir error).
      await fs.unlink(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false; // its save finished or cleaned up meanwhile
      throw wrapFsError(error, `remove leftover ${key} in ${this.root}`);
    }
    await this.removeEmptyFolder(path.dirname(file));
    return true;
  }

  /** Removes an empty folder found stale; false when it is gone or no longer empty (a save started in it meanwhile). */
  private async removeStaleFolder(dir: string): Promise<boolean> {
    try {
      await fs.rmdir(dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST') return false;
      throw wrapFsError(error, `remove empty folder ${path.relative(this.root, dir)} in ${this.root}`);
    }
    await this.removeEmptyFolder(path.dirname(dir));
    return true;
  }

  /**
   * Removes a backup folder left empty by a failed save or a cleanup, so an interrupted run leaves
   * no trace. rmdir refuses a folder that still holds anything (e.g. another save's temp file).
   */
  private async removeEmptyFolder(dir: string): Promise<void> {
    if (dir === this.root || !dir.startsWith(this.root)) return;
    await fs.rmdir(dir).catch(() => undefined);
  }

  async check(): Promise<void> {
    try {
      await fs.mkdir(this.root, { recursive: true });
      await fs.access(this.root, fs.constants.W_OK | fs.constants.R_OK);
    } catch (error) {
      throw wrapFsError(error, `use directory ${this.root}`);
    }
  }

  private async freeSpace(): Promise<SpaceInfo> {
    await fs.mkdir(this.root, { recursive: true });
    const st = await fs.statfs(this.root);
    return { freeBytes: st.bavail * st.bsize, totalBytes: st.blocks * st.bsize };
  }

  async close(): Promise<void> {}
}

/**
 * Bytes written between two background flushes. The kernel otherwise starts writing a big file to
 * disk only when dirty pages pass vm.dirty_background_ratio (gigabytes on a large machine), so the
 * final fsync of a 50 GB backup, or of three copies on one disk, waits for all of it at once.
 * Flushing behind the writer keeps the disk busy while the dump runs (PostgreSQL's
 * checkpoint_flush_after does the same with sync_file_range).
 */
const FLUSH_BEHIND_BYTES = 32 * 1024 * 1024;

/**
 * A file sink that asks the kernel to write data out as it goes (fdatasync every
 * FLUSH_BEHIND_BYTES, in the background: writing never waits for it, at most one per file at a
 * time) and makes the file durable (fsync) before it finishes. Closes the file either way.
 */
class FlushBehindFile extends Writable {
  private sinceFlush = 0;
  private flushing: Promise<void> | undefined;

  constructor(private readonly handle: FileHandle) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.writeAll(chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    let pending = buffers;
    while (pending.length > 0) {
      const { bytesWritten } = await this.handle.writev(pending);
      this.sinceFlush += bytesWritten;
      pending = remainderAfter(pending, bytesWritten);
    }
    if (this.sinceFlush >= FLUSH_BEHIND_BYTES && !this.flushing) {
      this.sinceFlush = 0;
      // A failure here shows again in the final fsync, which is awaited.
      this.flushing = this.handle.datasync().then(
        () => (this.flushing = undefined),
        () => (this.flushing = undefined),
      );
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    Promise.resolve(this.flushing)
      .then(() => this.handle.sync())
      .then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    Promise.resolve(this.flushing)
      .then(() => this.handle.close())
      .then(
        () => callback(error),
        (closeError: unknown) => callback(error ?? (closeError as Error)),
      );
  }
}

/** What is left of `buffers` after the first `written` bytes (a short write). */
function remainderAfter(buffers: Buffer[], written: number): Buffer[] {
  let skip = written;
  const rest: Buffer[] = [];
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}

async function fsyncPath(p: string): Promise<void> {
  const handle = await fs.open(p, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function wrapFsError(error: unknown, action: string, key?: string): BackupError {
  if (error instanceof BackupError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (key !== undefined && (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR')) {
    return new NotFoundError(`object ${key}`, { cause: error });
  }
  const hints: Record<string, string> = {
    EACCES: 'check the permissions of the directory (the user running mongo-backup must be able to write it)',
    EPERM: 'check the permissions of the directory',
    ENOSPC: 'the disk is full: free space or prune old backups',
    EROFS: 'the file system is read-only',
  };
  const hint = code ? hints[code] : undefined;
  return new BackupError(ErrorCodes.TARGET_FAILED, `could not ${action}: ${(error as Error).message}`, {
    cause: error,
    ...(hint ? { hint } : {}),
  });
}

export const localTargetFactory: TargetFactory = {
  type: 'local',
  create(config: TargetConfigBase): Target {
    return new LocalTarget(config.name, requireString(config, 'path'), normalizePrefix(config.prefix));
  },
};
