/**
 * S3 Object Lock for the S3 target (docs/TARGETS.md#object-lock): the upload parameters that lock
 * a new object, the bucket check, reading an object's lock back, and removing every version of a
 * key. Object Lock requires a versioned bucket, where a plain DeleteObject only adds a delete
 * marker and the data stays (billed); deleting means deleting each version by its VersionId.
 */
import {
  DeleteObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type ChecksumAlgorithm,
  type ObjectLockMode as SdkLockMode,
  type S3Client,
} from '@aws-sdk/client-s3';
import { BackupError, ErrorCodes } from '../errors.js';
import { describeLock, retainUntilFor } from './lock-policy.js';
import type { ObjectLockPolicy, ObjectLockState } from './types.js';

/** What the bucket and key calls need: where, and how to turn an SDK error into a typed one. */
export interface LockContext {
  client: S3Client;
  bucket: string;
  targetName: string;
  toTargetError: (error: unknown, action: string, key?: string) => BackupError;
}

/**
 * Upload parameters that lock the new object (single PUT and multipart alike: lib-storage passes
 * them to CreateMultipartUpload). S3 demands a checksum with a lock; CRC32 is one every
 * S3-compatible server we tried accepts (versitygw 1.8.0).
 */
export function lockUploadParams(policy: ObjectLockPolicy, createdAt: Date): { ObjectLockMode: SdkLockMode; ObjectLockRetainUntilDate: Date; ChecksumAlgorithm: ChecksumAlgorithm } {
  return { ObjectLockMode: policy.mode, ObjectLockRetainUntilDate: retainUntilFor(policy, createdAt), ChecksumAlgorithm: 'CRC32' };
}

/** Refuses (CONFIG_INVALID, exit 2) a bucket without Object Lock: its objects could be deleted at will. */
export async function assertBucketLocks(context: LockContext): Promise<void> {
  let enabled = false;
  try {
    const answer = await context.client.send(new GetObjectLockConfigurationCommand({ Bucket: context.bucket }));
    enabled = answer.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
  } catch (error) {
    if (!isNoLockConfiguration(error)) throw context.toTargetError(error, 'read the bucket Object Lock configuration');
  }
  if (enabled) return;
  throw new BackupError(
    ErrorCodes.CONFIG_INVALID,
    `configuration: targets.${context.targetName}.objectLock is set, but bucket ${context.bucket} does not have Object Lock enabled, so its backups could be deleted`,
    {
      hint: 'Object Lock can only be enabled on a versioned bucket: create the bucket with Object Lock enabled (aws s3api create-bucket --object-lock-enabled-for-bucket), or enable it on an existing versioned bucket (aws s3api put-object-lock-configuration); or remove objectLock from the target',
    },
  );
}

function isNoLockConfiguration(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name ?? '';
  return name === 'ObjectLockConfigurationNotFoundError' || name === 'ObjectLockConfigurationNotFound';
}

/** The lock on the current version of `objectKey` (full key), or undefined when it has none. */
export async function readLock(context: LockContext, objectKey: string, relativeKey: string, versionId?: string): Promise<ObjectLockState | undefined> {
  try {
    const head = await context.client.send(new HeadObjectCommand({ Bucket: context.bucket, Key: objectKey, ...(versionId ? { VersionId: versionId } : {}) }));
    if (!head.ObjectLockMode || !head.ObjectLockRetainUntilDate) return undefined;
    return { mode: head.ObjectLockMode, retainUntil: head.ObjectLockRetainUntilDate };
  } catch (error) {
    throw context.toTargetError(error, `read the lock of ${relativeKey}`, relativeKey);
  }
}

/** One version or delete marker of a key. */
interface KeyVersion {
  key: string;
  versionId: string;
  deleteMarker: boolean;
}

/** Every version and delete marker of exactly `objectKey`. */
async function versionsOf(context: LockContext, objectKey: string, relativeKey: string): Promise<KeyVersion[]> {
  return (await versionsWithPrefix(context, objectKey, relativeKey)).filter((v) => v.key === objectKey);
}

