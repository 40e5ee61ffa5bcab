/**
 * Crontab entries: one line per backup type, tagged `# mongo-backup:<type>` at the end (for
 * /bin/sh that is a comment). Installing replaces the tagged line or appends it; removing deletes
 * it; every other byte of the crontab stays as it was.
 */
import { execFile, spawn } from 'node:child_process';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { BackupError, ErrorCodes } from '../errors.js';
import type { BackupType } from './types.js';

const execFileAsync = promisify(execFile);

export function cronTag(type: BackupType): string {
  return `mongo-backup:${type}`;
}

export interface CronLineSpec {
  /** Five cron fields. */
  schedule: string;
  /** Absolute node, absolute CLI script, then the arguments. */
  command: readonly string[];
  workingDirectory: string;
  logFile: string;
  type: BackupType;
  /** System crontabs (/etc/crontab, /etc/cron.d/*) have a user column after the schedule. */
  runAsUser?: string;
}

export function renderCronLine(spec: CronLineSpec): string {
  const command = `cd ${shellQuote(spec.workingDirectory)} && ${spec.command.map(shellQuote).join(' ')} >> ${shellQuote(spec.logFile)} 2>&1`;
  // cron turns an unescaped % into a newline before the shell sees the command.
  const escaped = command.replaceAll('%', '\\%');
  const user = spec.runAsUser ? `${spec.runAsUser} ` : '';
  return `${spec.schedule} ${user}${escaped} # ${cronTag(spec.type)}`;
}

/** Quotes a word for /bin/sh; plain words stay readable. */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** True for an active (not commented-out) line carrying the tag. */
function hasTag(line: string, tag: string): boolean {
  if (/^\s*#/.test(line)) return false;
  return new RegExp(`\\s#\\s*${tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`).test(line);
}

/**
 * Puts `line` in place of the first line tagged `tag` (dropping any later duplicates), or appends
 * it. Line endings of the other lines are kept as they are.
 */
export function upsertTaggedLine(crontab: string, tag: string, line: string): string {
  const lines = crontab.split('\n');
  let replaced = false;
  const kept: string[] = [];
  for (const existing of lines) {
    if (!hasTag(existing, tag)) {
      kept.push(existing);
    } else if (!replaced) {
      kept.push(line);
      replaced = true;
    }
  }
  if (replaced) return kept.join('\n');
  if (crontab === '') return `${line}\n`;
  // cron ignores a last line without a newline, so make sure the previous one ends.
  return crontab.endsWith('\n') ? `${crontab}${line}\n` : `${crontab}\n${line}\n`;
}

/** Removes every active line tagged `tag`; returns the new text and the lines removed. */
export function removeTaggedLines(crontab: string, tag: string): { crontab: string; removed: string[] } {
  const removed: string[] = [];
  const kept: string[] = [];
  for (const line of crontab.split('\n')) {
    if (hasTag(line, tag)) removed.push(line);
    else kept.push(line);
  }
  return { crontab: kept.join('\n'), removed };
}

export function findTaggedLine(crontab: string, tag: string): string | undefined {
  return crontab.split('\n').find((line) => hasTag(line, tag));
}

/** Where the crontab lives: the user's crontab (via `crontab`) or a file (tests, /etc/cron.d). */
export interface CrontabStore {
  /** For messages: "the crontab of root" or a file path. */
  readonly description: string;
  read(): Promise<string>;
  write(crontab: string): Promise<void>;
}

export function crontabFileStore(file: string): CrontabStore {
  return {
    description: file,
    async read() {
      try {
        return await readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
        throw error;
      }
    },
    async write(crontab) {
      // Keep the file's mode (cron.d files must not be group/world writable; crontabs are 0600).
      const mode = await stat(file).then((info) => info.mode & 0o7777, () => 0o644);
      const temporary = `${file}.tmp-${process.pid}`;
      await writeFile(temporary, crontab, { mode });
      await rename(temporary, file);
    },
  };
}

export function userCrontabStore(userName: string): CrontabStore {
  return {
    description: `the crontab of ${userName}`,
    async read() {
      try {
        const { stdout } = await execFileAsync('crontab', ['-l'], { timeout: 30_000 });
        return stdout;
      } catch (error) {
        const failure = error as NodeJS.ErrnoException & { stderr?: string };
        if (failure.code === 'ENOENT') throw crontabMissing();
        // "no crontab for USER" is an empty crontab, not an error.
        if (/no crontab for/i.test(String(failure.stderr ?? ''))) return '';
        throw new BackupError(ErrorCodes.FAILED, `crontab -l failed: ${String(failure.stderr ?? failure.message).trim()}`);
      }
    },
    async write(crontab) {
      await new Promise<void>((resolve, reject) => {
        const child = spawn('crontab', ['-'], { stdio: ['pipe', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ENOENT' ? crontabMissing() : error));
        child.once('close', (code) => {
          if (code === 0) resolve();
          else reject(new BackupError(ErrorCodes.FAILED, `crontab - failed (exit ${code}): ${stderr.trim()}`));
        });
        child.stdin.end(crontab);
      });
    },
  };
}

function crontabMissing(): BackupError {
  return new BackupError(ErrorCodes.TOOL_NOT_FOUND, 'the crontab command was not found', {
    hint: 'install cron (apt-get install cron), use --systemd, or edit a file with --crontab-file',
  });
}
