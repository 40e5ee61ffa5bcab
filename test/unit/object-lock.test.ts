// The pure part of Object Lock (docs/TARGETS.md#object-lock): the `objectLock` setting as the S3
// factory checks it, when a lock ends, and where a lock and the retention policy disagree. The
// server side is proven in test/integration/object-lock.test.ts.
import { describe, expect, it } from 'vitest';
import { BackupError } from '../../src/errors.js';
import { createTarget } from '../../src/targets/registry.js';
import { lockRetentionConflicts, retainUntilFor } from '../../src/targets/lock-policy.js';

const DAY = 24 * 3_600_000;
const s3 = (objectLock: unknown) => ({ name: 'vault', type: 's3', bucket: 'b', endpoint: 'http://127.0.0.1:9', objectLock });

function configFailure(build: () => unknown): BackupError {
  try {
    build();
  } catch (error) {
    if (error instanceof BackupError) return error;
    throw error;
  }
  throw new Error('no error');
}

describe('objectLock setting', () => {
  it('declares the configured lock as the target capability, mode in any case', async () => {
    const target = createTarget(s3({ mode: 'governance', days: 7 }));
    expect(target.capabilities.objectLock).toEqual({ mode: 'GOVERNANCE', days: 7 });
    expect(typeof target.capabilities.removeHiddenVersions).toBe('function');
    await target.close();
    const plain = createTarget({ name: 'p', type: 's3', bucket: 'b', endpoint: 'http://127.0.0.1:9' });
    expect(plain.capabilities.objectLock).toBeUndefined();
    expect(plain.capabilities.removeHiddenVersions).toBeUndefined();
    await plain.close();
  });

  it.each([
    [{ mode: 'FOREVER', days: 7 }, 'targets.vault.objectLock.mode must be COMPLIANCE or GOVERNANCE'],
    [{ days: 7 }, 'targets.vault.objectLock.mode must be COMPLIANCE or GOVERNANCE'],
    [{ mode: 'COMPLIANCE', days: 0 }, 'targets.vault.objectLock.days must be a whole number of days, at least 1'],
    [{ mode: 'COMPLIANCE', days: 1.5 }, 'targets.vault.objectLock.days must be a whole number'],
    [{ mode: 'COMPLIANCE' }, 'targets.vault.objectLock.days must be a whole number of days, at least 1'],
  ])('refuses %j with exit 2, naming the key', (objectLock, message) => {
    const error = configFailure(() => createTarget(s3(objectLock)));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(message);
  });
});

describe('lock dates and retention', () => {
  it('locks until creation + days, rounded up to the whole second S3 keeps', () => {
    const created = new Date('2026-03-01T10:00:00.250Z');
    expect(retainUntilFor({ mode: 'COMPLIANCE', days: 30 }, created).toISOString()).toBe('2026-03-31T10:00:01.000Z');
    expect(retainUntilFor({ mode: 'COMPLIANCE', days: 1 }, new Date('2026-03-01T10:00:00.000Z')).toISOString()).toBe('2026-03-02T10:00:00.000Z');
  });

  it('calls out a lock shorter than minAge and one longer than maxAge, and nothing when they agree', () => {
    const lock = { mode: 'COMPLIANCE' as const, days: 30 };
    expect(lockRetentionConflicts(lock, { keepDaily: 7, minAgeMs: 30 * DAY, maxAgeMs: 90 * DAY })).toEqual([]);
    expect(lockRetentionConflicts(lock, { minAgeMs: 45 * DAY })).toEqual([
      'objectLock.days 30 is shorter than retention minAge 45d: backups retention still guarantees can be deleted once their lock ends',
    ]);
    expect(lockRetentionConflicts(lock, { maxAgeMs: 14 * DAY })).toEqual([
      'objectLock.days 30 is longer than retention maxAge 14d: prune cannot delete backups older than maxAge until their lock ends',
    ]);
  });
});
