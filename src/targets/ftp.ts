/**
 * FTP and FTPS (explicit `AUTH TLS` with `secure: true`, implicit TLS on its own port with
 * `secure: implicit`).
 *
 * - Plain FTP sends the password and the data unencrypted: `capabilities.insecureTransport` is
 *   set so the engine warns. For FTPS with a private CA or a self-signed certificate, set `ca` (a
 *   PEM file to trust) or, less safely, `allowSelfSigned: true` (no certificate check at all).
 * - Saves upload to a temporary name (`.tmp-<name>-<random>`) in the destination folder and
 *   rename it over the final name when complete, so a partial upload never appears under its
 *   key; list() skips temporary names, and removeStaleTemporaries() deletes old ones a killed run
 *   left behind.
 * - basic-ftp's Client runs one command at a time, so the target keeps a small pool of logged-in
 *   clients (`maxConnections`, default 2) and gives each operation a client of its own. A load
 *   holds its client until the download has been read or abandoned.
 * - FTP has no ranged read with an end: a load starts at `range.start` (REST) and, when the range
 *   has an end, stops reading there and drops that connection.
 */
import * as posix from 'node:path/posix';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { Client, FTPError, type FileInfo } from 'basic-ftp';
import { BackupError } from '../errors.js';
import { authFailed, destroyOnAbort, messageOf, networkErrorCode, fileFromConfig, notFound, readHead, saveFailure, secretFromFile, targetFailed, trackBody, unreachable } from './remote.js';
import type { LoadOptions, ObjectInfo, SaveOptions, SaveResult, Target, TargetConfigBase, TargetCapabilities, TargetFactory, TemporaryCleanupOptions } from './types.js';
import { assertValidKey, configError, normalizePrefix, removeStaleLeftovers, optionalBoolean, optionalNumber, optionalString, requireString, TEMP_MARKER, temporaryName } from './util.js';

/** "Requested action not taken: file unavailable" — missing file (or no permission). */
const FILE_UNAVAILABLE = 550;
const NOT_LOGGED_IN = 530;
/**
 * See uploadSource(). Against vsftpd 3.0.3, 600 tiny uploads 16 at a time: 5 ms still failed a few
 * (3–18), 15 ms and 50 ms failed none; 25 ms leaves room on a loaded machine.
 */
const TLS_UPLOAD_SETTLE_MS = 25;
/**
 * Bodies up to this size are read into memory before the upload, so that a failed data connection
 * can be retried (manifests, small test objects). The settle delay above makes vsftpd's race rare,
 * not impossible: on a loaded CI machine one of 1,500 tiny uploads in a row still failed.
 */
const SMALL_UPLOAD_BYTES = 256 * 1024;
const SMALL_UPLOAD_ATTEMPTS = 3;
/** Node's TLS verification failures: the server could not be authenticated. */
const TLS_TRUST_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

export interface FtpTargetSettings {
  host: string;
  port: number;
  user: string;
  password?: string;
  /** Folder on the server, with the prefix. */
  root: string;
  secure: boolean | 'implicit';
  tls: ConnectionOptions;
  maxConnections: number;
  timeoutMs: number;
}

/** A regular file found by walkFiles() (or, for the leftover cleanup, an empty folder). */
interface WalkedFile {
  /** Key relative to the target's root. */
  key: string;
  /** Path on the server. */
  path: string;
  entry: FileInfo;
}

/** A counting semaphore: at most `size` holders at once, the rest wait in order. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(size: number) {
    this.free = size;
  }
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/**
 * The data connection failed (basic-ftp marks these "(data socket)"), or TLS failed on it: the
 * control connection and the login were fine, so the same upload may well work on a new one.
 */
function isDataConnectionFailure(error: unknown): boolean {
  if (error instanceof FTPError) return false;
  const code = (error as { code?: unknown }).code;
  return messageOf(error).includes('(data socket)') || (typeof code === 'string' && code.startsWith('ERR_SSL_'));
}

/** A server reply with an error code leaves the connection usable; anything else may not. */
function connectionStillUsable(error: unknown): boolean {
  return error instanceof FTPError && error.code !== 421;
}

