/**
 * The storage target interface (modelled on restic's Backend and pgBackRest's StorageInterface):
 * a small, stream-based object store. Keys are relative, '/'-separated paths under the target's
 * own prefix (e.g. `backup-2026-02-18-103000-a1b2c3/manifest.json`); the target maps them to its
 * storage. Every implementation passes test/conformance/target-suite.ts.
 */
import type { Readable } from 'node:stream';
import type { RetentionConfig } from '../retention/policy.js';

export interface ObjectInfo {
  /** Key relative to the target's prefix. */
  key: string;
  size: number;
  /** Last modification time, when the storage knows it. */
  modified?: Date;
}

export interface SaveOptions {
  /** Exact size when known in advance (lets some stores skip multipart); usually unknown for dumps. */
  size?: number;
  /** Aborting rejects save() and leaves nothing visible under `key` (temporary parts are removed). */
  signal?: AbortSignal;
  /** Content type hint, e.g. application/json for manifests. */
  contentType?: string;
}

export interface LoadOptions {
  /** Byte range, inclusive start, exclusive end; end omitted = to the end of the object. */
  range?: { start: number; end?: number };
  /**
   * Aborting stops the read: load() rejects, or the stream it gave fails, with the signal's reason
   * (the reason itself, so the caller sees why it stopped, e.g. INTERRUPTED), and the connection
   * or file handle is released.
   */
  signal?: AbortSignal;
}

export interface SaveResult {
  /** Bytes the target received. */
  size: number;
}

/**
 * What a target can do beyond the Target interface, declared as data (after rclone's `Features`):
 * flags callers read, and optional operations present only where the storage supports them.
 * Callers test for an operation (`target.capabilities.space?.()`), never for a method or a type.
 * Every wrapper passes the whole set through with wrapCapabilities(), so a caller holding the
 * wrapped (retrying) target sees exactly what the raw target offers. docs/TARGETS.md describes it.
 */
export interface TargetCapabilities {
  /** Plain FTP or an http:// endpoint: data and credentials cross the network unencrypted. */
  readonly insecureTransport: boolean;
  /** Free space of the file system the target lives on (local targets; health's disk check). */
  readonly space?: () => Promise<SpaceInfo>;
  /**
   * Removes upload leftovers of killed runs (temporary names, pending S3 multipart uploads, and on
   * types with folders the empty folders `options.emptyFolders` accepts) older than `olderThanMs`;
   * returns what went (dry run: what would go), as keys (a folder's with a trailing `/`).
   */
  readonly removeStaleTemporaries?: (olderThanMs: number, options?: TemporaryCleanupOptions) => Promise<string[]>;
  /**
   * The write-once retention every save applies (S3 Object Lock, docs/TARGETS.md#object-lock):
   * present only on a target configured with `objectLock`. Such a target's check() refuses a
   * bucket without Object Lock, and its remove() deletes every version of a key once the lock ended.
   */
  readonly objectLock?: ObjectLockPolicy;
  /** The lock an object carries now (undefined: none); on targets that can lock objects. */
  readonly lockOf?: (key: string) => Promise<ObjectLockState | undefined>;
  /**
   * Deletes every stored version under `prefix` that listing does not show (objects hidden behind
   * a delete marker, and the markers): on versioned storage only (S3 with `objectLock`). A version
   * still locked makes it throw OBJECT_LOCKED. Returns how many versions went.
   */
  readonly removeHiddenVersions?: (prefix: string) => Promise<number>;
}

/** The optional operations of TargetCapabilities (the compile-time check below keeps the list whole). */
export const CAPABILITY_OPERATIONS = ['space', 'removeStaleTemporaries', 'lockOf', 'removeHiddenVersions'] as const;
export type CapabilityOperation = (typeof CAPABILITY_OPERATIONS)[number];
type OperationKeys = { [K in keyof TargetCapabilities]-?: NonNullable<TargetCapabilities[K]> extends (...args: never[]) => unknown ? K : never }[keyof TargetCapabilities];
const everyOperationListed: Exclude<OperationKeys, CapabilityOperation> extends never ? true : never = true;
void everyOperationListed;

