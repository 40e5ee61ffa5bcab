/**
 * The Object Lock part of `health` (docs/TARGETS.md#object-lock), for targets configured with
 * `objectLock`: the newest backup's copy must carry a running lock (one HeadObject per target; a
 * lock removed in GOVERNANCE mode, or a copy written before the lock was configured, shows here),
 * and the lock must agree with the target's retention (not shorter than minAge, not longer than
 * maxAge). `verify --all` checks every copy's recorded lock.
 */
import { toBackupError } from '../errors.js';
import { policyFromConfig, type RetentionConfig, type RetentionDefaults, type RetentionPolicy } from '../retention/policy.js';
import { describeLock, isLockActive, lockRetentionConflicts } from '../targets/lock-policy.js';
import type { Target } from '../targets/types.js';
import type { HealthBackup } from './evaluate.js';

/** What health needs of the configuration to compare locks with retention (structurally ResolvedConfig's). */
export interface LockRetentionConfig {
  targets?: ReadonlyArray<{ name: string; retention?: RetentionConfig }>;
  retentionDefaults?: RetentionDefaults;
}

/** Problems with the target's locks, for people; [] when it has no `objectLock` or all is well. */
export async function lockProblems(target: Target, backups: HealthBackup[], config: LockRetentionConfig, now: Date): Promise<string[]> {
  const policy = target.capabilities.objectLock;
  if (!policy) return [];
  const retention = retentionOf(target.name, config);
  const problems = retention ? lockRetentionConflicts(policy, retention) : [];
  const newest = newestCompleted(backups);
  const object = newest?.manifest?.object;
  if (!newest || !object || !target.capabilities.lockOf) return problems;
  try {
    const lock = await target.capabilities.lockOf(`${newest.id}/${object}`);
    if (!isLockActive(lock, now)) {
      const found = lock ? `its lock ended (${describeLock(lock)})` : 'it carries no lock';
      problems.push(`the newest backup ${newest.id} should be locked (objectLock ${policy.mode}, ${policy.days} days) but ${found}: it can be deleted`);
    }
  } catch (error) {
    problems.push(`the lock of the newest backup ${newest.id} could not be read: ${toBackupError(error).message}`);
  }
  return problems;
}

function newestCompleted(backups: HealthBackup[]): HealthBackup | undefined {
  return backups.filter((b) => b.status === 'COMPLETED').sort((a, b) => b.time.getTime() - a.time.getTime())[0];
}

function retentionOf(name: string, config: LockRetentionConfig): RetentionPolicy | undefined {
  const target = config.targets?.find((t) => t.name === name);
  try {
    return policyFromConfig(target?.retention, config.retentionDefaults ?? {}, `targets.${name}.retention`);
  } catch {
    return undefined; // a bad retention block is prune's error to report, not health's
  }
}