export class FtpTarget implements Target {
  readonly type = 'ftp';
  readonly capabilities: TargetCapabilities;
  private readonly slots: Slots;
  private idle: Client[] = [];
  private readonly busy = new Set<Client>();
  /** Folders known to exist on the server (shared by all clients of the pool). */
  private readonly folders = new Set<string>();

  constructor(
    readonly name: string,
    private readonly settings: FtpTargetSettings,
  ) {
    this.slots = new Slots(settings.maxConnections);
    this.capabilities = {
      insecureTransport: settings.secure === false,
      removeStaleTemporaries: (olderThanMs, options) => this.removeStale(olderThanMs, options),
    };
  }

  describe(): string {
    const scheme = this.settings.secure === false ? 'ftp' : 'ftps';
    return `${scheme}://${this.settings.user}@${this.settings.host}:${this.settings.port}/${this.settings.root.replace(/^\//, '')}`;
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return posix.join(this.settings.root, key);
  }

  // --- connection pool ---------------------------------------------------------------------------

  private async connect(): Promise<Client> {
    const client = new Client(this.settings.timeoutMs);
    try {
      await client.access({
        host: this.settings.host,
        port: this.settings.port,
        user: this.settings.user,
        ...(this.settings.password !== undefined ? { password: this.settings.password } : {}),
        secure: this.settings.secure,
        secureOptions: this.settings.tls,
      });
      return client;
    } catch (error) {
      client.close();
      throw this.toTargetError(error, 'log in');
    }
  }

  /** Takes a slot and a logged-in client; the caller must hand both back with `giveBack`. */
  private async borrow(): Promise<Client> {
    await this.slots.acquire();
    try {
      let client = this.idle.pop();
      while (client?.closed) client = this.idle.pop();
      client ??= await this.connect();
      this.busy.add(client);
      return client;
    } catch (error) {
      this.slots.release();
      throw error;
    }
  }

  private giveBack(client: Client, reusable: boolean): void {
    this.busy.delete(client);
    if (reusable && !client.closed) this.idle.push(client);
    else client.close();
    this.slots.release();
  }

  /** Runs one operation on a client of its own. */
  private async withClient<T>(run: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.borrow();
    let reusable = true;
    try {
      return await run(client);
    } catch (error) {
      reusable = connectionStillUsable(error);
      throw error;
    } finally {
      this.giveBack(client, reusable);
    }
  }

  // --- operations ------------------------------------------------------------------------------

  async save(key: string, body: Readable, options: SaveOptions = {}): Promise<SaveResult> {
    const finalPath = this.pathOf(key);
    const folder = posix.dirname(finalPath);
    const tempPath = posix.join(folder, temporaryName(posix.basename(finalPath)));
    if (options.signal?.aborted) throw targetFailed(this, `save ${key}`, 'the upload was aborted', options.signal.reason);
    // Logging in and creating folders happen before the body is touched (retryable, see retry.ts).
    await this.withClient((client) => this.ensureFolder(client, folder)).catch((error: unknown) => {
      throw this.toTargetError(error, `save ${key}`);
    });
    const tracked = trackBody(body, options.signal);
    try {
      const head = await readHead(tracked.stream, SMALL_UPLOAD_BYTES);
      // A small body is all in memory, so a failed data connection can be tried again (see
      // isDataConnectionFailure); a large one streams once.
      const attempts = head.ended ? SMALL_UPLOAD_ATTEMPTS : 1;
      for (let attempt = 1; ; attempt++) {
        try {
          await this.withClient((client) => this.uploadAndRename(client, head.ended ? Readable.from([head.data]) : head.whole, tempPath, finalPath, options.signal));
          return { size: tracked.bytes() };
        } catch (error) {
          if (attempt >= attempts || options.signal?.aborted || !isDataConnectionFailure(error)) throw error;
        }
      }
    } catch (error) {
      throw saveFailure(this, key, tracked, error, (e) => this.toTargetError(e, `save ${key}`));
    } finally {
      tracked.dispose();
    }
  }

