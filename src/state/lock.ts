/**
 * The run lock (docs/REFERENCE.md#lock): only one `create`/`prune`/`delete` at a time per state directory.
 *
 * `stateDir/lock` is created atomically with `open(..., 'wx')` and holds JSON naming the holder.
 * A lock whose holder is gone — same host and its PID no longer exists, or older than
 * `staleAfterMs` on any host — is taken over. Takeover replaces the file with `rename`, under a
 * short-lived guard file (`lock.takeover`, itself created with 'wx') and after re-reading the lock,
 * so two processes that find the same stale lock cannot both win.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BackupError, ErrorCodes } from '../errors.js';
import { formatDuration } from '../duration.js';

export interface LockInfo {
  pid: number;
  host: string;
  command: string;
  /** ISO time the lock was taken */
  since: string;
}

export interface LockHandle {
  /** Removes the lock file if it is still ours; safe to call more than once. */
  release(): Promise<void>;
  info: LockInfo;
}

export interface AcquireLockOptions {
  /** A lock older than this is considered abandoned, on any host (default 24h). */
  staleAfterMs?: number;
  /** Called when a stale lock is taken over, so the caller can warn. */
  onTakeover?: (previous: LockInfo, reason: string) => void;
}

export const DEFAULT_STALE_AFTER_MS = 24 * 60 * 60 * 1000;
/** An unreadable lock younger than this may be one that is still being written. */
const CORRUPT_GRACE_MS = 60 * 1000;
/** A takeover guard older than this was left by a process that died mid-takeover. */
const GUARD_STALE_MS = 60 * 1000;
const MAX_ATTEMPTS = 5;

export const LOCK_FILE_NAME = 'lock';

/** What is in the lock file: the holder, plus a nonce so we can tell our lock from a newer one. */
interface LockFileContent extends LockInfo {
  nonce: string;
}

interface ExistingLock {
  raw: string;
  /** undefined when the file is not a valid lock (corrupt or half-written) */
  info: LockInfo | undefined;
  mtimeMs: number;
}

type Assessment = { stale: true; reason: string; previous: LockInfo } | { stale: false; holder: ExistingLock };

export async function acquireLock(stateDir: string, command: string, options: AcquireLockOptions = {}): Promise<LockHandle> {
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const lockPath = join(stateDir, LOCK_FILE_NAME);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });

  const content: LockFileContent = {
    pid: process.pid,
    host: hostname(),
    command,
    since: new Date().toISOString(),
    nonce: randomBytes(8).toString('hex'),
  };
  const raw = `${JSON.stringify(content)}\n`;

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (await createExclusive(lockPath, raw)) return handleFor(lockPath, raw, content);

    const existing = await readExisting(lockPath);
    if (existing === undefined) continue; // released between our create and our read: try again

    const assessment = assess(existing, staleAfterMs);
    if (!assessment.stale) throw lockedError(lockPath, assessment.holder);

    const outcome = await takeOver(lockPath, existing.raw, raw);
    if (outcome === 'won') {
      options.onTakeover?.(assessment.previous, assessment.reason);
      return handleFor(lockPath, raw, content);
    }
    if (outcome === 'busy') {
      throw new BackupError(ErrorCodes.LOCKED, `another process is taking over the stale lock ${lockPath}`, {
        hint: 'another run is starting right now; try again in a moment',
        details: { lockFile: lockPath },
      });
    }
    // 'changed': the lock changed under us (someone else took it over or released it); look again.
  }
  const holder = await readExisting(lockPath);
  if (holder) throw lockedError(lockPath, holder);
  throw new BackupError(ErrorCodes.LOCKED, `could not acquire ${lockPath}: it keeps changing hands`, {
    hint: 'several runs are starting at once; try again in a moment',
    details: { lockFile: lockPath },
  });
}

function handleFor(lockPath: string, raw: string, content: LockFileContent): LockHandle {
  const { nonce: _nonce, ...info } = content;
  let released = false;
  return {
    info,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      // Only remove the file if it is still ours: after a takeover (we were judged stale) it belongs
      // to someone else now.
      const current = await readFile(lockPath, 'utf8').catch(() => undefined);
      if (current === raw) await unlink(lockPath).catch(ignoreMissing);
    },
  };
}

/** Creates the lock file only if none exists; true when we created it. */
async function createExclusive(path: string, raw: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw lockIoError(path, error);
  }
  try {
    await handle.writeFile(raw, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw lockIoError(path, error);
  }
  await handle.close();
  return true;
}

async function readExisting(path: string): Promise<ExistingLock | undefined> {
  try {
    const [raw, stats] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { raw, info: parseLockInfo(raw), mtimeMs: stats.mtimeMs };
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw lockIoError(path, error);
  }
}

function parseLockInfo(raw: string): LockInfo | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { pid, host, command, since } = value as Record<string, unknown>;
  if (!Number.isSafeInteger(pid) || (pid as number) <= 0) return undefined;
  if (typeof host !== 'string' || typeof command !== 'string' || typeof since !== 'string') return undefined;
  return { pid: pid as number, host, command, since };
}

