// An FTP folder's age comes from its LIST line when the server answers MDTM for files only
// (vsftpd): the time must never come out older than it is, or prune could take a young folder.
import { describe, expect, it } from 'vitest';
import { listedTime } from '../../src/targets/ftp.js';

describe('listedTime', () => {
  const now = new Date('2026-12-06T08:30:00Z');

  it('reads a recent line to the end of its minute, in this year', () => {
    expect(listedTime('Dec 06 06:01', now)?.toISOString()).toBe('2026-12-06T06:01:59.000Z');
    expect(listedTime('Jul  4 23:15', now)?.toISOString()).toBe('2026-07-04T23:15:59.000Z');
  });

  it('puts a date ahead of now into last year (no year is shown for the last six months)', () => {
    expect(listedTime('Dec 31 10:00', new Date('2027-01-02T00:00:00Z'))?.toISOString()).toBe('2026-12-31T10:00:59.000Z');
    expect(listedTime('Dec 20 10:00', now)?.toISOString()).toBe('2025-12-20T10:00:59.000Z');
  });

  it('reads an older line with a year to the end of that day', () => {
    expect(listedTime('Jan 01 2001', now)?.toISOString()).toBe('2001-01-01T23:59:59.000Z');
  });

  it('gives nothing for a form it does not know', () => {
    expect(listedTime('', now)).toBeUndefined();
    expect(listedTime('2026-12-06 06:01', now)).toBeUndefined();
    expect(listedTime('Foo 06 06:01', now)).toBeUndefined();
  });
});
