/**
 * SFTP (SSH File Transfer Protocol), e.g. OpenSSH's sftp subsystem: the target and its factory.
 * The windowed writer is in upload.ts, the read-ahead reader in read-ahead.ts.
 *
 * - The server's host key must match the configured `hostFingerprint` (`SHA256:...`, as
 *   `ssh-keygen -lf` prints it); an unknown or changed key is refused with a message that prints
 *   the server's fingerprint, so the operator can check it and configure it.
 * - Saves stream into a temporary name (`.tmp-<name>-<random>`) in the destination folder, fsync
 *   it when the server offers fsync@openssh.com, then rename it over the final name
 *   (posix-rename@openssh.com when offered, which replaces atomically). A partial upload is never
 *   visible under its key, and list() skips temporary names; removeStaleTemporaries() deletes
 *   old ones a killed run left behind.
 * - ssh2's own read/write streams keep one request in flight, which caps throughput at one packet
 *   per round trip; this target keeps a window of requests in flight both ways instead.
 * - One SSH connection per target, opened on first use and shared by concurrent operations
 *   (SFTP multiplexes requests); a dropped connection is reopened by the next operation.
 */
import * as posix from 'node:path/posix';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import SftpClient from 'ssh2-sftp-client';
import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';
import { BackupError, ErrorCodes } from '../../errors.js';
import { authFailed, destroyOnAbort, messageOf, networkErrorCode, fileFromConfig, notFound, saveFailure, secretFromFile, targetFailed, trackBody, unreachable, type TrackedBody } from '../remote.js';
import type { LoadOptions, ObjectInfo, SaveOptions, SaveResult, Target, TargetConfigBase, TargetCapabilities, TargetFactory, TemporaryCleanupOptions } from '../types.js';
import { assertValidKey, configError, normalizePrefix, removeStaleLeftovers, optionalNumber, optionalString, requireString, TEMP_MARKER, temporaryName } from '../util.js';
import { call, isFolder, NO_SUCH_FILE, PERMISSION_DENIED, statusCode } from './protocol.js';
import { readAhead } from './read-ahead.js';
import { SftpUpload } from './upload.js';

export interface SftpTargetSettings {
  host: string;
  port: number;
  username: string;
  privateKey?: Buffer;
  password?: string;
  /** Directory on the server (absolute, or relative to the login directory), with the prefix. */
  root: string;
  hostFingerprint?: string;
  readyTimeoutMs: number;
}

interface Session {
  client: SftpClient;
  sftp: SFTPWrapper;
  /** Folders known to exist, to skip mkdir round trips on every save. */
  folders: Set<string>;
}

/** A regular file found by walkFiles() (or, for the leftover cleanup, an empty folder). */
interface WalkedFile {
  /** Key relative to the target's root. */
  key: string;
  /** The file's own name (the key's last part). */
  name: string;
  /** Path on the server. */
  path: string;
  attrs: Stats;
}

/** The SHA256 fingerprint of a raw SSH public key, formatted like `ssh-keygen -lf` prints it. */
export function sshFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

export class SftpTarget implements Target {
  readonly type = 'sftp';
  readonly capabilities: TargetCapabilities = {
    insecureTransport: false,
    removeStaleTemporaries: (olderThanMs, options) => this.removeStale(olderThanMs, options),
  };
  private session: Promise<Session> | undefined;
  /** The host key fingerprint the server presented on the last refused connection. */
  private refusedFingerprint: string | undefined;

  constructor(
    readonly name: string,
    private readonly settings: SftpTargetSettings,
  ) {}

  describe(): string {
    return `sftp://${this.settings.username}@${this.settings.host}:${this.settings.port}/${this.settings.root.replace(/^\//, '')}`;
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return posix.join(this.settings.root, key);
  }

  // --- connection ------------------------------------------------------------------------------

  private connect(): Promise<Session> {
    if (!this.session) {
      const opening: Promise<Session> = this.openSession(() => {
        // The connection went away: the next operation opens a new one.
        if (this.session === opening) this.session = undefined;
      }).catch((error: unknown) => {
        if (this.session === opening) this.session = undefined;
        throw error;
      });
      this.session = opening;
    }
    return this.session;
  }

