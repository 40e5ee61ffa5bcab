/**
 * Files named by the configuration (password files, key files, CA certificates). Their paths were
 * resolved against the configuration file's folder by the key check (schema.ts), so these only
 * read; a file that cannot be read is a CONFIG_INVALID error naming the key, before any work.
 *
 * Their permissions are checked as ssh checks its own files (docs/REFERENCE.md#file-permissions):
 * running as root, a file that other users can write, or that another user owns, is refused (it
 * decides what root runs and where root sends the data); a file holding a secret that every user
 * can read is used, with a warning, once per file.
 */
import { closeSync, fstatSync, openSync, readFileSync, statSync, type Stats } from 'node:fs';
import { BackupError } from '../errors.js';
import { configError } from './schema.js';

/** Where permission warnings go; the default is stderr, in the tool's `warning:` form. */
let warnSink: (message: string) => void = (message) => process.stderr.write(`warning: ${message}\n`);
const warnedFiles = new Set<string>();
const warnedMessages = new Set<string>();

/** Sends permission warnings elsewhere (tests); returns the previous sink. */
export function setPermissionWarningSink(sink: (message: string) => void): (message: string) => void {
  const previous = warnSink;
  warnSink = sink;
  return previous;
}

/** A warning about the files the configuration uses, printed once per process. */
export function warnOnce(message: string): void {
  if (warnedMessages.has(message)) return;
  warnedMessages.add(message);
  warnSink(message);
}

function runningAsRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Running as root, refuses (CONFIG_INVALID, exit 2) a file that users other than its owner can
 * write, or that a user other than root owns: whoever can change it could make root run commands,
 * read other files or send backups elsewhere. `key` names it in the message (`file` for the
 * configuration file itself). Other users are trusted with their own files, so only root checks.
 */
export function checkFileTrust(file: string, key: string): void {
  if (!runningAsRoot()) return;
  let stats: Stats;
  try {
    stats = statSync(file);
  } catch {
    return; // reading it will report the problem
  }
  checkTrust(stats, file, key);
}

/**
 * The bytes of `file` after checkFileTrust(), both on the one open file: what is checked is what is
 * read, even if the name is switched to another file in between.
 */
export function readTrustedFile(file: string, key: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    if (runningAsRoot()) checkTrust(fstatSync(fd), file, key);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

function checkTrust(stats: Stats, file: string, key: string): void {
  // Device nodes (/dev/null is 0666 by design) are made by root alone; what they read is not a writer's to choose.
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return;
  const { uid, mode } = stats;
  const permissions = `mode ${(mode & 0o777).toString(8).padStart(4, '0')}`;
  if ((mode & 0o022) !== 0) {
    throw configError(key, `${file} can be written by users other than its owner (${permissions}): running as root, mongo-backup does not use it`, `chmod go-w ${file}`);
  }
  if (uid !== 0) {
    throw configError(key, `${file} is owned by user id ${uid}, not root: running as root, mongo-backup does not use another user's file`, `chown root ${file} (or run mongo-backup as that user)`);
  }
}

/** Warns, once per file, when `file` holds a secret and every user on the machine can read it. */
export function warnIfReadableByOthers(file: string, key: string): void {
  if (warnedFiles.has(file)) return;
  let mode: number;
  try {
    ({ mode } = statSync(file));
  } catch {
    return;
  }
  if ((mode & 0o004) === 0) return;
  warnedFiles.add(file);
  warnOnce(`${key} ${file} holds a secret and every user can read it (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): chmod o-r ${file} (or chmod 600)`);
}

/**
 * The bytes of the file `file` named by the key `key` (e.g. `targets.vault.privateKey`); `secret`
 * when the file holds one (a private key), for the readable-by-others warning.
 */
export function readConfiguredFile(file: string, key: string, options: { secret?: boolean } = {}): Buffer {
  let bytes: Buffer;
  try {
    bytes = readTrustedFile(file, key);
  } catch (error) {
    if (error instanceof BackupError) throw error;
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw configError(key, `names a file that cannot be read (${reason}): ${file}`);
  }
  if (options.secret) warnIfReadableByOthers(file, key);
  return bytes;
}

/** A secret kept in a file: its text without the trailing line break(s) an editor adds. */
export function readSecretFile(file: string, key: string): string {
  return readConfiguredFile(file, key, { secret: true }).toString('utf8').replace(/[\r\n]+$/, '');
}
