/** Small pieces of flag handling shared by several commands. */
import { InvalidArgumentError } from 'commander';
import { registerSecret, usageError } from '../errors.js';
import { validateMongoUri } from '../config/load.js';
import { parseDuration } from '../duration.js';
import { isBackupRef } from '../engine/ids.js';

/** Collects a repeatable option (`--target a --target b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Parses a positive whole number flag value. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number ≥ 1');
  return n;
}

/** Parses a whole number ≥ 0. */
export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number ≥ 0');
  return n;
}

/** Parses a date (ISO 8601, or a relative age such as 7d / 12h). */
export function parseSince(value: string, now: Date = new Date()): Date {
  const relative = /^(\d+)([smhdw])$/.exec(value);
  if (relative) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[relative[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    return new Date(now.getTime() - Number(relative[1]) * unit);
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw usageError(`--since "${value}" is not a date`, 'use e.g. 2026-02-18, 2026-02-18T10:30:00Z or 7d');
  return date;
}

/** Validates a duration flag (30d, 12h, 2w) at parse time, keeping the text for the policy. */
export function durationFlag(flag: string): (value: string) => string {
  return (value) => {
    try {
      parseDuration(value, flag);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message.replace(/^configuration: /, ''));
    }
    return value;
  };
}

/**
 * The one check of a backup id argument, run by every command that takes one before it reads the
 * configuration or touches storage: an id (docs/REFERENCE.md#backup-ids), or `latest` where the
 * command accepts it. Anything else is a usage error (exit 2); the output layer shows the refused
 * text escaped, so it cannot forge lines or reach the terminal as control sequences.
 */
export function backupIdArgument(value: string, options: { latest: boolean }): string {
  if (isBackupRef(value, options.latest)) return value;
  throw usageError(
    `"${value}" is not a backup id`,
    `ids look like backup-2026-02-18-103000-a1b2c3${options.latest ? ' (or "latest")' : ''}; "mongo-backup list" shows them`,
  );
}

/** `--to-time`: an ISO 8601 moment (with a zone, so 2 AM means the same on every host) or "latest". */
export function parseToTime(text: string): number | 'latest' {
  if (text === 'latest') return 'latest';
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(text) || Number.isNaN(ms)) {
    throw usageError(`--to-time "${text}" is not an ISO 8601 time with a zone`, 'e.g. --to-time 2026-12-06T03:14:15Z or 2026-12-06T04:14:15+01:00, or --to-time latest');
  }
  return ms;
}

/**
 * Checks a `--uri` flag and keeps its password out of every message; returns whether it held one
 * (visible in the process list and shell history, which the caller may warn about).
 */
export function acceptUriFlag(uri: string): { hasPassword: boolean } {
  validateMongoUri(uri, '--uri');
  const password = /^[a-z+]+:\/\/[^:@/]*:([^@/]+)@/i.exec(uri)?.[1];
  if (password !== undefined) registerSecret(password);
  return { hasPassword: password !== undefined };
}