  /** Ends the current connection (after a network failure), so the next operation reconnects. */
  private dropSession(): void {
    const session = this.session;
    this.session = undefined;
    void session?.then((open) => open.client.end()).catch(() => undefined);
  }

  private async openSession(onGone: () => void): Promise<Session> {
    // The library logs these events to the console by default.
    const client = new SftpClient(`mongo-backup:${this.name}`, { error: onGone, end: onGone, close: onGone });
    this.refusedFingerprint = undefined;
    try {
      const sftp = await client.connect({
        host: this.settings.host,
        port: this.settings.port,
        username: this.settings.username,
        ...(this.settings.privateKey ? { privateKey: this.settings.privateKey } : {}),
        ...(this.settings.password !== undefined ? { password: this.settings.password } : {}),
        readyTimeout: this.settings.readyTimeoutMs,
        keepaliveInterval: 15_000,
        hostVerifier: (key: Buffer) => this.verifyHostKey(key),
      });
      return { client, sftp, folders: new Set() };
    } catch (error) {
      await client.end().catch(() => undefined);
      throw this.connectError(error);
    }
  }

  private verifyHostKey(key: Buffer): boolean {
    const presented = sshFingerprint(key);
    if (presented === this.settings.hostFingerprint) return true;
    this.refusedFingerprint = presented;
    return false;
  }

  private connectError(error: unknown): BackupError {
    if (this.refusedFingerprint) {
      const presented = this.refusedFingerprint;
      const problem = this.settings.hostFingerprint
        ? `does not match the configured hostFingerprint ${this.settings.hostFingerprint} (the server's key changed, or this is not the server you expect)`
        : 'is not trusted yet: no hostFingerprint is configured';
      return new BackupError(
        ErrorCodes.TARGET_AUTH,
        `target ${this.name} (sftp ${this.describe()}): the server's host key ${presented} ${problem}. ` +
          `If this is the right server, set targets.${this.name}.hostFingerprint: "${presented}" ` +
          '(compare it with `ssh-keygen -lf` run on the server\'s host key, e.g. /etc/ssh/ssh_host_ed25519_key.pub)',
        { cause: error },
      );
    }
    const message = messageOf(error);
    if (/authentication methods failed|authentication failed|permission denied/i.test(message)) {
      const credential = this.settings.privateKey ? 'privateKey' : 'passwordFile';
      return authFailed(this, 'the server refused the login', `check targets.${this.name}.username and ${credential} (the key must be in the user's authorized_keys)`, error);
    }
    if (networkErrorCode(error) || /timed out|handshake|connection refused|ECONNREFUSED/i.test(message)) {
      return unreachable(this, message, error);
    }
    return targetFailed(this, 'connect', message, error);
  }

  // --- operations ------------------------------------------------------------------------------

  async save(key: string, body: Readable, options: SaveOptions = {}): Promise<SaveResult> {
    const finalPath = this.pathOf(key);
    const folder = posix.dirname(finalPath);
    const tempPath = posix.join(folder, temporaryName(posix.basename(finalPath)));
    // Connecting and creating folders happen before the body is touched, so those failures can
    // be retried by the retry wrapper with the same body.
    if (options.signal?.aborted) throw targetFailed(this, `save ${key}`, 'the upload was aborted', options.signal.reason);
    const session = await this.connect();
    let handle: Buffer;
    try {
      handle = await this.openForWriting(session, tempPath);
    } catch (error) {
      throw this.toTargetError(error, `save ${key}`);
    }
    let tracked: TrackedBody | undefined;
    try {
      tracked = trackBody(body, options.signal);
      await pipeline(tracked.stream, new SftpUpload(session.sftp, handle));
      handle = Buffer.alloc(0); // closed by the upload
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
      await this.replace(session.sftp, tempPath, finalPath);
      return { size: tracked.bytes() };
    } catch (error) {
      if (handle.length > 0) await call((done) => session.sftp.close(handle, done)).catch(() => undefined);
      await call((done) => session.sftp.unlink(tempPath, done)).catch(() => undefined);
      throw saveFailure(this, key, tracked, error, (e) => this.toTargetError(e, `save ${key}`));
    } finally {
      tracked?.dispose();
    }
  }

