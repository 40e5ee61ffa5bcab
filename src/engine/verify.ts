/**
 * Verification. Quick: the stored object is present, its size and SHA-256 match the manifest.
 * Deep: also decrypt, decompress and parse the whole archive (structure, each collection's CRC-64,
 * per-namespace counts) — proof that the backup restores, without a server (docs/REFERENCE.md#verify).
 * An incremental is verified with its whole chain on the target: every link from the base present,
 * intact and starting where its parent ended; deep, every link's oplog is parsed and must cover
 * exactly the range its manifest records (docs/PITR.md).
 */
import { pipeline } from 'node:stream/promises';
import { Writable, type Transform } from 'node:stream';
import { ArchiveInspector, type ArchiveSummary, type InspectorOptions } from '../archive/inspector.js';
import { compareTimestamps, formatTimestamp, OplogRecorder } from '../pitr/oplog.js';
import { createDecryptStream, type DecryptKeys } from '../crypto/index.js';
import { BackupError, ErrorCodes, toBackupError } from '../errors.js';
import type { Target } from '../targets/types.js';
import { createDecompressor } from './compression.js';
import { ByteCounter } from '../streams.js';
import { HashingStream } from './hash.js';
import type { Manifest } from './manifest.js';
import type { EngineEvents } from './events.js';
import { chainPosition, manifestsOn } from './catalog.js';
import { checkRecordedLock, describeLockLoss, type LockCheck } from './object-lock.js';

/** Reads the stored object once and checks its size and SHA-256. Throws exit-3 errors on mismatch. */
export async function verifyStoredObject(
  target: Target,
  key: string,
  expectedSize: number,
  expectedChecksum: string,
  signal?: AbortSignal,
  onBytes?: (bytes: number) => void,
): Promise<void> {
  await checkStoredSize(target, key, expectedSize);
  const hash = new HashingStream(onBytes);
  await pipeline(await target.load(key, signal ? { signal } : {}), hash, discard(), signal ? { signal } : {});
  if (hash.digest() !== expectedChecksum) {
    throw new BackupError(ErrorCodes.CHECKSUM_MISMATCH, `${key} on ${target.name}: SHA-256 does not match the manifest`, {
      hint: 'the copy is damaged; use another copy (--from) or another backup',
    });
  }
}

/** The stored object is there and has the manifest's size: a cut copy fails before any byte is used. */
export async function checkStoredSize(target: Target, key: string, expectedSize: number): Promise<void> {
  const info = await target.stat(key);
  if (info.size !== expectedSize) {
    throw new BackupError(ErrorCodes.CHECKSUM_MISMATCH, `${key} on ${target.name} has ${info.size} bytes, the manifest says ${expectedSize}`, {
      hint: 'the copy is damaged or truncated; use another copy (--from) or another backup',
    });
  }
}