/**
 * The capabilities of a wrapped target as its wrapper exposes them: the same flags, and each
 * operation the inner target has, run through `around` (the retry wrapper retries it). An
 * operation the inner target lacks stays absent.
 */
export function wrapCapabilities(
  inner: TargetCapabilities,
  around: <T>(operation: CapabilityOperation, run: () => Promise<T>) => Promise<T>,
): TargetCapabilities {
  const wrapped: Record<string, unknown> = { ...inner };
  for (const operation of CAPABILITY_OPERATIONS) {
    const run = inner[operation] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    if (run) wrapped[operation] = (...args: unknown[]) => around(operation, () => run(...args));
  }
  return wrapped as unknown as TargetCapabilities;
}

export interface Target {
  /** The configured name, e.g. `local`, `offsite`. */
  readonly name: string;
  /** The type, e.g. `local`, `s3`. */
  readonly type: string;
  readonly capabilities: TargetCapabilities;
  /** Human-readable location without secrets, e.g. `s3://bucket/prefix/`. */
  describe(): string;

  /**
   * Stores the stream under `key`, replacing any existing object. Resolves when the object is
   * durable. On failure or abort, nothing is left under `key`.
   */
  save(key: string, body: Readable, options?: SaveOptions): Promise<SaveResult>;
  /** Opens the object for reading. Rejects with NotFoundError when it does not exist. */
  load(key: string, options?: LoadOptions): Promise<Readable>;
  /** Size and time of one object. Rejects with NotFoundError when it does not exist. */
  stat(key: string): Promise<ObjectInfo>;
  /**
   * Every object whose key starts with `prefix` (relative to the target's prefix, '' = all),
   * in no particular order; handles pagination internally.
   */
  list(prefix?: string): AsyncIterable<ObjectInfo>;
  /** Removes one object. Rejects with NotFoundError when it does not exist. */
  remove(key: string): Promise<void>;
  /** Checks that the target is reachable and writable enough to use; throws a typed error otherwise. */
  check(): Promise<void>;
  /** Releases connections (SFTP/FTP sessions, HTTP agents). Safe to call twice. */
  close(): Promise<void>;
}

/** COMPLIANCE: nobody can shorten or remove the lock; GOVERNANCE: holders of s3:BypassGovernanceRetention can. */
export type ObjectLockMode = 'COMPLIANCE' | 'GOVERNANCE';

/** A target's configured `objectLock`: each object is locked until its creation + `days`. */
export interface ObjectLockPolicy {
  mode: ObjectLockMode;
  days: number;
}

/** The lock one object carries, as the storage reports it. */
export interface ObjectLockState {
  mode: ObjectLockMode;
  retainUntil: Date;
}

/** Free space, for local targets' health checks. */
export interface SpaceInfo {
  freeBytes: number;
  totalBytes: number;
}

export interface TemporaryCleanupOptions {
  /** Only name the stale leftovers, remove none (`prune --dry-run`). */
  dryRun?: boolean;
  /**
   * Empty folders whose key this accepts (prune: backup folders) are leftovers too, once older
   * than the grace period: a run killed between creating its folder and its first upload leaves
   * one. Named with a trailing `/`. Without it, no folder is removed for being empty, so a
   * target's root shared with other folders keeps them.
   */
  emptyFolders?: (folderKey: string) => boolean;
}

/**
 * A target's configuration after the key check: the common keys, and its type's own keys as
 * declared in keys.ts (checked there; rules beyond their kinds are checked by each factory).
 */
export interface TargetConfigBase {
  name: string;
  type: string;
  prefix?: string;
  retention?: RetentionConfig;
  /**
   * Why this target cannot be built (its configuration names an unset `${VAR}`). Only the target's
   * own operations fail with it, so other targets keep working on a host without that secret.
   */
  unavailable?: Error;
  [key: string]: unknown;
}

/** A target's `retention:` block; validated by the retention module, where its rules live. */
export type { RetentionConfig } from '../retention/policy.js';

/** A factory validates its config (throwing CONFIG_INVALID errors naming the bad key) and builds a target. */
export interface TargetFactory {
  type: string;
  create(config: TargetConfigBase): Target;
}