  /** Uploads under a temporary name and renames it into place; removes the temporary on failure. */
  private async uploadAndRename(client: Client, body: Readable, tempPath: string, finalPath: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      await client.uploadFrom(this.uploadSource(body), tempPath);
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      await this.replace(client, tempPath, finalPath);
    } catch (error) {
      await this.removeQuietly(connectionStillUsable(error) ? client : undefined, tempPath);
      throw error;
    }
  }

  /**
   * vsftpd rejects an FTPS upload whose data connection closes right after the TLS handshake
   * ("tlsv1 alert decode error" on the data socket): empty and tiny bodies, sent in one go, hit
   * it. Holding the end of the body back until the transfer is 25 ms old lets the server finish
   * its side first; uploads that take longer than that are not delayed at all.
   */
  private uploadSource(stream: Readable): Readable {
    if (this.settings.secure === false) return stream;
    let firstRead: number | undefined;
    const settle = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        firstRead ??= Date.now();
        callback(null, chunk);
      },
      flush(callback) {
        const wait = (firstRead ?? Date.now()) + TLS_UPLOAD_SETTLE_MS - Date.now();
        if (wait > 0) setTimeout(callback, wait);
        else callback();
      },
    });
    stream.on('error', (error) => settle.destroy(error));
    return stream.pipe(settle);
  }

  private async ensureFolder(client: Client, folder: string): Promise<void> {
    if (this.folders.has(folder)) return;
    await client.ensureDir(folder); // creates each missing level (and changes into it)
    this.folders.add(folder);
  }

  /** RNFR/RNTO over the final name; servers that refuse to overwrite get the old file removed first. */
  private async replace(client: Client, from: string, to: string): Promise<void> {
    try {
      await client.rename(from, to);
    } catch (error) {
      if (!(error instanceof FTPError)) throw error;
      await client.remove(to, true);
      await client.rename(from, to);
    }
  }

  /** Removes a leftover temporary file; on a broken connection, with a fresh client. */
  private async removeQuietly(client: Client | undefined, path: string): Promise<void> {
    const remove = (c: Client) => c.remove(path, true).then(() => undefined);
    await (client ? remove(client) : this.withClient(remove)).catch(() => undefined);
  }

  async load(key: string, options: LoadOptions = {}): Promise<Readable> {
    const path = this.pathOf(key);
    const client = await this.borrow();
    let size: number;
    try {
      size = await client.size(path);
    } catch (error) {
      this.giveBack(client, connectionStillUsable(error));
      throw this.toTargetError(error, `load ${key}`, key);
    }
    const start = options.range?.start ?? 0;
    const end = Math.min(options.range?.end ?? size, size);
    const output = new PassThrough({ highWaterMark: 1024 * 1024 });
    if (end <= start) {
      this.giveBack(client, true);
      output.end();
      return output;
    }
    this.streamDownload(client, path, key, start, end - start, size - start, output);
    destroyOnAbort(output, options.signal);
    return output;
  }

  /** Downloads `wanted` bytes from `start` into `output`, then returns (or drops) the client. */
  private streamDownload(client: Client, path: string, key: string, start: number, wanted: number, available: number, output: PassThrough): void {
    let remaining = wanted;
    let stoppedEarly = false;
    // Passes bytes on with back-pressure and cuts the transfer off once the range is complete.
    const limiter = new Writable({
      highWaterMark: 1024 * 1024,
      write: (chunk: Buffer, _encoding, callback) => {
        if (remaining <= 0) return callback();
        const piece = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk;
        remaining -= piece.length;
        const flowing = output.write(piece);
        if (remaining <= 0 && wanted < available) {
          stoppedEarly = true;
          output.end();
          client.close(); // FTP cannot stop a RETR politely: drop this connection
          return callback();
        }
        if (flowing) callback();
        else output.once('drain', () => callback());
      },
      final: (callback) => {
        output.end();
        callback();
      },
    });
    // The reader gave up: stop the transfer (this connection cannot be reused mid-RETR).
    output.on('close', () => {
      if (remaining > 0) client.close();
    });
    client.downloadTo(limiter, path, start).then(
      () => this.giveBack(client, !stoppedEarly),
      (error: unknown) => {
        this.giveBack(client, false);
        if (!stoppedEarly && !output.destroyed) output.destroy(this.toTargetError(error, `load ${key}`, key));
      },
    );
  }

  async stat(key: string): Promise<ObjectInfo> {
    const path = this.pathOf(key);
    return this.withClient(async (client) => {
      try {
        const size = await client.size(path);
        const modified = await client.lastMod(path).catch(() => undefined);
        return { key, size, ...(modified ? { modified } : {}) };
      } catch (error) {
        throw this.toTargetError(error, `stat ${key}`, key);
      }
    });
  }

  async *list(prefix = ''): AsyncIterable<ObjectInfo> {
    const slash = prefix.lastIndexOf('/');
    const enter = (key: string) => key.startsWith(prefix) || prefix.startsWith(`${key}/`);
    for await (const file of this.walkFiles(slash >= 0 ? prefix.slice(0, slash) : '', enter)) {
      if (file.entry.name.startsWith(TEMP_MARKER) || !file.key.startsWith(prefix)) continue;
      yield { key: file.key, size: file.entry.size, ...(file.entry.modifiedAt ? { modified: file.entry.modifiedAt } : {}) };
    }
  }

  /**
   * Every regular file under `folderKey`, temporary names included (callers filter), entering only
   * the sub-folders `enter` accepts. `onEmptyFolder` hears of each entered sub-folder that holds
   * nothing (`self`: the folder's own entry, from its parent's listing).
   */
  private async *walkFiles(folderKey: string, enter: (key: string) => boolean, onEmptyFolder?: (folder: WalkedFile) => void, self?: FileInfo): AsyncIterable<WalkedFile> {
    const folder = folderKey === '' ? this.settings.root : posix.join(this.settings.root, folderKey);
    // Fetch the whole listing, then give the client back before yielding: the consumer may run
    // other operations (remove, say) while it iterates.
    let entries: FileInfo[];
    try {
      entries = await this.withClient((client) => client.list(folder));
    } catch (error) {
      if (error instanceof FTPError && error.code === FILE_UNAVAILABLE) return;
      throw this.toTargetError(error, `list ${folderKey || 'the target folder'}`);
    }
    entries = entries.filter((entry) => entry.name !== '.' && entry.name !== '..');
    if (entries.length === 0 && self && onEmptyFolder) onEmptyFolder({ key: folderKey, path: folder, entry: self });
    for (const entry of entries) {
      const key = folderKey === '' ? entry.name : `${folderKey}/${entry.name}`;
      if (entry.isDirectory) {
        if (!entry.name.startsWith(TEMP_MARKER) && enter(key)) yield* this.walkFiles(key, enter, onEmptyFolder, entry);
      } else if (entry.isFile) {
        yield { key, path: posix.join(folder, entry.name), entry };
      }
    }
  }

  /**
   * Removes temporary upload files older than `olderThanMs` that a killed run left behind (a
   * finished or failed save removes its own), and backup folders they leave empty. Returns their keys.
   * A file whose age the server cannot tell is kept.
   */
  private async removeStale(olderThanMs: number, options: TemporaryCleanupOptions = {}): Promise<string[]> {
    const stale = await this.staleLeftovers(olderThanMs, options.emptyFolders);
    return removeStaleLeftovers(stale, (file) => file.key, (file) => this.removeLeftover(file), options);
  }

  /** The temporary files (and accepted empty folders, keyed `folder/`) under the root older than `olderThanMs`. */
  private async staleLeftovers(olderThanMs: number, emptyFolders: TemporaryCleanupOptions['emptyFolders']): Promise<WalkedFile[]> {
    const candidates: WalkedFile[] = [];
    const onEmptyFolder = (folder: WalkedFile): void => {
      if (emptyFolders?.(folder.key)) candidates.push({ ...folder, key: `${folder.key}/` });
    };
    for await (const file of this.walkFiles('', () => true, onEmptyFolder)) {
      if (file.entry.name.startsWith(TEMP_MARKER)) candidates.push(file);
    }
    const stale: WalkedFile[] = [];
    for (const candidate of candidates) {
      const modified = await this.withClient((client) => this.modificationTime(client, candidate));
      if (modified !== undefined && Date.now() - modified.getTime() > olderThanMs) stale.push(candidate);
    }
    return stale;
  }

  /** Removes one leftover (a `folder/` key: an empty folder) and the folder it leaves empty; false when it was gone already. */
  private async removeLeftover(file: WalkedFile): Promise<boolean> {
    return this.withClient(async (client) => {
      // RMD refuses a folder that is no longer empty (a save started in it meanwhile): then it stays.
      if (file.key.endsWith('/')) {
        const removed = await this.removeEmptyFolder(client, file.path);
        if (removed) await this.removeEmptyFolder(client, posix.dirname(file.path));
        return removed;
      }
      try {
        await client.remove(file.path);
      } catch (error) {
        if (error instanceof FTPError && error.code === FILE_UNAVAILABLE) return false; // its save finished or cleaned up meanwhile
        throw this.toTargetError(error, `remove leftover ${file.key}`);
      }
      await this.removeEmptyFolder(client, posix.dirname(file.path));
      return true;
    });
  }

  /**
   * A file's modification time to the second: from an MLSD listing when the server gave one, else
   * MDTM (a LIST line has minutes at best, only the day for older files, in the server's time
   * zone). Undefined when the server cannot tell.
   */
  private async modificationTime(client: Client, file: WalkedFile): Promise<Date | undefined> {
    if (file.entry.modifiedAt) return file.entry.modifiedAt;
    return client.lastMod(file.path).then(
      (date) => (Number.isNaN(date.getTime()) ? undefined : date),
      (error: unknown) => {
        // Many servers (vsftpd) answer MDTM for files only: a folder's time comes from its LIST line.
        if (connectionStillUsable(error)) return file.entry.isDirectory ? listedTime(file.entry.rawModifiedAt, new Date()) : undefined;
        throw error;
      },
    );
  }

  async remove(key: string): Promise<void> {
    const path = this.pathOf(key);
    await this.withClient(async (client) => {
      try {
        await client.remove(path);
      } catch (error) {
        // 550 covers "no such file" and "not allowed": tell them apart.
        if (error instanceof FTPError && error.code === FILE_UNAVAILABLE) {
          const exists = await client.size(path).then(() => true, () => false);
          if (!exists) throw notFound(this, key, error);
        }
        throw this.toTargetError(error, `remove ${key}`);
      }
      // Remove folders left empty, up to the target's root.
      let folder = posix.dirname(path);
      while (await this.removeEmptyFolder(client, folder)) folder = posix.dirname(folder);
    });
  }

  /**
   * Removes `folder` if it is empty and inside the target's root (never the root itself); RMD
   * fails harmlessly on a folder that still has content. Returns whether it was removed.
   */
  private async removeEmptyFolder(client: Client, folder: string): Promise<boolean> {
    if (folder === this.settings.root || !folder.startsWith(`${this.settings.root}/`)) return false;
    const removed = await client.send(`RMD ${folder}`).then(() => true, () => false);
    if (removed) this.folders.delete(folder);
    return removed;
  }

  async check(): Promise<void> {
    await this.withClient(async (client) => {
      try {
        await this.ensureFolder(client, this.settings.root);
      } catch (error) {
        throw this.toTargetError(error, `create or open folder ${this.settings.root}`);
      }
    });
  }

  async close(): Promise<void> {
    for (const client of [...this.idle, ...this.busy]) client.close();
    this.idle = [];
    this.busy.clear();
  }

  private toTargetError(error: unknown, action: string, key?: string): BackupError {
    if (error instanceof BackupError) return error;
    const message = messageOf(error);
    if (error instanceof FTPError) {
      if (error.code === NOT_LOGGED_IN) {
        return authFailed(this, `server replied: ${message}`, `check targets.${this.name}.user and passwordFile${this.settings.secure === false ? ' (and whether the server requires FTPS: secure: true)' : ''}`, error);
      }
      if (key !== undefined && error.code === FILE_UNAVAILABLE) return notFound(this, key, error);
      return targetFailed(this, action, `server replied: ${message}`, error);
    }
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_TRUST_ERRORS.test(code)) {
      return authFailed(
        this,
        `the server's TLS certificate is not trusted (${code})`,
        `check targets.${this.name}.ca (a PEM file with the server's CA or self-signed certificate), or set allowSelfSigned: true`,
        error,
      );
    }
    if (networkErrorCode(error) || /Timeout|socket|closed/i.test(message)) return unreachable(this, message, error);
    return targetFailed(this, action, message, error);
  }
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * The time in a Unix LIST line (`Dec 06 08:01` within the last half year, else `Jan 01 2001`),
 * read as UTC (vsftpd's default) and rounded up — to the end of the minute, or of the day when
 * only the date is given — so an age computed from it is never too large. Undefined when the
 * text has another form.
 */
export function listedTime(raw: string, now: Date): Date | undefined {
  const m = /^([A-Za-z]{3})\s+(\d{1,2})\s+(?:(\d{1,2}):(\d{2})|(\d{4}))$/.exec(raw.trim());
  const month = m ? MONTHS.indexOf(m[1]!.toLowerCase()) : -1;
  if (!m || month < 0) return undefined;
  const day = Number(m[2]);
  if (m[5] !== undefined) return new Date(Date.UTC(Number(m[5]), month, day, 23, 59, 59));
  const at = (year: number) => new Date(Date.UTC(year, month, day, Number(m[3]), Number(m[4]), 59));
  const thisYear = at(now.getUTCFullYear());
  // No year is shown for the last six months: a date ahead of now is last year's.
  return thisYear.getTime() > now.getTime() + 86_400_000 ? at(now.getUTCFullYear() - 1) : thisYear;
}

export const ftpTargetFactory: TargetFactory = {
  type: 'ftp',
  create(config: TargetConfigBase): Target {
    const rawSecure = config['secure'];
    const secure = rawSecure === 'implicit' ? 'implicit' : (optionalBoolean(config, 'secure') ?? false);
    const user = requireString(config, 'user');
    const password = secretFromFile(config, 'passwordFile') ?? optionalString(config, 'password');
    if (password === undefined && user !== 'anonymous') throw configError('passwordFile', `is required for user ${user}`, config.name);
    const tls: ConnectionOptions = {};
    const ca = fileFromConfig(config, 'ca');
    if (ca !== undefined) tls.ca = ca;
    if (optionalBoolean(config, 'allowSelfSigned') === true) tls.rejectUnauthorized = false;
    if (secure === false && (ca !== undefined || tls.rejectUnauthorized === false)) {
      throw configError(ca !== undefined ? 'ca' : 'allowSelfSigned', 'only applies with secure: true or implicit', config.name);
    }
    const port = optionalNumber(config, 'port') ?? (secure === 'implicit' ? 990 : 21);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw configError('port', 'must be a port number', config.name);
    const maxConnections = optionalNumber(config, 'maxConnections') ?? 2;
    if (!Number.isInteger(maxConnections) || maxConnections < 1 || maxConnections > 16) throw configError('maxConnections', 'must be between 1 and 16', config.name);
    const folder = optionalString(config, 'path') ?? '/';
    // Relative paths would follow the client's changing working folder (ensureDir changes it).
    if (!folder.startsWith('/')) throw configError('path', 'must be an absolute path on the server (e.g. /backups)', config.name);
    const root = posix.join(folder, normalizePrefix(config.prefix)).replace(/\/+$/, '') || '/';
    const settings: FtpTargetSettings = {
      host: requireString(config, 'host'),
      port,
      user,
      root,
      secure,
      tls,
      maxConnections,
      timeoutMs: 30_000,
      ...(password !== undefined ? { password } : {}),
    };
    return new FtpTarget(config.name, settings);
  },
};