export function discard(): Writable {
  return new Writable({
    highWaterMark: 1024 * 1024,
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

/**
 * How much a decode proves.
 * - `full` (verify --deep, cat): SHA-256 of the stored and of the plain bytes, and the archive
 *   inspector (structure, each collection's CRC-64, counts).
 * - `restore`: what keeps unproven bytes away from mongorestore and nothing it would repeat. An
 *   encrypted object bound to its manifest (salt) is authenticated chunk by chunk (AES-GCM, the
 *   last chunk flagged, so a cut is caught too); otherwise the stored SHA-256 is computed again.
 *   zstd checks each frame's own checksum and mongorestore each collection's CRC-64; restore then
 *   counts the documents on the server. The plain SHA-256 and CRC-64 here would cost more CPU than
 *   decompression itself and prove nothing new (docs/PERFORMANCE.md).
 */
export type DecodeChecks = 'full' | 'restore';

/** The stages that turn a stored object back into the plain archive, with the chosen checks. */
export interface DecodeStages {
  stages: Transform[];
  /** The archive inspector, in `full` decodes. */
  inspector?: ArchiveInspector;
  /** Call after the pipeline finished: throws if a checksum computed on the way disagrees. */
  check(): void;
}

/**
 * True when every stored byte is authenticated as it is read and the object is known to be this
 * backup's: an encrypted object whose salt the manifest records. Such an object needs no SHA-256
 * pass before a restore; the size is still checked up front (checkStoredSize).
 */
export function authenticatedWhileRead(manifest: Manifest): boolean {
  return manifest.encrypted && typeof manifest.encryption?.salt === 'string';
}

export function decodeStages(
  manifest: Manifest,
  keys: DecryptKeys,
  onPlainBytes?: (bytes: number) => void,
  checks: DecodeChecks = 'full',
  watch?: InspectorOptions['watch'],
): DecodeStages {
  const full = checks === 'full';
  const storedHash = full || !authenticatedWhileRead(manifest) ? new HashingStream() : undefined;
  const stages: Transform[] = storedHash ? [storedHash] : [];
  if (manifest.encrypted) {
    const salt = manifest.encryption?.salt;
    stages.push(createDecryptStream(keys, salt ? { expectedSalt: salt } : {}));
  }
  stages.push(createDecompressor(manifest.compression.algorithm));
  const inspector = full ? new ArchiveInspector(watch ? { watch } : {}) : undefined;
  const plainHash = full ? new HashingStream(onPlainBytes) : undefined;
  if (inspector && plainHash) stages.push(inspector, plainHash);
  else stages.push(new ByteCounter(onPlainBytes));
  return {
    stages,
    ...(inspector ? { inspector } : {}),
    check() {
      if (storedHash && storedHash.digest() !== manifest.checksum) {
        throw new BackupError(ErrorCodes.CHECKSUM_MISMATCH, `backup ${manifest.id}: SHA-256 of the stored object does not match the manifest`);
      }
      if (plainHash && manifest.archiveChecksum && plainHash.digest() !== manifest.archiveChecksum) {
        throw new BackupError(ErrorCodes.CHECKSUM_MISMATCH, `backup ${manifest.id}: SHA-256 of the archive does not match the manifest`);
      }
    },
  };
}

/** Compares archive counts with the manifest's; returns human-readable differences. */
export function compareCounts(expected: Record<string, number>, actual: Record<string, number>): string[] {
  const issues: string[] = [];
  for (const [ns, count] of Object.entries(expected)) {
    if (!(ns in actual)) issues.push(`namespace ${ns} is missing from the archive (manifest: ${count} documents)`);
    else if (actual[ns] !== count) issues.push(`namespace ${ns} has ${actual[ns]} documents, the manifest says ${count}`);
  }
  for (const ns of Object.keys(actual)) {
    if (!(ns in expected)) issues.push(`namespace ${ns} is in the archive but not in the manifest`);
  }
  return issues;
}

export interface VerifyResult {
  backupId: string;
  target: string;
  deep: boolean;
  valid: boolean;
  issues: string[];
  /** The first failure, typed, when not valid (decides the exit code). */
  error?: BackupError;
  summary?: ArchiveSummary;
  /** Incrementals: the links checked, from the base to this one. */
  chain?: string[];
  /** A copy whose manifest records an Object Lock: whether it is still on the archive object. */
  lock?: LockCheck;
}

export interface VerifyOptions {
  deep: boolean;
  keys: DecryptKeys;
  signal: AbortSignal;
  events?: EngineEvents;
}

/** Verifies one copy; an incremental together with every link of its chain on that target. */
export async function verifyBackup(target: Target, manifest: Manifest, options: VerifyOptions): Promise<VerifyResult> {
  return manifest.type === 'INCREMENTAL' ? verifyChainTo(target, manifest, options) : verifyLinkOnce(target, manifest, options);
}

/**
 * Copies already checked, per opened target object (a command opens its targets once and closes
 * them at the end, so this lasts one run): `verify --all` reads each chain's base and links once,
 * not once per incremental that depends on them.
 */
const checkedLinks = new WeakMap<Target, Map<string, VerifyResult>>();

async function verifyLinkOnce(target: Target, manifest: Manifest, options: VerifyOptions): Promise<VerifyResult> {
  const cache = checkedLinks.get(target) ?? new Map<string, VerifyResult>();
  checkedLinks.set(target, cache);
  const key = `${manifest.id}\u0000${options.deep}`;
  const known = cache.get(key);
  if (known) return known;
  const result = await verifyLink(target, manifest, options);
  cache.set(key, result);
  return result;
}

async function verifyChainTo(target: Target, manifest: Manifest, options: VerifyOptions): Promise<VerifyResult> {
  const result: VerifyResult = { backupId: manifest.id, target: target.name, deep: options.deep, valid: true, issues: [] };
  const invalid = (error: BackupError, prefix = ''): void => {
    result.valid = false;
    result.issues.push(`${prefix}${error.message}`);
    result.error ??= error;
  };
  const manifests = await manifestsOn(target);
  const byId = new Map(manifests.map((m) => [m.id, m]));
  const position = chainPosition(manifests, manifest.id) ?? { links: [manifest.id], intact: false, broken: `${manifest.id} is in no chain on ${target.name}` };
  result.chain = position.links;
  if (!position.intact) {
    invalid(
      new BackupError(ErrorCodes.INTEGRITY, `the chain of ${manifest.id} on ${target.name} is broken, ${position.broken}`, {
        hint: 'the moments after the gap cannot be restored from this target; take a full backup to start a new chain, or replicate the missing link from another target',
      }),
    );
  }
  for (const id of position.links) {
    const link = id === manifest.id ? manifest : byId.get(id);
    if (!link) continue;
    const checked = await verifyLinkOnce(target, link, options);
    if (id === manifest.id && checked.summary) result.summary = checked.summary;
    if (checked.valid) continue;
    for (const [i, issue] of checked.issues.entries()) {
      const error = i === 0 && checked.error ? checked.error : new BackupError(ErrorCodes.INTEGRITY, issue);
      invalid(new BackupError(error.code, issue, error.hint ? { hint: error.hint } : {}), id === manifest.id ? '' : `link ${id}: `);
    }
  }
  return result;
}

/** Checks one backup on its own: quick (size, SHA-256) or deep (parsed, counts, oplog range). */
async function verifyLink(target: Target, manifest: Manifest, options: VerifyOptions): Promise<VerifyResult> {
  const key = `${manifest.id}/${manifest.object}`;
  const result: VerifyResult = { backupId: manifest.id, target: target.name, deep: options.deep, valid: true, issues: [] };
  const fail = (error: unknown): VerifyResult => {
    const e = toBackupError(error);
    if (e.code === ErrorCodes.INTERRUPTED || options.signal.aborted) throw e;
    result.valid = false;
    result.issues.push(e.message);
    result.error ??= e;
    return result;
  };
  try {
    const lock = await checkRecordedLock(target, manifest);
    if (lock) result.lock = lock;
    // A weakened lock does not damage the data, but the copy is no longer what its manifest
    // promises (undeletable until a date): reported as an integrity failure, the data still checked.
    if (lock && !lock.intact) {
      fail(new BackupError(ErrorCodes.INTEGRITY, `${key} on ${target.name}: ${describeLockLoss(lock)}`, {
        hint: 'someone with s3:BypassGovernanceRetention (GOVERNANCE mode) changed it, or the server does not keep locks; the copy can now be deleted: replicate it to a locked target',
      }));
    }
    if (!options.deep) {
      await verifyStoredObject(target, key, manifest.storedSize, manifest.checksum, options.signal, (b) =>
        options.events?.progress?.('verify', b, manifest.storedSize),
      );
      return result;
    }
    const info = await target.stat(key);
    if (info.size !== manifest.storedSize) {
      return fail(new BackupError(ErrorCodes.CHECKSUM_MISMATCH, `${key} on ${target.name} has ${info.size} bytes, the manifest says ${manifest.storedSize}`));
    }
    const recorder = manifest.oplog ? new OplogRecorder() : undefined;
    const watch = recorder ? { namespace: oplogNamespace(manifest), document: recorder.document } : undefined;
    const decode = decodeStages(manifest, options.keys, (b) => options.events?.progress?.('verify', b, manifest.size), 'full', watch);
    await pipeline([await target.load(key, { signal: options.signal }), ...decode.stages, discard()], { signal: options.signal });
    decode.check();
    result.summary = decode.inspector!.summary();
    const countIssues = compareCounts(manifest.namespaces, result.summary.namespaces);
    if (countIssues.length > 0) {
      return fail(new BackupError(ErrorCodes.COUNT_MISMATCH, `backup ${manifest.id}: ${countIssues.join('; ')}`));
    }
    const oplogIssues = recorder ? compareOplog(manifest, recorder) : [];
    if (oplogIssues.length > 0) {
      return fail(new BackupError(ErrorCodes.ARCHIVE_CORRUPT, `backup ${manifest.id}: ${oplogIssues.join('; ')}`));
    }
    return result;
  } catch (error) {
    return fail(error);
  }
}

/** The archive namespace holding a backup's oplog: a full dump's own, or an incremental's slice (docs/PITR.md). */
function oplogNamespace(manifest: Manifest): string {
  return manifest.type === 'FULL' ? 'oplog' : 'local.oplog.rs';
}

/**
 * The parsed oplog against the manifest's range: entries in timestamp order, as many as recorded;
 * a full's first and last entry are `from` and `to`; an incremental's lie after `from` (its
 * parent's last) and end at `to`, and an empty slice has `from` = `to`.
 */
export function compareOplog(manifest: Manifest, recorder: OplogRecorder): string[] {
  const range = manifest.oplog!;
  const issues: string[] = [];
  if (recorder.disorder) issues.push(`the oplog is out of order: ${recorder.disorder}`);
  if (recorder.entries !== range.entries) issues.push(`the archive holds ${recorder.entries} oplog entries, the manifest says ${range.entries}`);
  const recorded = recorder.recorded();
  const span = `${formatTimestamp(range.from)} – ${formatTimestamp(range.to)}`;
  if (!recorded) {
    if (manifest.type === 'FULL' || compareTimestamps(range.from, range.to) !== 0) issues.push(`the archive holds no oplog entry, the manifest records ${span}`);
    return issues;
  }
  const first = formatTimestamp(recorded.first.ts);
  const last = formatTimestamp(recorded.last.ts);
  const startsRight = manifest.type === 'FULL' ? compareTimestamps(recorded.first.ts, range.from) === 0 : compareTimestamps(recorded.first.ts, range.from) > 0;
  if (!startsRight) issues.push(`its oplog starts at ${first}, the manifest records ${span}`);
  if (compareTimestamps(recorded.last.ts, range.to) !== 0) issues.push(`its oplog ends at ${last}, the manifest records ${span}`);
  return issues;
}