  /** Opens the temporary file, creating missing folders (and re-creating ones removed meanwhile). */
  private async openForWriting(session: Session, path: string): Promise<Buffer> {
    const folder = posix.dirname(path);
    await this.ensureFolder(session, folder);
    try {
      return await call<Buffer>((done) => session.sftp.open(path, 'w', 0o600, done));
    } catch (error) {
      if (statusCode(error) !== NO_SUCH_FILE) throw error;
      session.folders.clear();
      await this.ensureFolder(session, folder);
      return call<Buffer>((done) => session.sftp.open(path, 'w', 0o600, done));
    }
  }

  private async ensureFolder(session: Session, folder: string): Promise<void> {
    if (folder === '.' || folder === '/' || session.folders.has(folder)) return;
    try {
      await call((done) => session.sftp.mkdir(folder, done));
    } catch (error) {
      if (statusCode(error) === NO_SUCH_FILE) {
        await this.ensureFolder(session, posix.dirname(folder));
        await call((done) => session.sftp.mkdir(folder, done)).catch(async (again: unknown) => {
          if (!(await isFolder(session.sftp, folder))) throw again;
        });
      } else if (!(await isFolder(session.sftp, folder))) {
        // OpenSSH answers a plain FAILURE for "already exists"; anything else is a real error.
        throw error;
      }
    }
    session.folders.add(folder);
  }

  /** Renames the finished temporary file over the final name, replacing an existing object. */
  private async replace(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
    try {
      await call((done) => sftp.ext_openssh_rename(from, to, done));
      return;
    } catch (error) {
      if (!/does not support/i.test(messageOf(error))) throw error;
    }
    // Plain SFTP rename refuses to overwrite: remove the old object first (not atomic, but the
    // new data is complete on the server before the old one goes).
    try {
      await call((done) => sftp.rename(from, to, done));
    } catch {
      await call((done) => sftp.unlink(to, done)).catch(() => undefined);
      await call((done) => sftp.rename(from, to, done));
    }
  }

  async load(key: string, options: LoadOptions = {}): Promise<Readable> {
    const path = this.pathOf(key);
    const session = await this.connect();
    let handle: Buffer;
    let size: number;
    try {
      handle = await call<Buffer>((done) => session.sftp.open(path, 'r', done));
      const stats = await call<Stats>((done) => session.sftp.fstat(handle, done));
      if (stats.isDirectory()) {
        await call((done) => session.sftp.close(handle, done)).catch(() => undefined);
        throw notFound(this, key);
      }
      size = stats.size;
    } catch (error) {
      throw this.toTargetError(error, `load ${key}`, key);
    }
    const start = options.range?.start ?? 0;
    const end = Math.min(options.range?.end ?? size, size);
    const stream = Readable.from(this.typedErrors(readAhead(session.sftp, handle, start, end), key), { objectMode: false });
    destroyOnAbort(stream, options.signal);
    return stream;
  }

  /** Passes chunks through; a failure mid-read (connection lost) reaches the reader as a typed error. */
  private async *typedErrors(chunks: AsyncGenerator<Buffer>, key: string): AsyncGenerator<Buffer> {
    try {
      yield* chunks;
    } catch (error) {
      throw this.toTargetError(error, `load ${key}`, key);
    }
  }

  async stat(key: string): Promise<ObjectInfo> {
    const path = this.pathOf(key);
    const session = await this.connect();
    let stats: Stats;
    try {
      stats = await call<Stats>((done) => session.sftp.stat(path, done));
    } catch (error) {
      throw this.toTargetError(error, `stat ${key}`, key);
    }
    if (!stats.isFile()) throw notFound(this, key);
    return { key, size: stats.size, modified: new Date(stats.mtime * 1000) };
  }

