/** Backup ids: `backup-YYYY-MM-DD-HHMMSS-<6 hex>` in UTC, so they sort by time (docs/REFERENCE.md#backup-ids). */
import { randomBytes } from 'node:crypto';

const ID_PATTERN = /^backup-(\d{4})-(\d{2})-(\d{2})-(\d{2})(\d{2})(\d{2})-([0-9a-f]{6})$/;

export function newBackupId(now: Date = new Date()): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  const date = `${now.getUTCFullYear()}-${pad(now.getUTCMonth() + 1)}-${pad(now.getUTCDate())}`;
  const time = `${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  return `backup-${date}-${time}-${randomBytes(3).toString('hex')}`;
}

export function isBackupId(value: string): boolean {
  return ID_PATTERN.test(value);
}

/** The creation time encoded in an id (second precision), or undefined for a foreign name. */
export function timeOfBackupId(id: string): Date | undefined {
  const m = ID_PATTERN.exec(id);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
}

/** The one word that stands for the newest completed backup where a command takes an id. */
export const LATEST = 'latest';

/**
 * Whether `value` can name a backup: an id of the grammar above, or `latest` where the command
 * accepts it. Anything else (control characters, path separators, other names) cannot exist on
 * any target, since the catalog lists only folders whose names match the grammar.
 */
export function isBackupRef(value: string, allowLatest: boolean): boolean {
  return isBackupId(value) || (allowLatest && value === LATEST);
}
