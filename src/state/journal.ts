/**
 * The run journal: one JSON line per create/restore/verify/replicate/prune/delete run, appended to
 * `stateDir/runs.jsonl` and fsynced. It feeds `health` and `metrics`. It is an aid, never a
 * dependency: reading skips (and counts) damaged lines, and a failed append is a typed error that
 * the caller reports as a warning — a backup never fails because its journal could not be written.
 *
 * The file stays bounded: once it holds more than MAX_RECORDS lines it is compacted to the most
 * recent KEEP_AFTER_COMPACTION records by writing a temporary file and renaming it over the journal.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { BackupError, ErrorCodes, redactSecrets } from '../errors.js';

export const JOURNAL_FILE = 'runs.jsonl';
export const MAX_RECORDS = 10_000;
export const KEEP_AFTER_COMPACTION = 8_000;
/** Below this size the journal cannot hold MAX_RECORDS lines worth counting, so appends skip the count. */
const COMPACTION_CHECK_BYTES = 1_000_000;

export type RunCommand = 'create' | 'restore' | 'drill' | 'verify' | 'replicate' | 'prune' | 'delete';
export type RunStatus = 'SUCCESS' | 'PARTIAL' | 'FAILED' | 'INTERRUPTED';
export const RUN_COMMANDS: readonly RunCommand[] = ['create', 'restore', 'drill', 'verify', 'replicate', 'prune', 'delete'];
export const RUN_STATUSES: readonly RunStatus[] = ['SUCCESS', 'PARTIAL', 'FAILED', 'INTERRUPTED'];

export interface RunTargetResult {
  status: 'ok' | 'failed';
  error?: string;
}

export interface RunRecord {
  runId: string;
  command: RunCommand;
  status: RunStatus;
  /** ISO 8601. */
  startTime: string;
  endTime: string;
  /** Milliseconds. */
  duration: number;
  backupId?: string;
  /** Backup type, e.g. FULL. */
  type?: string;
  /** Plain archive bytes. */
  size?: number;
  /** Bytes stored per copy (compressed, encrypted). */
  storedSize?: number;
  /** Per target outcome; for create, the keys are the targets the backup was meant for. */
  targets?: Record<string, RunTargetResult>;
  /**
   * Outcome of the integrity check this run performed: true passed, false failed. Leave it out
   * when the run did not verify (e.g. `create --no-verify`), so health does not count it.
   */
  verified?: boolean;
  error?: { code: string; message: string };
  host: string;
}

/** A run being timed; `finish` produces the record to append. */
export interface RunInProgress {
  readonly runId: string;
  readonly command: RunCommand;
  readonly startTime: Date;
  finish(status: RunStatus, details?: Partial<Omit<RunRecord, 'runId' | 'command' | 'status' | 'startTime' | 'endTime' | 'duration' | 'host'>>): RunRecord;
}