  async *list(prefix = ''): AsyncIterable<ObjectInfo> {
    const session = await this.connect();
    const slash = prefix.lastIndexOf('/');
    const enter = (key: string) => key.startsWith(prefix) || prefix.startsWith(`${key}/`);
    for await (const file of this.walkFiles(session, slash >= 0 ? prefix.slice(0, slash) : '', enter)) {
      if (file.name.startsWith(TEMP_MARKER) || !file.key.startsWith(prefix)) continue;
      yield { key: file.key, size: file.attrs.size, modified: new Date(file.attrs.mtime * 1000) };
    }
  }

  /**
   * Every regular file under `folderKey`, temporary names included (callers filter), entering only
   * the sub-folders `enter` accepts. Each folder is read completely before its files are yielded,
   * so a caller may remove what it is given while iterating. `onEmptyFolder` hears of each entered
   * sub-folder that holds nothing (`attrs`: the folder's own, from its parent's listing).
   */
  private async *walkFiles(session: Session, folderKey: string, enter: (key: string) => boolean, onEmptyFolder?: (folder: WalkedFile) => void, attrs?: Stats): AsyncIterable<WalkedFile> {
    const folder = folderKey === '' ? this.settings.root : posix.join(this.settings.root, folderKey);
    let entries: FileEntryWithStats[];
    try {
      entries = (await call<FileEntryWithStats[]>((done) => session.sftp.readdir(folder, done))).filter((entry) => entry.filename !== '.' && entry.filename !== '..');
    } catch (error) {
      if (statusCode(error) === NO_SUCH_FILE) return;
      throw this.toTargetError(error, `list ${folderKey || 'the target folder'}`);
    }
    if (entries.length === 0 && attrs && onEmptyFolder) onEmptyFolder({ key: folderKey, name: posix.basename(folder), path: folder, attrs });
    for (const entry of entries) {
      const key = folderKey === '' ? entry.filename : `${folderKey}/${entry.filename}`;
      if (entry.attrs.isDirectory()) {
        if (!entry.filename.startsWith(TEMP_MARKER) && enter(key)) yield* this.walkFiles(session, key, enter, onEmptyFolder, entry.attrs);
      } else if (entry.attrs.isFile()) {
        yield { key, name: entry.filename, path: posix.join(folder, entry.filename), attrs: entry.attrs };
      }
    }
  }

  /**
   * Removes temporary upload files older than `olderThanMs` that a killed run left behind (a
   * finished or failed save removes its own), and backup folders they leave empty; and the empty
   * folders `options.emptyFolders` accepts (a run killed right after creating its folder). Returns
   * their keys (a folder's with a trailing `/`).
   */
  private async removeStale(olderThanMs: number, options: TemporaryCleanupOptions = {}): Promise<string[]> {
    const session = await this.connect();
    const stale = await this.staleLeftovers(session, olderThanMs, options.emptyFolders);
    return removeStaleLeftovers(stale, (leftover) => leftover.key, (leftover) => this.removeLeftover(session, leftover), options);
  }

  /** The temporary files (and accepted empty folders, keyed `folder/`) under the root older than `olderThanMs`. */
  private async staleLeftovers(session: Session, olderThanMs: number, emptyFolders: TemporaryCleanupOptions['emptyFolders']): Promise<WalkedFile[]> {
    const stale: WalkedFile[] = [];
    const isStale = (entry: WalkedFile): boolean => Date.now() - entry.attrs.mtime * 1000 > olderThanMs;
    const onEmptyFolder = (folder: WalkedFile): void => {
      if (emptyFolders?.(folder.key) && isStale(folder)) stale.push({ ...folder, key: `${folder.key}/` });
    };
    for await (const file of this.walkFiles(session, '', () => true, onEmptyFolder)) {
      if (file.name.startsWith(TEMP_MARKER) && isStale(file)) stale.push(file);
    }
    return stale;
  }

