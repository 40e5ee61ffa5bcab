/**
 * The backup manifest (docs/REFERENCE.md#manifest): written last, as `<id>/manifest.json`; a folder without one is an
 * incomplete backup. Validated on read so a damaged manifest is reported, never half-trusted.
 */
import { BackupError, ErrorCodes } from '../errors.js';
import type { OplogRange } from '../pitr/chain.js';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 1;

export type BackupType = 'FULL' | 'INCREMENTAL';
export type BackupStatus = 'COMPLETED' | 'FAILED' | 'INCOMPLETE';
export type CompressionAlgorithm = 'zstd' | 'gzip' | 'none';

export interface ManifestEncryption {
  algorithm: string;
  formatVersion: number;
  mode: 'symmetric' | 'recipients';
  chunkSize: number;
  keyFingerprint?: string;
  recipients?: string[];
  /** The encrypted object's salt (hex), absent in manifests made before it was recorded. */
  salt?: string;
}

export interface Manifest {
  manifestFormat: number;
  id: string;
  type: BackupType;
  status: BackupStatus;
  /** Plain mongodump archive bytes. */
  size: number;
  /** Bytes of the stored object (compressed, encrypted). */
  storedSize: number;
  /** Name of the archive object inside the backup folder, e.g. dump.archive.zst.enc */
  object: string;
  compression: { algorithm: CompressionAlgorithm; level?: number };
  encrypted: boolean;
  encryption: ManifestEncryption | null;
  /** `sha256:<hex>` of the stored object. */
  checksum: string;
  /** `sha256:<hex>` of the plain archive (lets cat/restore prove end-to-end integrity). */
  archiveChecksum: string;
  startTime: string;
  endTime: string;
  /** Milliseconds. */
  duration: number;
  description: string;
  triggeredBy: string;
  source: { host: string; serverVersion?: string; database?: string; collection?: string };
  tool: { name: 'mongo-backup'; version: string; mongodump?: string };
  /** `{"db.coll": documentCount}` */
  namespaces: Record<string, number>;
  /** Incrementals: the previous link of the chain, which this one continues (docs/PITR.md). */
  parent?: string;
  /** Incrementals: the chain's full backup. */
  base?: string;
  /** The oplog the backup holds: a full backup's own dump window, an incremental's slice. */
  oplog?: OplogRange;
  /** Whether the backup starts or continues a point-in-time chain; when false, `pointInTimeReason` says why. */
  pointInTime?: boolean;
  pointInTimeReason?: string;
  /** This copy was read back and its SHA-256 checked before the manifest was written. */
  verified?: boolean;
  /**
   * The S3 Object Lock this copy's archive object carries, as read back from the server after the
   * upload (docs/REFERENCE.md#manifest, docs/TARGETS.md#object-lock). Per copy: each target's manifest records its own.
   */
  objectLock?: ManifestLock;
}

export interface ManifestLock {
  mode: 'COMPLIANCE' | 'GOVERNANCE';
  /** ISO time the archive object stays undeletable until. */
  retainUntil: string;
}

