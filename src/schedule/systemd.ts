/**
 * systemd service + timer units for scheduled backups, and installing/removing them.
 *
 * Units carry a marker comment so that `schedule remove` deletes only files this tool wrote.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { BackupError, ErrorCodes } from '../errors.js';
import type { BackupType, GeneratedFile } from './types.js';

const execFileAsync = promisify(execFile);

export const UNIT_MARKER = '# Written by `mongo-backup schedule install`; `mongo-backup schedule remove` deletes it.';

export interface UnitSpec {
  type: BackupType;
  /** Absolute node, absolute CLI script, then the arguments. */
  command: readonly string[];
  workingDirectory: string;
  environmentFile: string;
  onCalendar: readonly string[];
  /** The cron expression the calendar came from, recorded in a comment. */
  cronExpression: string;
  randomizedDelay?: string;
  /** User units (systemctl --user) cannot depend on system targets such as network-online. */
  userUnit: boolean;
}

/** `mongo-backup` for full backups, `mongo-backup-incremental` for incremental ones, so both can coexist. */
export function unitBaseName(type: BackupType): string {
  return type === 'full' ? 'mongo-backup' : `mongo-backup-${type}`;
}

export function renderUnits(spec: UnitSpec, dir: string): GeneratedFile[] {
  const base = unitBaseName(spec.type);
  return [
    { path: path.join(dir, `${base}.service`), content: renderService(spec) },
    { path: path.join(dir, `${base}.timer`), content: renderTimer(spec) },
  ];
}

function renderService(spec: UnitSpec): string {
  const lines = [
    UNIT_MARKER,
    '[Unit]',
    `Description=${spec.type === 'drill' ? 'MongoDB restore drill' : `MongoDB ${spec.type} backup`} (mongo-backup)`,
    ...(spec.userUnit ? [] : ['Wants=network-online.target', 'After=network-online.target']),
    '',
    '[Service]',
    'Type=oneshot',
    `WorkingDirectory=${escapeSpecifiers(spec.workingDirectory)}`,
    '# Secrets (MONGODB_URI, BACKUP_ENCRYPTION_KEY, cloud credentials) go here, mode 0600; "-" = optional.',
    `EnvironmentFile=-${escapeSpecifiers(spec.environmentFile)}`,
    `ExecStart=${spec.command.map(quoteExecArgument).join(' ')}`,
    '# Stay out of the database\'s way: low CPU priority, lowest best-effort I/O priority.',
    '# (IOSchedulingClass=idle could starve the backup forever on a busy disk.)',
    'Nice=10',
    'CPUSchedulingPolicy=batch',
    'IOSchedulingClass=best-effort',
    'IOSchedulingPriority=7',
    '# On stop, SIGTERM lets mongo-backup remove partial uploads before it exits.',
    'TimeoutStopSec=5min',
    '',
  ];
  return lines.join('\n');
}

function renderTimer(spec: UnitSpec): string {
  const lines = [
    UNIT_MARKER,
    `# cron schedule: ${spec.cronExpression}`,
    '[Unit]',
    `Description=Schedule for ${unitBaseName(spec.type)}.service`,
    '',
    '[Timer]',
    ...spec.onCalendar.map((calendar) => `OnCalendar=${calendar}`),
    '# Run at the next boot if the machine was off at the scheduled time.',
    'Persistent=true',
    ...(spec.randomizedDelay ? [`RandomizedDelaySec=${spec.randomizedDelay}`] : []),
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ];
  return lines.join('\n');
}

/** `%` starts a specifier in unit files; a literal one is `%%`. */
function escapeSpecifiers(text: string): string {
  return text.replaceAll('%', '%%');
}

/** Quotes one ExecStart word per systemd.service(5): `%` and `$` are expanded, so they are doubled. */
export function quoteExecArgument(argument: string): string {
  const escaped = escapeSpecifiers(argument).replaceAll('$', '$$$$');
  if (escaped !== '' && /^[A-Za-z0-9_@%+=:,./$-]+$/.test(escaped)) return escaped;
  return `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** Validates a systemd time span for RandomizedDelaySec (e.g. `900`, `15m`, `1h 30min`). */
export function parseTimeSpan(text: string): string {
  const span = text.trim();
  const unit = '(us|ms|s|sec|second|seconds|m|min|minute|minutes|h|hr|hour|hours|d|day|days|w|week|weeks)';
  if (!new RegExp(`^(\\d+\\s*${unit}?\\s*)+$`).test(span)) {
    throw new BackupError(ErrorCodes.USAGE, `invalid --randomized-delay "${text}"`, {
      hint: 'give seconds or a systemd time span, for example 900, 15m or 1h',
    });
  }
  return span;
}

export async function writeUnits(files: readonly GeneratedFile[]): Promise<void> {
  for (const file of files) {
    await mkdir(path.dirname(file.path), { recursive: true });
    // Write then rename, so systemd never reads a half-written unit.
    const temporary = `${file.path}.tmp-${process.pid}`;
    await writeFile(temporary, file.content, { mode: 0o644 });
    await rename(temporary, file.path);
  }
}

export interface RemovedUnits {
  removed: string[];
  /** Files with our names that this tool did not write (no marker): left in place. */
  foreign: string[];
}

export async function removeUnits(paths: readonly string[]): Promise<RemovedUnits> {
  const result: RemovedUnits = { removed: [], foreign: [] };
  for (const file of paths) {
    let content: string;
    try {
      content = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    if (!content.includes(UNIT_MARKER)) {
      result.foreign.push(file);
      continue;
    }
    await rm(file);
    result.removed.push(file);
  }
  return result;
}

/** Runs `systemctl [--user] ARGS`; failures become errors that show systemctl's own message. */
export async function systemctl(user: boolean, args: readonly string[]): Promise<void> {
  const fullArgs = [...(user ? ['--user'] : []), ...args];
  try {
    await execFileAsync('systemctl', fullArgs, { timeout: 60_000 });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new BackupError(ErrorCodes.FAILED, `systemctl ${fullArgs.join(' ')} failed: ${stderr || (error as Error).message}`, {
      cause: error,
      hint: 'the unit files are written; fix the problem and run the systemctl command yourself, or use --no-enable',
    });
  }
}
