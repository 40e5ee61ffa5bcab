/** Removing backups: manifest first, so a half-deleted backup is never listed as COMPLETED (docs/REFERENCE.md#storage-layout). */
import { BackupError, ErrorCodes, isNotFound } from '../errors.js';
import { describeLock } from '../targets/lock-policy.js';
import type { Target } from '../targets/types.js';
import { MANIFEST_FILE } from './manifest.js';
import { lockOfError } from './object-lock.js';

/**
 * Removes every object of backup `id` on one target; returns how many objects were removed. A
 * copy under Object Lock is refused with OBJECT_LOCKED naming the date: the manifest is locked
 * longest (written last), so a locked backup loses nothing (docs/TARGETS.md#object-lock).
 */
export async function removeBackup(target: Target, id: string): Promise<number> {
  let removed = 0;
  try {
    await target.remove(`${id}/${MANIFEST_FILE}`);
    removed++;
  } catch (error) {
    if (!isNotFound(error)) throw lockedBackupError(target, id, error);
  }
  const keys: string[] = [];
  for await (const object of target.list(`${id}/`)) keys.push(object.key);
  for (const key of keys) {
    try {
      await target.remove(key);
      removed++;
    } catch (error) {
      if (!isNotFound(error)) throw lockedBackupError(target, id, error);
    }
  }
  // Versioned storage: objects hidden behind a delete marker (a plain delete of a locked object)
  // are not listed above, yet stored and billed; they go too.
  const removeHidden = target.capabilities.removeHiddenVersions;
  if (removeHidden) {
    try {
      removed += await removeHidden(`${id}/`);
    } catch (error) {
      throw lockedBackupError(target, id, error);
    }
  }
  return removed;
}

/** An object's OBJECT_LOCKED error restated for the whole backup; any other error as it is. */
function lockedBackupError(target: Target, id: string, error: unknown): unknown {
  const lock = lockOfError(error);
  if (!lock || !(error instanceof BackupError)) return error;
  return new BackupError(ErrorCodes.OBJECT_LOCKED, `backup ${id} on target ${target.name} is ${describeLock(lock)}: Object Lock forbids deleting it before then`, {
    ...(error.hint ? { hint: error.hint } : {}),
    ...(error.details ? { details: { ...error.details, backupId: id } } : {}),
    cause: error,
  });
}

/** Best-effort removal on several targets (used to clean up a failed run). */
export async function removeBackupEverywhere(targets: Target[], id: string): Promise<void> {
  await Promise.all(targets.map((t) => removeBackup(t, id).catch(() => 0)));
}
