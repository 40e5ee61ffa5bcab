/** Removing backups: manifest first, so a half-deleted backup is never listed as COMPLETED (docs/REFERENCE.md#storage-layout). */
import { isNotFound } from '../errors.js';
import type { Target } from '../targets/types.js';
import { MANIFEST_FILE } from './manifest.js';

/** Removes every object of backup `id` on one target; returns how many objects were removed. */
export async function removeBackup(target: Target, id: string): Promise<number> {
  let removed = 0;
  try {
    await target.remove(`${id}/${MANIFEST_FILE}`);
    removed++;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const keys: string[] = [];
  for await (const object of target.list(`${id}/`)) keys.push(object.key);
  for (const key of keys) {
    try {
      await target.remove(key);
      removed++;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  return removed;
}

/** Best-effort removal on several targets (used to clean up a failed run). */
export async function removeBackupEverywhere(targets: Target[], id: string): Promise<void> {
  await Promise.all(targets.map((t) => removeBackup(t, id).catch(() => 0)));
}