/** When the lock was taken: its `since`, or the file's mtime if that is unreadable. */
function lockTime(lock: ExistingLock): number {
  const since = lock.info ? Date.parse(lock.info.since) : Number.NaN;
  return Number.isNaN(since) ? lock.mtimeMs : since;
}

function assess(lock: ExistingLock, staleAfterMs: number): Assessment {
  const ageMs = Date.now() - lockTime(lock);
  if (!lock.info) {
    // Not a valid lock: a crash while writing, or a lock being written right now.
    if (Date.now() - lock.mtimeMs <= CORRUPT_GRACE_MS) return { stale: false, holder: lock };
    const previous: LockInfo = { pid: 0, host: 'unknown', command: 'unknown', since: new Date(lock.mtimeMs).toISOString() };
    return { stale: true, reason: `the lock file is not valid JSON and is older than ${formatDuration(CORRUPT_GRACE_MS)}`, previous };
  }
  const info = lock.info;
  if (info.host === hostname() && !processExists(info.pid)) {
    return { stale: true, reason: `process ${info.pid} on this host no longer exists`, previous: info };
  }
  if (ageMs > staleAfterMs) {
    return {
      stale: true,
      reason: `the lock is ${formatDuration(ageMs)} old, older than the ${formatDuration(staleAfterMs)} limit`,
      previous: info,
    };
  }
  return { stale: false, holder: lock };
}

/** Whether a process with this PID runs on this host (signal 0 probes without signalling). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return errorCode(error) !== 'ESRCH';
  }
}

/**
 * Replaces a stale lock (whose content was `staleRaw`) with ours. Only one process at a time may
 * do this (the guard file); it re-reads the lock before replacing it, so a lock that someone else
 * has just taken over is never clobbered.
 */
async function takeOver(lockPath: string, staleRaw: string, raw: string): Promise<'won' | 'changed' | 'busy'> {
  const guardPath = `${lockPath}.takeover`;
  if (!(await createGuard(guardPath))) return 'busy';
  try {
    const current = await readFile(lockPath, 'utf8').catch((error: unknown) => {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw lockIoError(lockPath, error);
    });
    if (current !== staleRaw) return 'changed';

    const tempPath = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      if (!(await createExclusive(tempPath, raw))) return 'changed';
      await rename(tempPath, lockPath);
    } catch (error) {
      await unlink(tempPath).catch(() => undefined);
      throw error instanceof BackupError ? error : lockIoError(lockPath, error);
    }
    return 'won';
  } finally {
    await unlink(guardPath).catch(() => undefined);
  }
}

async function createGuard(guardPath: string): Promise<boolean> {
  const body = `${JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() })}\n`;
  if (await createExclusive(guardPath, body)) return true;
  // A guard left behind by a process that died mid-takeover would block everyone: clear it
  // once it is clearly abandoned (a takeover takes milliseconds). Two processes clearing the same
  // abandoned guard at the same instant could both proceed; that needs a crash mid-takeover plus
  // a race a minute later, and is accepted.
  const stats = await stat(guardPath).catch(() => undefined);
  if (stats && Date.now() - stats.mtimeMs > GUARD_STALE_MS) {
    await unlink(guardPath).catch(() => undefined);
    return createExclusive(guardPath, body);
  }
  return false;
}

function lockedError(lockPath: string, holder: ExistingLock): BackupError {
  const since = lockTime(holder);
  const ago = formatDuration(Math.max(0, Date.now() - since));
  if (!holder.info) {
    return new BackupError(
      ErrorCodes.LOCKED,
      `another run is starting: ${lockPath} is being written (changed ${ago} ago)`,
      {
        hint: `try again in a minute; if it persists, the file is damaged — remove ${lockPath} once no mongo-backup run is active`,
        details: { lockFile: lockPath },
      },
    );
  }
  const { pid, host, command, since: sinceText } = holder.info;
  return new BackupError(
    ErrorCodes.LOCKED,
    `another run holds the lock: "${command}" (PID ${pid} on host ${host}) since ${sinceText} (${ago} ago)`,
    {
      hint:
        host === hostname()
          ? `wait for it to finish; a lock whose process has exited is taken over automatically. If PID ${pid} is not a mongo-backup run, remove ${lockPath}`
          : `wait for it to finish; if that run on ${host} is gone, remove ${lockPath} (locks from other hosts are only taken over once they are older than the stale limit)`,
      details: { lockFile: lockPath, pid, host, command, since: sinceText },
    },
  );
}

function lockIoError(path: string, error: unknown): BackupError {
  const reason = error instanceof Error ? error.message : String(error);
  return new BackupError(ErrorCodes.FAILED, `cannot use the lock file ${path}: ${reason}`, {
    hint: 'check that the state directory exists and is writable (stateDir or BACKUP_STATE_DIR)',
    cause: error,
  });
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

function ignoreMissing(error: unknown): void {
  if (errorCode(error) !== 'ENOENT') throw error;
}

