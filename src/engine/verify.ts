/**
 * Verification. Quick: the stored object is present, its size and SHA-256 match the manifest.
 * Deep: also decrypt, decompress and parse the whole archive (structure, each collection's CRC-64,
 * per-namespace counts) — proof that the backup restores, without a server (docs/REFERENCE.md#verify).
 */
import { pipeline } from 'node:stream/promises';
import { Writable, type Transform } from 'node:stream';
import { ArchiveInspector, type ArchiveSummary } from '../archive/inspector.js';
import { createDecryptStream, type DecryptKeys } from '../crypto/index.js';
import { BackupError, ErrorCodes, toBackupError } from '../errors.js';
import type { Target } from '../targets/types.js';
import { createDecompressor } from './compression.js';
import { ByteCounter } from '../streams.js';
import { HashingStream } from './hash.js';
import type { Manifest } from './manifest.js';
import type { EngineEvents } from './events.js';

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

export function decodeStages(manifest: Manifest, keys: DecryptKeys, onPlainBytes?: (bytes: number) => void, checks: DecodeChecks = 'full'): DecodeStages {
  const full = checks === 'full';
  const storedHash = full || !authenticatedWhileRead(manifest) ? new HashingStream() : undefined;
  const stages: Transform[] = storedHash ? [storedHash] : [];
  if (manifest.encrypted) {
    const salt = manifest.encryption?.salt;
    stages.push(createDecryptStream(keys, salt ? { expectedSalt: salt } : {}));
  }
  stages.push(createDecompressor(manifest.compression.algorithm));
  const inspector = full ? new ArchiveInspector() : undefined;
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
}

export async function verifyBackup(
  target: Target,
  manifest: Manifest,
  options: { deep: boolean; keys: DecryptKeys; signal: AbortSignal; events?: EngineEvents },
): Promise<VerifyResult> {
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
    const decode = decodeStages(manifest, options.keys, (b) => options.events?.progress?.('verify', b, manifest.size));
    await pipeline([await target.load(key, { signal: options.signal }), ...decode.stages, discard()], { signal: options.signal });
    decode.check();
    result.summary = decode.inspector!.summary();
    const countIssues = compareCounts(manifest.namespaces, result.summary.namespaces);
    if (countIssues.length > 0) {
      return fail(new BackupError(ErrorCodes.COUNT_MISMATCH, `backup ${manifest.id}: ${countIssues.join('; ')}`));
    }
    return result;
  } catch (error) {
    return fail(error);
  }
}