/** Validates the parsed JSON of a manifest; throws INTEGRITY errors naming the bad field. */
export function validateManifest(value: unknown, where: string): Manifest {
  const fail = (problem: string): never => {
    throw new BackupError(ErrorCodes.INTEGRITY, `manifest ${where} is invalid: ${problem}`, {
      hint: 'the backup cannot be trusted; restore another backup or another copy (--from)',
    });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('not a JSON object');
  const m = value as Record<string, unknown>;
  const str = (k: string): void => {
    if (typeof m[k] !== 'string') fail(`field "${k}" must be a string`);
  };
  const num = (k: string): void => {
    if (typeof m[k] !== 'number' || !Number.isFinite(m[k]) || (m[k] as number) < 0) fail(`field "${k}" must be a non-negative number`);
  };
  ['id', 'type', 'status', 'object', 'checksum', 'startTime', 'endTime'].forEach(str);
  ['size', 'storedSize', 'duration'].forEach(num);
  if (!/^sha256:[0-9a-f]{64}$/.test(m.checksum as string)) fail('checksum must be sha256:<64 hex>');
  if (!['FULL', 'INCREMENTAL'].includes(m.type as string)) fail(`unknown type "${String(m.type)}"`);
  if (typeof m.encrypted !== 'boolean') fail('field "encrypted" must be true or false');
  if (m.encrypted && (typeof m.encryption !== 'object' || m.encryption === null)) fail('encrypted but no "encryption" block');
  const salt = (m.encryption as { salt?: unknown } | null | undefined)?.salt;
  if (salt !== undefined && (typeof salt !== 'string' || !/^[0-9a-f]{64}$/.test(salt))) fail('encryption.salt must be 64 hex digits');
  const compression = m.compression as { algorithm?: unknown } | undefined;
  if (!compression || !['zstd', 'gzip', 'none'].includes(compression.algorithm as string)) fail('unknown compression');
  const ns = m.namespaces;
  if (typeof ns !== 'object' || ns === null || Array.isArray(ns)) fail('field "namespaces" must be an object');
  for (const [name, count] of Object.entries(ns as Record<string, unknown>)) {
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) fail(`namespace "${name}" has a bad count`);
  }
  if (typeof m.object === 'string' && (m.object.includes('/') || m.object.includes('..'))) fail('bad object name');
  if (m.oplog !== undefined) validateOplogRange(m.oplog, fail);
  if (m.objectLock !== undefined) validateLock(m.objectLock, fail);
  if (m.type === 'INCREMENTAL' && (typeof m.parent !== 'string' || typeof m.base !== 'string' || m.oplog === undefined)) {
    fail('an incremental needs "parent", "base" and "oplog"');
  }
  return value as Manifest;
}

function validateLock(value: unknown, fail: (problem: string) => never): void {
  const lock = (value ?? {}) as Record<string, unknown>;
  if (lock.mode !== 'COMPLIANCE' && lock.mode !== 'GOVERNANCE') fail('objectLock.mode must be COMPLIANCE or GOVERNANCE');
  if (typeof lock.retainUntil !== 'string' || Number.isNaN(Date.parse(lock.retainUntil))) fail('objectLock.retainUntil must be an ISO time');
}

function validateOplogRange(value: unknown, fail: (problem: string) => never): void {
  const range = value as Record<string, unknown> | null;
  if (typeof range !== 'object' || range === null) fail('field "oplog" must be an object');
  const isTimestamp = (ts: unknown): boolean => {
    const { t, i } = (ts ?? {}) as Record<string, unknown>;
    return Number.isInteger(t) && Number.isInteger(i) && (t as number) >= 0 && (i as number) >= 0;
  };
  if (!isTimestamp(range!.from) || !isTimestamp(range!.to)) fail('oplog.from and oplog.to must be {t, i} timestamps');
  for (const key of ['fromTime', 'toTime']) {
    if (typeof range![key] !== 'string' || Number.isNaN(Date.parse(range![key] as string))) fail(`oplog.${key} must be an ISO time`);
  }
  if (!Number.isInteger(range!.entries) || (range!.entries as number) < 0) fail('oplog.entries must be a whole number');
}

export function parseManifest(text: string, where: string): Manifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new BackupError(ErrorCodes.INTEGRITY, `manifest ${where} is not valid JSON: ${(error as Error).message}`);
  }
  return validateManifest(parsed, where);
}

export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** The archive object's name shows compression and encryption (docs/REFERENCE.md#storage-layout). */
export function archiveObjectName(compression: CompressionAlgorithm, encrypted: boolean): string {
  const ext = compression === 'zstd' ? '.zst' : compression === 'gzip' ? '.gz' : '';
  return `dump.archive${ext}${encrypted ? '.enc' : ''}`;
}
