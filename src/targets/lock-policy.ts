/**
 * A target's `objectLock:` setting (docs/TARGETS.md#object-lock) as plain data, without any SDK:
 * the factory reads it, the engine and health compare it with the retention policy. The S3 calls
 * that apply and read locks live in s3-lock.ts.
 */
import { formatDuration } from '../duration.js';
import type { RetentionPolicy } from '../retention/policy.js';
import type { ObjectLockMode, ObjectLockPolicy, ObjectLockState, TargetConfigBase } from './types.js';
import { configError } from './util.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const MODES: readonly ObjectLockMode[] = ['COMPLIANCE', 'GOVERNANCE'];

/** The `objectLock: { mode, days }` block of a target, checked; undefined when absent. */
export function readObjectLockConfig(config: TargetConfigBase): ObjectLockPolicy | undefined {
  const block = config['objectLock'] as { mode?: unknown; days?: unknown } | undefined;
  if (block === undefined) return undefined;
  const mode = typeof block.mode === 'string' ? block.mode.toUpperCase() : undefined;
  if (!mode || !MODES.includes(mode as ObjectLockMode)) throw configError('objectLock.mode', `must be ${MODES.join(' or ')}`, config.name);
  const days = block.days;
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 1) throw configError('objectLock.days', 'must be a whole number of days, at least 1', config.name);
  return { mode: mode as ObjectLockMode, days };
}

/** When an object written at `createdAt` is locked until: whole seconds, as S3 stores it, never earlier. */
export function retainUntilFor(policy: ObjectLockPolicy, createdAt: Date): Date {
  return new Date(Math.ceil((createdAt.getTime() + policy.days * DAY_MS) / 1000) * 1000);
}

/** True while the lock forbids deleting the object at `now`. */
export function isLockActive(lock: ObjectLockState | undefined, now: Date): lock is ObjectLockState {
  return lock !== undefined && lock.retainUntil.getTime() > now.getTime();
}

export function describeLock(lock: { mode: string; retainUntil: Date | string }): string {
  const until = typeof lock.retainUntil === 'string' ? lock.retainUntil : lock.retainUntil.toISOString();
  return `locked until ${until.replace('T', ' ').replace(/\.\d+Z$/, 'Z')} (${lock.mode})`;
}

/**
 * Where the lock and the retention policy disagree, for people (prune --dry-run, health):
 * - a lock shorter than `minAge`: after the lock ends, a backup retention still guarantees can be
 *   deleted by anyone holding the host's credentials, so the protection is shorter than intended;
 * - a lock longer than `maxAge`: prune cannot delete backups when retention says so; they stay
 *   (and are billed) until their lock ends.
 */
export function lockRetentionConflicts(lock: ObjectLockPolicy, retention: RetentionPolicy): string[] {
  const lockMs = lock.days * DAY_MS;
  const problems: string[] = [];
  if (retention.minAgeMs !== undefined && retention.minAgeMs > lockMs) {
    problems.push(`objectLock.days ${lock.days} is shorter than retention minAge ${formatDuration(retention.minAgeMs)}: backups retention still guarantees can be deleted once their lock ends`);
  }
  if (retention.maxAgeMs !== undefined && retention.maxAgeMs > 0 && retention.maxAgeMs < lockMs) {
    problems.push(`objectLock.days ${lock.days} is longer than retention maxAge ${formatDuration(retention.maxAgeMs)}: prune cannot delete backups older than maxAge until their lock ends`);
  }
  return problems;
}
