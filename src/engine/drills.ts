/**
 * Drill records (docs/FORMAT.md#drill-records): the proof that a backup restored, stored beside it
 * as `<id>/drills/<UTC time>.json` on the target the drill read, so every host that sees the backup
 * sees its drills. A record names the stored object checksum(s) it restored; a record whose
 * checksum no longer matches the manifest is "not trusted": reported, never counted as proof.
 */
import { BackupError, ErrorCodes, toBackupError } from '../errors.js';
import { bufferBody } from '../targets/body.js';
import type { ObjectInfo, Target } from '../targets/types.js';
import { mapLimit, readAll } from '../streams.js';
import type { Manifest } from './manifest.js';

export const DRILLS_FOLDER = 'drills';
export const DRILL_RECORD_FORMAT = 1;
const MAX_RECORD_BYTES = 1024 * 1024;

/** One stored object the drill restored: a full backup, or each link of a point-in-time chain. */
export interface DrilledObject {
  backupId: string;
  object: string;
  /** `sha256:<hex>` of the stored object, from its manifest, proven while restoring. */
  checksum: string;
  storedSize: number;
  /** Plain archive bytes. */
  size: number;
}

export interface DrillPhases {
  /** Destination check (server, mongorestore version, empty namespaces). */
  checkMs: number;
  /** The SHA-256 pass over the stored object before restoring (0 when chunks are authenticated as read). */
  verifyMs: number;
  /** Read, decrypt, decompress and mongorestore, one streaming pass (index builds included). */
  restoreMs: number;
  /** Index builds, from mongorestore's first "restoring indexes" line to its end, when it logged one. */
  indexesMs?: number;
  /** Document counts of every restored namespace. */
  countMs: number;
  /** Dropping what the drill restored (0 with --keep). */
  dropMs: number;
}

export interface DrillRecord {
  drillFormat: number;
  /** The backup the drill restored (the chain's last link for a point-in-time drill). */
  backupId: string;
  startTime: string;
  endTime: string;
  /** Milliseconds from the start to the end of the counts: what a recovery of this size takes (drop excluded). */
  duration: number;
  host: string;
  tool: { name: 'mongo-backup'; version: string; mongorestore?: string };
  target: string;
  /** Where it restored: the server's hosts, and the prefix of the database names if any. */
  destination: { hosts: string; prefix?: string; scratch: boolean };
  /** Point-in-time drills: the moment asked for (ISO) or "latest". */
  toTime?: string;
  objects: DrilledObject[];
  /** Plain archive bytes restored (the sum over `objects`). */
  bytes: number;
  namespaces: Array<{ source: string; destination: string; expected: number; restored?: number }>;
  phases: DrillPhases;
  parallelism: { collections: number; insertionWorkers: number };
  kept: boolean;
  result: { passed: boolean; code?: string; message?: string };
}

/** A record as read back, with whether it may count as proof. */
export interface DrillView {
  key: string;
  record: DrillRecord;
  trusted: boolean;
  /** Why it is not trusted. */
  distrust?: string;
}

/** A record that could not be read or parsed: reported, never proof. */
export interface UnreadableDrill {
  key: string;
  error: string;
}

/** `2026-12-06T08:01:02.345Z` → `2026-12-06T080102.345Z`: sortable, and no colons (FTP, Windows shares). */
export function drillKey(backupId: string, startTime: string): string {
  return `${backupId}/${DRILLS_FOLDER}/${startTime.replace(/:/g, '')}.json`;
}

/** Whether an object of a backup folder is a drill record (`<id>/drills/<time>.json`). */
export function isDrillKey(key: string): boolean {
  return /^[^/]+\/drills\/[^/]+\.json$/.test(key);
}

