/**
 * Durations as operators write them in config and flags (`90d`, `12h`, `1d12h`, `2w`, `1y`) and as
 * the tool prints them back (`2d 3h`, `5m 12s`, `850ms`).
 */
import { BackupError, ErrorCodes } from './errors.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Units accepted by parseDuration. A year is 365 days; months are left out on purpose (ambiguous). */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: SECOND,
  m: MINUTE,
  h: HOUR,
  d: DAY,
  w: 7 * DAY,
  y: 365 * DAY,
};

// `ms` must come before `m` so that `500ms` is not read as 500 minutes followed by `s`.
const PART = /(\d+)(ms|s|m|h|d|w|y)/y;

/**
 * Parses a duration such as `90d`, `12h`, `30m`, `45s`, `2w`, `1y` or a combination like `1d12h`
 * (spaces between parts are allowed) into milliseconds. `key` names the config key or flag in the
 * error, so the operator knows which setting to fix.
 */
export function parseDuration(text: string, key: string): number {
  const compact = String(text).trim().replace(/\s+/g, '');
  if (compact === '') throw invalidDuration(text, key);
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < compact.length) {
    const start = PART.lastIndex;
    const match = PART.exec(compact);
    if (!match || match.index !== start) throw invalidDuration(text, key);
    const [, amount, unit] = match;
    total += Number(amount) * (UNIT_MS[unit as string] as number);
  }
  if (!Number.isSafeInteger(total)) throw invalidDuration(text, key);
  return total;
}

function invalidDuration(text: unknown, key: string): BackupError {
  return new BackupError(ErrorCodes.CONFIG_INVALID, `${key}: "${String(text)}" is not a valid duration`, {
    hint: 'write a whole number followed by a unit — s, m, h, d, w or y (365 days) — e.g. 30d, 12h or 1d12h',
    details: { key, value: String(text) },
  });
}

const FORMAT_UNITS: Array<[string, number]> = [
  ['d', DAY],
  ['h', HOUR],
  ['m', MINUTE],
  ['s', SECOND],
  ['ms', 1],
];

/**
 * A short human form with at most the two most significant units, rounded down:
 * `2d 3h`, `5m 12s`, `1h`, `850ms`. Days are the largest unit (`90d` reads better than `12w 6d`).
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  let rest = Math.floor(ms);
  if (rest === 0) return '0s';
  const parts: string[] = [];
  for (const [unit, size] of FORMAT_UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    else if (parts.length > 0) break; // `1d 0h 5m` would mislead; stop at the first gap
    rest -= count * size;
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}