/** Every version and delete marker whose key starts with `prefix`, following the listing's pages. */
async function versionsWithPrefix(context: LockContext, prefix: string, what: string): Promise<KeyVersion[]> {
  const found: KeyVersion[] = [];
  let markers: { KeyMarker?: string; VersionIdMarker?: string } = {};
  for (;;) {
    let page;
    try {
      page = await context.client.send(new ListObjectVersionsCommand({ Bucket: context.bucket, Prefix: prefix, ...markers }));
    } catch (error) {
      throw context.toTargetError(error, `list the versions of ${what}`);
    }
    for (const v of page.Versions ?? []) if (v.Key?.startsWith(prefix) && v.VersionId) found.push({ key: v.Key, versionId: v.VersionId, deleteMarker: false });
    for (const m of page.DeleteMarkers ?? []) if (m.Key?.startsWith(prefix) && m.VersionId) found.push({ key: m.Key, versionId: m.VersionId, deleteMarker: true });
    const next = { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker };
    if (!page.IsTruncated || !next.KeyMarker || (next.KeyMarker === markers.KeyMarker && next.VersionIdMarker === markers.VersionIdMarker)) return found;
    markers = next;
  }
}

/**
 * Deletes every version of `objectKey` and its delete markers, so nothing of it stays stored.
 * Returns false when the key had no data version (only markers, or nothing: the caller reports
 * NotFound). A version still locked makes it throw OBJECT_LOCKED naming the date.
 */
export async function removeAllVersions(context: LockContext, objectKey: string, relativeKey: string): Promise<boolean> {
  const versions = await versionsOf(context, objectKey, relativeKey);
  await deleteInOrder(context, versions, () => relativeKey);
  return versions.some((v) => !v.deleteMarker);
}

/**
 * Deletes every version and delete marker under `prefix` (full key); `targetPrefix` is cut off the
 * keys named in errors. Returns how many went.
 */
export async function removeVersionsUnder(context: LockContext, prefix: string, targetPrefix: string): Promise<number> {
  const versions = await versionsWithPrefix(context, prefix, prefix.slice(targetPrefix.length) || 'the prefix');
  await deleteInOrder(context, versions, (key) => key.slice(targetPrefix.length));
  return versions.length;
}

/**
 * Data versions first, delete markers last: when a locked version refuses, the markers are still
 * there, so what listing shows does not change because of a removal that failed.
 */
async function deleteInOrder(context: LockContext, versions: KeyVersion[], relative: (key: string) => string): Promise<void> {
  const ordered = [...versions.filter((v) => !v.deleteMarker), ...versions.filter((v) => v.deleteMarker)];
  for (const version of ordered) await deleteVersion(context, version.key, relative(version.key), version);
}

async function deleteVersion(context: LockContext, objectKey: string, relativeKey: string, version: KeyVersion): Promise<void> {
  try {
    await context.client.send(new DeleteObjectCommand({ Bucket: context.bucket, Key: objectKey, VersionId: version.versionId }));
  } catch (error) {
    if (!version.deleteMarker && isAccessDenied(error)) {
      const lock = await readLock(context, objectKey, relativeKey, version.versionId).catch(() => undefined);
      if (lock) throw objectLockedError(context.targetName, relativeKey, lock, error);
    }
    throw context.toTargetError(error, `delete a version of ${relativeKey}`, relativeKey);
  }
}

function isAccessDenied(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'AccessDenied' || e?.$metadata?.httpStatusCode === 403;
}

/** OBJECT_LOCKED (exit 1): what the lock prevents, and until when. */
export function objectLockedError(targetName: string, key: string, lock: ObjectLockState, cause?: unknown): BackupError {
  const compliance = lock.mode === 'COMPLIANCE';
  return new BackupError(ErrorCodes.OBJECT_LOCKED, `${key} on target ${targetName} is ${describeLock(lock)}: it cannot be deleted before then`, {
    hint: compliance
      ? 'a COMPLIANCE lock cannot be shortened or removed by anyone, the bucket owner included; prune deletes it after that date'
      : 'a GOVERNANCE lock can only be bypassed by a principal with s3:BypassGovernanceRetention, which the backup host should not have; prune deletes it after that date',
    details: { key, target: targetName, lockMode: lock.mode, retainUntil: lock.retainUntil.toISOString() },
    ...(cause === undefined ? {} : { cause }),
  });
}