export function validateDrillRecord(value: unknown, where: string): DrillRecord {
  const fail = (problem: string): never => {
    throw new BackupError(ErrorCodes.INTEGRITY, `drill record ${where} is invalid: ${problem}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('not a JSON object');
  const r = value as Record<string, unknown>;
  if (r.drillFormat !== DRILL_RECORD_FORMAT) fail(`unknown drillFormat ${String(r.drillFormat)}`);
  for (const k of ['backupId', 'startTime', 'endTime', 'host', 'target']) if (typeof r[k] !== 'string') fail(`field "${k}" must be a string`);
  for (const k of ['duration', 'bytes']) if (typeof r[k] !== 'number' || !Number.isFinite(r[k]) || (r[k] as number) < 0) fail(`field "${k}" must be a non-negative number`);
  if (Number.isNaN(Date.parse(r.startTime as string))) fail('startTime must be an ISO time');
  const objects = r.objects;
  if (!Array.isArray(objects) || objects.length === 0) fail('field "objects" must name the restored objects');
  for (const o of objects as Array<Record<string, unknown>>) {
    if (typeof o?.backupId !== 'string' || typeof o.checksum !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(o.checksum)) fail('each object needs a backupId and a sha256 checksum');
  }
  const result = r.result as Record<string, unknown> | undefined;
  if (typeof result !== 'object' || result === null || typeof result.passed !== 'boolean') fail('field "result.passed" must be true or false');
  if (typeof r.phases !== 'object' || r.phases === null) fail('field "phases" must be an object');
  if (!Array.isArray(r.namespaces)) fail('field "namespaces" must be a list');
  return value as DrillRecord;
}

export function serializeDrillRecord(record: DrillRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

/** Writes the record, then reads it back and validates it: a record that cannot be read back is no proof. */
export async function writeDrillRecord(target: Target, record: DrillRecord): Promise<string> {
  const key = drillKey(record.backupId, record.startTime);
  const text = serializeDrillRecord(record);
  await target.save(key, bufferBody(Buffer.from(text, 'utf8')), { contentType: 'application/json' });
  const back = await readDrillRecord(target, key);
  if (serializeDrillRecord(back) !== text) throw new BackupError(ErrorCodes.INTEGRITY, `drill record ${key} on ${target.name} reads back differently from what was written`);
  return key;
}

export async function readDrillRecord(target: Target, key: string): Promise<DrillRecord> {
  const text = (await readAll(await target.load(key), MAX_RECORD_BYTES)).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new BackupError(ErrorCodes.INTEGRITY, `drill record ${key} on ${target.name} is not valid JSON: ${(error as Error).message}`);
  }
  return validateDrillRecord(parsed, `${key} on ${target.name}`);
}

/**
 * Whether a record proves the copy as it is now: it must be about this backup and every object it
 * restored must still carry the checksum it restored. `manifests` are the target's current
 * manifests by id (a point-in-time drill names every link of its chain).
 */
export function judgeDrill(record: DrillRecord, folderId: string, manifests: ReadonlyMap<string, Pick<Manifest, 'checksum'>>): { trusted: boolean; distrust?: string } {
  if (record.backupId !== folderId) return { trusted: false, distrust: `the record names backup ${record.backupId}, but sits in ${folderId}` };
  for (const object of record.objects) {
    const current = manifests.get(object.backupId);
    if (!current) return { trusted: false, distrust: `backup ${object.backupId}, which it restored, is no longer on this target` };
    if (current.checksum !== object.checksum) {
      return { trusted: false, distrust: `it restored ${object.backupId} with checksum ${object.checksum}; the manifest now says ${current.checksum}` };
    }
  }
  return { trusted: true };
}

/** The drill record keys among a backup folder's objects, newest first (their names sort by time). */
export function drillKeysOf(objects: ObjectInfo[]): string[] {
  return objects
    .map((o) => o.key)
    .filter(isDrillKey)
    .sort()
    .reverse();
}

export interface DrillListing {
  drills: DrillView[];
  unreadable: UnreadableDrill[];
}

/**
 * Reads a backup's drill records on one target, newest first, each judged against the target's
 * manifests. `keys` are the record keys when the caller has listed the folder already; `limit`
 * caps how many are read (health reads only the newest).
 */
export async function listDrillRecords(
  target: Target,
  backupId: string,
  manifests: ReadonlyMap<string, Pick<Manifest, 'checksum'>>,
  options: { keys?: string[]; limit?: number } = {},
): Promise<DrillListing> {
  const keys = options.keys ?? (await drillKeysOn(target, backupId));
  const listing: DrillListing = { drills: [], unreadable: [] };
  for (const key of keys.slice(0, options.limit ?? keys.length)) {
    try {
      const record = await readDrillRecord(target, key);
      listing.drills.push({ key, record, ...judgeDrill(record, backupId, manifests) });
    } catch (error) {
      listing.unreadable.push({ key, error: toBackupError(error).message });
    }
  }
  return listing;
}

async function drillKeysOn(target: Target, backupId: string): Promise<string[]> {
  const objects: ObjectInfo[] = [];
  for await (const object of target.list(`${backupId}/${DRILLS_FOLDER}/`)) objects.push(object);
  return drillKeysOf(objects);
}

/** A drill record flattened for health and list (structurally health's HealthDrill). */
export interface DrillSummary {
  target: string;
  backupId: string;
  time: string;
  passed: boolean;
  trusted: boolean;
  distrust?: string;
  bytes: number;
  durationMs: number;
  code?: string;
  message?: string;
}

export function summarizeDrill(target: string, view: DrillView): DrillSummary {
  const r = view.record;
  return {
    target,
    backupId: r.backupId,
    time: r.startTime,
    passed: r.result.passed,
    trusted: view.trusted,
    ...(view.distrust ? { distrust: view.distrust } : {}),
    bytes: r.bytes,
    durationMs: r.duration,
    ...(r.result.code ? { code: r.result.code } : {}),
    ...(r.result.message ? { message: r.result.message } : {}),
  };
}

/**
 * The newest drill records of every backup a target listed (at most `perBackup` each: the keys are
 * known from the listing, so only records are read), judged against the target's manifests. An
 * unreadable record is a distrusted summary, so it is reported rather than lost.
 */
export async function drillSummariesOn(
  target: Target,
  entries: Array<{ id: string; manifest?: Pick<Manifest, 'checksum'>; objects: ObjectInfo[] }>,
  perBackup = 3,
): Promise<DrillSummary[]> {
  const manifests = new Map(entries.flatMap((e) => (e.manifest ? [[e.id, e.manifest] as const] : [])));
  const drilled = entries.flatMap((entry) => {
    const keys = drillKeysOf(entry.objects);
    return keys.length > 0 ? [{ id: entry.id, keys }] : [];
  });
  const listings = await mapLimit(drilled, RECORD_READS_IN_FLIGHT, ({ id, keys }) => listDrillRecords(target, id, manifests, { keys, limit: perBackup }));
  return listings.flatMap((listing) => listing.drills.map((view) => summarizeDrill(target.name, view)));
}

/** Drill records read at once from one target (one small object each), as the catalog reads manifests. */
const RECORD_READS_IN_FLIGHT = 8;

/** One target's part of the catalog, as drills need it (structurally the catalog's byTarget entries). */
export interface TargetListing {
  target: string;
  manifests: Array<Pick<Manifest, 'id' | 'checksum'>>;
  drillKeys: Record<string, string[]>;
}

function manifestMap(listing: TargetListing): Map<string, Pick<Manifest, 'checksum'>> {
  return new Map(listing.manifests.map((m) => [m.id, m]));
}

/** `show`: every drill record of backup `id` on the given targets, newest first. */
export async function drillsOfBackup(targets: Target[], listings: TargetListing[], id: string): Promise<{ drills: DrillSummary[]; unreadable: Array<UnreadableDrill & { target: string }> }> {
  const drills: DrillSummary[] = [];
  const unreadable: Array<UnreadableDrill & { target: string }> = [];
  for (const target of targets) {
    const listing = listings.find((l) => l.target === target.name);
    const keys = listing?.drillKeys[id];
    if (!listing || !keys) continue;
    const found = await listDrillRecords(target, id, manifestMap(listing), { keys });
    drills.push(...found.drills.map((view) => summarizeDrill(target.name, view)));
    unreadable.push(...found.unreadable.map((u) => ({ ...u, target: target.name })));
  }
  return { drills: drills.sort((a, b) => Date.parse(b.time) - Date.parse(a.time)), unreadable };
}

/** `list`: the newest drill record of each backup, one read per backup and target holding records. */
export async function newestDrillPerBackup(targets: Target[], listings: TargetListing[]): Promise<Map<string, DrillSummary>> {
  const newest = new Map<string, DrillSummary>();
  for (const target of targets) {
    const listing = listings.find((l) => l.target === target.name);
    if (!listing) continue;
    const manifests = manifestMap(listing);
    const found = await mapLimit(Object.entries(listing.drillKeys), RECORD_READS_IN_FLIGHT, async ([id, keys]) => ({
      id,
      drills: (await listDrillRecords(target, id, manifests, { keys, limit: 1 })).drills,
    }));
    for (const { id, drills } of found) {
      const summary = drills[0] ? summarizeDrill(target.name, drills[0]) : undefined;
      const current = newest.get(id);
      if (summary && (!current || Date.parse(summary.time) > Date.parse(current.time))) newest.set(id, summary);
    }
  }
  return newest;
}
