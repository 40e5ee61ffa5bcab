import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/duration.js';
import { BackupError } from '../../src/errors.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('parseDuration', () => {
  it.each([
    ['90d', 90 * DAY],
    ['12h', 12 * HOUR],
    ['30m', 30 * MINUTE],
    ['45s', 45 * SECOND],
    ['2w', 14 * DAY],
    ['1y', 365 * DAY],
    ['1d12h', 36 * HOUR],
    ['1d 12h', 36 * HOUR],
    ['1h30m15s', HOUR + 30 * MINUTE + 15 * SECOND],
    ['500ms', 500],
    ['1m500ms', MINUTE + 500],
    ['0d', 0],
    [' 7d ', 7 * DAY],
  ])('%s is %d ms', (text, expected) => {
    expect(parseDuration(text, 'retention.maxAge')).toBe(expected);
  });

  it.each(['', '30', 'd', '30 days', '1.5d', '-1d', '30D', '3mo', 'soon', '1d12', '9999999999999999y'])(
    'rejects %j naming the key and the value',
    (text) => {
      let caught: unknown;
      try {
        parseDuration(text, 'targets.offsite.retention.maxAge');
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(BackupError);
      const error = caught as BackupError;
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain('targets.offsite.retention.maxAge');
      expect(error.message).toContain(`"${text}"`);
      expect(error.hint).toMatch(/30d/);
    },
  );

  it('rejects a bare number from YAML (no unit) instead of guessing one', () => {
    expect(() => parseDuration(30 as unknown as string, 'retention.maxAge')).toThrow(/retention\.maxAge: "30"/);
  });
});

describe('formatDuration', () => {
  it.each([
    [850, '850ms'],
    [0, '0s'],
    [1500, '1s 500ms'],
    [5 * MINUTE + 12 * SECOND, '5m 12s'],
    [5 * MINUTE + 12 * SECOND + 999, '5m 12s'],
    [2 * DAY + 3 * HOUR + 59 * MINUTE, '2d 3h'],
    [HOUR, '1h'],
    [DAY + 5 * MINUTE, '1d'],
    [30 * DAY, '30d'],
    [36 * HOUR, '1d 12h'],
    [-90 * SECOND, '-1m 30s'],
  ])('%d ms reads %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });

  it('prints what parseDuration reads back for whole units', () => {
    for (const text of ['30d', '12h', '1d 12h', '5m 12s', '45s']) {
      expect(formatDuration(parseDuration(text, 'x'))).toBe(text);
    }
  });
});
