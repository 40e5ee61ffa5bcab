/**
 * Object Lock in the engine (docs/TARGETS.md#object-lock): reading a copy's lock back after the
 * upload (recorded in its manifest), the lock that stops a deletion, and checking that a recorded
 * lock is still in place. Everything goes through the target's capabilities (`objectLock`,
 * `lockOf`), never through its type.
 */
import { BackupError, ErrorCodes, isNotFound } from '../errors.js';
import { describeLock, isLockActive } from '../targets/lock-policy.js';
import type { ObjectLockState, Target } from '../targets/types.js';
import { MANIFEST_FILE, type Manifest, type ManifestLock } from './manifest.js';

/**
 * The lock the server set on a freshly stored object of a locked target, for its manifest;
 * undefined on a target without `objectLock`. A server that stored the object without the lock
 * asked for fails the copy: a backup promised to be undeletable must not be recorded as one.
 */
export async function readBackLock(target: Target, key: string): Promise<ManifestLock | undefined> {
  const policy = target.capabilities.objectLock;
  if (!policy) return undefined;
  const lock = await target.capabilities.lockOf?.(key);
  if (!lock || (policy.mode === 'COMPLIANCE' && lock.mode !== 'COMPLIANCE')) {
    throw new BackupError(
      ErrorCodes.TARGET_FAILED,
      `${key} on ${target.name} was written with an Object Lock (${policy.mode}, ${policy.days} days), but the server reports ${lock ? describeLock(lock) : 'no lock'}`,
      { hint: 'the server does not enforce Object Lock for this bucket; check that the bucket has Object Lock enabled and that the server supports it' },
    );
  }
  return { mode: lock.mode, retainUntil: lock.retainUntil.toISOString() };
}

/** `manifest` with this copy's lock recorded (or without one, where the target locks nothing). */
export async function withCopyLock(target: Target, manifest: Manifest): Promise<Manifest> {
  const { objectLock: _other, ...rest } = manifest; // a lock read on another target is not this copy's
  const lock = await readBackLock(target, `${manifest.id}/${manifest.object}`);
  return lock ? { ...rest, objectLock: lock } : rest;
}

/**
 * The lock that forbids deleting backup `id` on `target` at `now`, if any. The manifest is written
 * last, so its lock ends last: asking for it alone covers the whole backup. Targets that cannot
 * lock, and backups on unlocked targets with no recorded lock, cost no request.
 */
export async function activeLockOf(target: Target, id: string, manifest: Manifest | undefined, now: Date): Promise<ObjectLockState | undefined> {
  const lockOf = target.capabilities.lockOf;
  if (!lockOf || (!target.capabilities.objectLock && !manifest?.objectLock)) return undefined;
  try {
    const lock = await lockOf(`${id}/${MANIFEST_FILE}`);
    return isLockActive(lock, now) ? lock : undefined;
  } catch (error) {
    if (isNotFound(error)) return undefined; // no manifest: the objects' own locks speak on removal
    throw error;
  }
}

/** The lock of an OBJECT_LOCKED error (a removal refused by a lock found only then). */
export function lockOfError(error: unknown): ObjectLockState | undefined {
  if (!(error instanceof BackupError) || error.code !== ErrorCodes.OBJECT_LOCKED) return undefined;
  const mode = error.details?.['lockMode'];
  const until = error.details?.['retainUntil'];
  if ((mode !== 'COMPLIANCE' && mode !== 'GOVERNANCE') || typeof until !== 'string') return undefined;
  return { mode, retainUntil: new Date(until) };
}

/** Whether the lock a copy's manifest records is still on its archive: same mode (or stricter), not shortened. */
export interface LockCheck {
  recorded: ManifestLock;
  current: { mode: string; retainUntil: string } | null;
  intact: boolean;
}

export async function checkRecordedLock(target: Target, manifest: Manifest): Promise<LockCheck | undefined> {
  const recorded = manifest.objectLock;
  const lockOf = target.capabilities.lockOf;
  if (!recorded || !lockOf) return undefined;
  const current = await lockOf(`${manifest.id}/${manifest.object}`);
  const intact =
    current !== undefined &&
    (current.mode === recorded.mode || current.mode === 'COMPLIANCE') &&
    current.retainUntil.getTime() >= Date.parse(recorded.retainUntil) - 1000; // S3 keeps whole seconds
  return { recorded, current: current ? { mode: current.mode, retainUntil: current.retainUntil.toISOString() } : null, intact };
}

/** For people: what happened to a recorded lock that is no longer intact. */
export function describeLockLoss(check: LockCheck): string {
  const recorded = describeLock(check.recorded);
  return check.current ? `its Object Lock was weakened: recorded ${recorded}, now ${describeLock(check.current)}` : `its Object Lock was removed (recorded ${recorded})`;
}

/** One copy's recorded lock, for list/show (text and JSON). */
export interface CopyLock {
  target: string;
  mode: ManifestLock['mode'];
  retainUntil: string;
}

/** The lock each copy of backup `id` recorded, per target (the catalog's per-target manifests). */
export function copyLocks(byTarget: Array<{ target: string; manifests: Manifest[] }>, id: string): CopyLock[] {
  return byTarget.flatMap(({ target, manifests }) => {
    const lock = manifests.find((m) => m.id === id)?.objectLock;
    return lock ? [{ target, mode: lock.mode, retainUntil: lock.retainUntil }] : [];
  });
}

/** A target name as list shows it: with the copy's lock end when it has one. */
export function targetWithLock(target: string, locks: CopyLock[], now: Date): string {
  const lock = locks.find((l) => l.target === target);
  if (!lock) return target;
  const until = lock.retainUntil.replace(/\.\d+Z$/, 'Z');
  return Date.parse(lock.retainUntil) > now.getTime() ? `${target} (locked until ${until})` : `${target} (lock ended ${until})`;
}