export function newRunId(now: Date = new Date()): string {
  return `run-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/** Starts timing a run; call `finish` when it ends and pass the result to recordRun. */
export function beginRun(command: RunCommand, now: Date = new Date()): RunInProgress {
  const runId = newRunId(now);
  return {
    runId,
    command,
    startTime: now,
    finish(status, details = {}) {
      const end = new Date();
      const record: RunRecord = {
        runId,
        command,
        status,
        startTime: now.toISOString(),
        endTime: end.toISOString(),
        duration: Math.max(0, end.getTime() - now.getTime()),
        host: hostname(),
        ...details,
      };
      if (record.error) record.error = { code: record.error.code, message: redactSecrets(record.error.message) };
      return record;
    },
  };
}

export function journalPath(stateDir: string): string {
  return path.join(stateDir, JOURNAL_FILE);
}

/**
 * Appends one record and fsyncs it. Throws a BackupError (code FAILED) when the journal cannot be
 * written; callers catch it and print a warning instead of failing the run.
 */
export async function recordRun(stateDir: string, record: RunRecord): Promise<void> {
  const file = journalPath(stateDir);
  const line = `${redactSecrets(JSON.stringify(record))}\n`;
  try {
    await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
    const handle = await fs.open(file, 'a', 0o600);
    try {
      await handle.write(line);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new BackupError(ErrorCodes.FAILED, `could not record the run in ${file}: ${(error as Error).message}`, {
      cause: error,
      hint: `check that ${stateDir} is writable (set stateDir or BACKUP_STATE_DIR)`,
    });
  }
  await compactIfNeeded(file).catch(() => {
    // Compaction is housekeeping; the record itself is safely appended.
  });
}

/** Convenience for callers: appends, and turns a failure into a warning. Returns whether it worked. */
export async function recordRunOrWarn(stateDir: string, record: RunRecord, warn: (message: string) => void): Promise<boolean> {
  try {
    await recordRun(stateDir, record);
    return true;
  } catch (error) {
    warn(`${(error as Error).message} (the run itself is not affected)`);
    return false;
  }
}

export interface ReadRunsOptions {
  /** Only runs that started at or after this time. */
  since?: Date;
  command?: RunCommand;
}

export interface JournalContents {
  /** Oldest first, as appended. */
  runs: RunRecord[];
  /** Lines that were not valid records (torn writes, manual edits); skipped. */
  corruptLines: number;
}

/** Reads the journal; a missing file is an empty journal. Oldest first. */
export async function readJournal(stateDir: string, options: ReadRunsOptions = {}): Promise<JournalContents> {
  let text: string;
  try {
    text = await fs.readFile(journalPath(stateDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { runs: [], corruptLines: 0 };
    throw new BackupError(ErrorCodes.FAILED, `could not read the run journal: ${(error as Error).message}`, { cause: error });
  }
  const { runs, corruptLines } = parseJournal(text);
  const sinceMs = options.since?.getTime();
  const selected = runs.filter(
    (run) => (sinceMs === undefined || Date.parse(run.startTime) >= sinceMs) && (options.command === undefined || run.command === options.command),
  );
  return { runs: selected, corruptLines };
}

/** Reads the journal's runs, oldest first, skipping damaged lines. */
export async function readRuns(stateDir: string, options: ReadRunsOptions = {}): Promise<RunRecord[]> {
  return (await readJournal(stateDir, options)).runs;
}

export function parseJournal(text: string): JournalContents {
  const runs: RunRecord[] = [];
  let corruptLines = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const record = parseRecord(line);
    if (record) runs.push(record);
    else corruptLines++;
  }
  return { runs, corruptLines };
}

function parseRecord(line: string): RunRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const r = value as Record<string, unknown>;
  const validTime = (v: unknown): boolean => typeof v === 'string' && !Number.isNaN(Date.parse(v));
  if (typeof r.runId !== 'string') return undefined;
  if (!RUN_COMMANDS.includes(r.command as RunCommand)) return undefined;
  if (!RUN_STATUSES.includes(r.status as RunStatus)) return undefined;
  if (!validTime(r.startTime) || !validTime(r.endTime)) return undefined;
  if (typeof r.duration !== 'number' || !Number.isFinite(r.duration)) return undefined;
  return value as RunRecord;
}

async function compactIfNeeded(file: string): Promise<void> {
  const st = await fs.stat(file);
  if (st.size < COMPACTION_CHECK_BYTES) return;
  const text = await fs.readFile(file, 'utf8');
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (lines.length <= MAX_RECORDS) return;
  await writeFileAtomic(file, `${lines.slice(-KEEP_AFTER_COMPACTION).join('\n')}\n`);
}

/** Writes `content` to a temporary file in the same directory, fsyncs it, and renames it over `file`. */
export async function writeFileAtomic(file: string, content: string, options: { mode?: number; createDir?: boolean } = {}): Promise<void> {
  const dir = path.dirname(file);
  const mode = options.mode ?? 0o600;
  if (options.createDir !== false) await fs.mkdir(dir, { recursive: true });
  const temp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const handle = await fs.open(temp, 'wx', mode);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  // Make the rename durable; some file systems refuse to fsync a directory, which is fine.
  const dirHandle = await fs.open(dir, 'r').catch(() => undefined);
  if (dirHandle) {
    await dirHandle.sync().catch(() => undefined);
    await dirHandle.close();
  }
}