  /** Removes one leftover (a `folder/` key: an empty folder) and the folder it leaves empty; false when it was gone already. */
  private async removeLeftover(session: Session, file: WalkedFile): Promise<boolean> {
    // rmdir refuses a folder that is no longer empty (a save started in it meanwhile): then it stays.
    if (file.key.endsWith('/')) {
      const removed = await this.removeEmptyFolder(session, file.path);
      if (removed) await this.removeEmptyFolder(session, posix.dirname(file.path));
      return removed;
    }
    try {
      await call((done) => session.sftp.unlink(file.path, done));
    } catch (error) {
      if (statusCode(error) === NO_SUCH_FILE) return false; // its save finished or cleaned up meanwhile
      throw this.toTargetError(error, `remove leftover ${file.key}`);
    }
    await this.removeEmptyFolder(session, posix.dirname(file.path));
    return true;
  }

  async remove(key: string): Promise<void> {
    const path = this.pathOf(key);
    const session = await this.connect();
    try {
      await call((done) => session.sftp.unlink(path, done));
    } catch (error) {
      throw this.toTargetError(error, `remove ${key}`, key);
    }
    // Remove folders left empty (a deleted backup's folder), up to the target's root.
    let folder = posix.dirname(path);
    while (await this.removeEmptyFolder(session, folder)) folder = posix.dirname(folder);
  }

  /**
   * Removes `folder` if it is empty and inside the target's root (never the root itself); rmdir
   * fails harmlessly on a folder that still has content. Returns whether it was removed.
   */
  private async removeEmptyFolder(session: Session, folder: string): Promise<boolean> {
    if (folder === this.settings.root || !folder.startsWith(`${this.settings.root}/`)) return false;
    const removed = await call((done) => session.sftp.rmdir(folder, done)).then(() => true, () => false);
    if (removed) session.folders.delete(folder);
    return removed;
  }

  async check(): Promise<void> {
    const session = await this.connect();
    try {
      await this.ensureFolder(session, this.settings.root);
    } catch (error) {
      throw this.toTargetError(error, `create or open folder ${this.settings.root}`);
    }
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    const open = await session.catch(() => undefined);
    await open?.client.end().catch(() => undefined);
  }

  private toTargetError(error: unknown, action: string, key?: string): BackupError {
    if (error instanceof BackupError) return error;
    const status = statusCode(error);
    if (key !== undefined && status === NO_SUCH_FILE) return notFound(this, key, error);
    if (status === PERMISSION_DENIED) {
      return targetFailed(this, action, `permission denied: check that ${this.settings.username} may write ${this.settings.root} on the server`, error);
    }
    const message = messageOf(error);
    if (networkErrorCode(error) || /No response from server|Not connected|connection (lost|closed)/i.test(message)) {
      this.dropSession();
      return unreachable(this, message, error);
    }
    return targetFailed(this, action, message, error);
  }
}


export const sftpTargetFactory: TargetFactory = {
  type: 'sftp',
  create(config: TargetConfigBase): Target {
    const privateKey = fileFromConfig(config, 'privateKey', { secret: true });
    const password = secretFromFile(config, 'passwordFile');
    if (privateKey === undefined && password === undefined) {
      throw configError('privateKey', 'or passwordFile is required for an sftp target', config.name);
    }
    const hostFingerprint = optionalString(config, 'hostFingerprint')?.trim().replace(/=+$/, '');
    if (hostFingerprint !== undefined && !/^SHA256:[A-Za-z0-9+/]{43}$/.test(hostFingerprint)) {
      throw configError('hostFingerprint', 'must look like SHA256:<43 base64 characters>, as `ssh-keygen -lf` prints it', config.name);
    }
    const port = optionalNumber(config, 'port') ?? 22;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw configError('port', 'must be a port number', config.name);
    const folder = optionalString(config, 'path') ?? '.';
    const root = posix.join(folder, normalizePrefix(config.prefix)).replace(/\/+$/, '') || '/';
    const settings: SftpTargetSettings = {
      host: requireString(config, 'host'),
      port,
      username: requireString(config, 'username'),
      root,
      readyTimeoutMs: 20_000,
      ...(privateKey ? { privateKey } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(hostFingerprint ? { hostFingerprint } : {}),
    };
    return new SftpTarget(config.name, settings);
  },
};
