/**
 * `restore` and `cat`: prove the stored copy, then decrypt → decompress → mongorestore (or stdout).
 *
 * No byte reaches mongorestore unproven, and a damaged backup leaves the destination as it was:
 * - An encrypted object bound to its manifest (salt) is authenticated chunk by chunk as it is read.
 *   When every namespace to restore is new at the destination and nothing is dropped, restore
 *   reads it once: a failure half-way is undone by dropping those namespaces again.
 * - Otherwise (--drop, namespaces that exist, unencrypted objects) a SHA-256 pass over the stored
 *   object comes first (skipped only with --no-verify), so nothing is dropped or mixed in for a
 *   backup that turns out damaged.
 * After a restore, each namespace's document count is checked against the manifest. What each
 * decode checks: verify.ts (DecodeChecks).
 */
import { pipeline } from 'node:stream/promises';
import type { Transform, Writable } from 'node:stream';
import { keyFingerprint, recipientFingerprint, recipientOf, type DecryptKeys } from '../crypto/index.js';
import { BackupError, ErrorCodes } from '../errors.js';
import type { ResolvedConfig } from '../config/load.js';
import type { Target } from '../targets/types.js';
import { closeTargets, openTargets, resolveBackup } from './catalog.js';
import type { EngineEvents } from './events.js';
import type { Manifest } from './manifest.js';
import { toolVersion } from './mongo-tools.js';
import { checkpoint, checkpointStage } from './checkpoints.js';
import { runToolPipeline } from './tool-pipeline.js';
import { isSystemNamespace, namespaceArgs, planNamespaces, type NamespaceOptions, type PlannedNamespace } from '../archive/namespaces.js';
import { countRestored, destinationState, hostsOf } from './mongo-server.js';
import { afterFailedRestore, interruptedRestoreError, throwIfInterrupted } from './restore-outcome.js';
import { authenticatedWhileRead, checkStoredSize, decodeStages, verifyStoredObject } from './verify.js';
import { restorePointInTime, type ReplaySummary } from './restore-pitr.js';

export interface RestoreOptions {
  ref: string;
  from?: string;
  uri?: string;
  drop: boolean;
  force: boolean;
  dryRun: boolean;
  verify: boolean;
  /** mongorestore --numParallelCollections. */
  parallel?: number;
  /** mongorestore --numInsertionWorkersPerCollection. */
  insertionWorkers?: number;
  namespaces: NamespaceOptions;
  /** Restore to this moment (ms since the epoch) or to the newest restore point, by replaying a chain (docs/PITR.md). */
  toTime?: number | 'latest';
  signal: AbortSignal;
  events?: EngineEvents;
}

export interface RestoreResult {
  backupId: string;
  restoredAt: string;
  from: string;
  destination: string;
  dryRun: boolean;
  namespaces: Array<PlannedNamespace & { restored?: number; checked: boolean }>;
  warnings: string[];
  /** A point-in-time restore: the chain replayed and where the replay stopped. */
  pointInTime?: ReplaySummary;
}

/** The keys configured for decryption, checked against the manifest before any byte is read. */
export function decryptKeysFor(config: ResolvedConfig, manifest: Manifest): DecryptKeys {
  const keys: DecryptKeys = {
    ...(config.encryption.key ? { key: config.encryption.key } : {}),
    ...(config.encryption.identities.length > 0 ? { identities: config.encryption.identities } : {}),
  };
  const enc = manifest.encryption;
  if (!manifest.encrypted || !enc) return keys;
  if (enc.mode === 'symmetric') {
    if (!keys.key) {
      throw new BackupError(ErrorCodes.KEY_MISSING, `backup ${manifest.id} is encrypted and no key is configured (key fingerprint ${enc.keyFingerprint ?? 'unknown'})`, {
        hint: 'set BACKUP_ENCRYPTION_KEY or encryption.keyFile to the key this backup was made with',
      });
    }
    if (enc.keyFingerprint && keyFingerprint(keys.key) !== enc.keyFingerprint) {
      throw new BackupError(ErrorCodes.WRONG_KEY, `wrong encryption key for backup ${manifest.id}: it was made with key ${enc.keyFingerprint}, the configured key is ${keyFingerprint(keys.key)}`, {
        hint: 'configure the key this backup was made with (BACKUP_ENCRYPTION_KEY or encryption.keyFile)',
      });
    }
  } else {
    const needed = enc.recipients ?? [];
    if (!keys.identities) {
      throw new BackupError(ErrorCodes.IDENTITY_MISSING, `backup ${manifest.id} is encrypted for recipients ${needed.join(', ')} and no identity (private key) is configured`, {
        hint: 'this host can create backups but not read them; decrypt on a host with encryption.identityFile set to one of those identities',
      });
    }
    const mine = keys.identities.map((i) => recipientFingerprint(recipientOf(i)));
    if (!mine.some((f) => needed.includes(f))) {
      throw new BackupError(ErrorCodes.WRONG_KEY, `none of the configured identities (${mine.join(', ')}) can decrypt backup ${manifest.id} (recipients ${needed.join(', ')})`, {
        hint: 'set encryption.identityFile to the private key of one of the recipients',
      });
    }
  }
  return keys;
}

/** Opens the chosen backup on the chosen (or first holding) target. */
async function locate(config: ResolvedConfig, ref: string, from: string | undefined): Promise<{ targets: Target[]; source: Target; manifest: Manifest }> {
  const targets = openTargets(config, from ? [from] : []);
  try {
    const resolved = await resolveBackup(targets, ref);
    return { targets, source: resolved.holders[0]!, manifest: resolved.manifest };
  } catch (error) {
    await closeTargets(targets);
    throw error;
  }
}

export function destinationUri(config: ResolvedConfig, options: RestoreOptions): string {
  const uri = options.uri ?? config.mongodb.uri;
  if (uri) return uri;
  if (config.mongodb.uriProblem) throw config.mongodb.uriProblem;
  throw new BackupError(ErrorCodes.CONFIG_INVALID, 'no destination: give --uri or set MONGODB_URI / mongodb.uri');
}

export async function restoreBackup(config: ResolvedConfig, options: RestoreOptions): Promise<RestoreResult> {
  if (options.toTime !== undefined) return restorePointInTime(config, options);
  const uri = destinationUri(config, options);
  const { targets, source, manifest } = await locate(config, options.ref, options.from);
  if (manifest.type === 'INCREMENTAL') {
    // An incremental restores to its own restore point: its chain, replayed up to it.
    await closeTargets(targets);
    return restorePointInTime(config, { ...options, ref: manifest.id });
  }
  const events = options.events;
  try {
    const keys = decryptKeysFor(config, manifest);
    const plan = planNamespaces(manifest.namespaces, options.namespaces);
    const destination = await checkDestination(config, uri, plan, options);
    const { before, refusal, mongorestoreVersion } = destination;
    const onePass = destination.undoable && authenticatedWhileRead(manifest);
    events?.phase?.('check', `backup ${manifest.id} from ${source.name} → ${hostsOf(uri)}${mongorestoreVersion ? ` (mongorestore ${mongorestoreVersion})` : ''}`);
    if (options.verify) await proveBeforeReading(source, manifest, onePass, options.signal, events);
    const result: RestoreResult = {
      backupId: manifest.id,
      restoredAt: new Date().toISOString(),
      from: source.name,
      destination: hostsOf(uri),
      dryRun: options.dryRun,
      namespaces: plan.map((p) => ({ ...p, checked: false })),
      warnings: refusal ? [`without --drop or --force the restore would refuse: ${refusal.message}`] : [],
    };
    if (options.dryRun) return result;

    events?.phase?.('restore', `restoring ${plan.length} namespaces with mongorestore`);
    const expected = expectedCounts(plan, options, before);
    try {
      await streamIntoMongorestore(config, uri, source, manifest, keys, options);
      await checkpoint('before-count-check', options.signal);
      throwIfInterrupted(options.signal);
    } catch (error) {
      throw await afterFailedRestore(uri, destination, expected, error, options.signal);
    }
    result.restoredAt = new Date().toISOString();
    events?.phase?.('count', `counting the documents of ${plan.length} namespaces`);
    try {
      await checkRestoredCounts(uri, result, options, before);
    } catch (error) {
      if (!options.signal.aborted) throw error;
    }
    // A signal during the count check still ends as an interrupted restore: one outcome, undone where it can be.
    if (options.signal.aborted) throw await afterFailedRestore(uri, destination, expected, interruptedRestoreError(), options.signal);
    return result;
  } finally {
    await closeTargets(targets);
  }
}

export interface DestinationCheck {
  /** The restored namespaces that are not the server's own. */
  destinations: string[];
  /** Their document counts before the restore. */
  before: Record<string, number>;
  /** Those that existed (even empty) before the restore; the others are new, and can be dropped again. */
  existing: string[];
  /** Every namespace is new and none is dropped: a half-done restore can be undone exactly. */
  undoable: boolean;
  /** Why the restore must not go on (namespaces that hold documents, without --drop/--force). */
  refusal?: BackupError;
  mongorestoreVersion?: string;
}

/** What the destination holds where the restore will write, and whether it may write there. */
export async function checkDestination(config: ResolvedConfig, uri: string, plan: PlannedNamespace[], options: RestoreOptions): Promise<DestinationCheck> {
  const userNamespaces = plan.filter((p) => !isSystemNamespace(p.destination));
  const destinations = userNamespaces.map((p) => p.destination);
  const [mongorestoreVersion, { counts: before, existing }] = await Promise.all([
    options.dryRun ? undefined : toolVersion(config.mongodb.mongorestore, 'mongorestore'),
    // Exact counts only where the restore adds to existing documents (--force without --drop).
    destinationState(uri, destinations, Boolean(options.force) && !options.drop),
  ]);
  const occupied = userNamespaces.filter((p) => (before[p.destination] ?? 0) > 0);
  const refusal =
    occupied.length > 0 && !options.drop && !options.force
      ? new BackupError(
          ErrorCodes.NAMESPACE_NOT_EMPTY,
          `refusing to restore into namespaces that already hold documents: ${occupied.map((p) => `${p.destination} (${before[p.destination]})`).join(', ')}`,
          { hint: 'use --drop to replace them, --force to insert anyway, or --ns-from/--ns-to to restore elsewhere' },
        )
      : undefined;
  // A dry run still verifies and shows the plan; the refusal becomes a warning in its result.
  if (refusal && !options.dryRun) throw refusal;
  return {
    destinations,
    before,
    existing: destinations.filter((ns) => existing.has(ns)),
    undoable: !options.drop && existing.size === 0,
    ...(refusal ? { refusal } : {}),
    ...(mongorestoreVersion ? { mongorestoreVersion } : {}),
  };
}

async function streamIntoMongorestore(
  config: ResolvedConfig,
  uri: string,
  source: Target,
  manifest: Manifest,
  keys: DecryptKeys,
  options: RestoreOptions,
): Promise<void> {
  const args = ['--archive', ...namespaceArgs(options.namespaces)];
  if (options.drop) args.push('--drop');
  args.push(...parallelismArgs(options), ...config.mongodb.restoreArgs);
  // The stages exist before mongorestore starts (runToolPipeline builds the streams first).
  const decode = decodeStages(manifest, keys, (b) => options.events?.progress?.('restore', b, manifest.size), 'restore');
  await runToolPipeline({
    tool: {
      tool: 'mongorestore',
      binary: config.mongodb.mongorestore,
      uri,
      args,
      ...(options.events?.toolLine ? { onLine: options.events.toolLine } : {}),
    },
    role: 'sink',
    streams: async (signal) => [await source.load(`${manifest.id}/${manifest.object}`, { signal }), ...decode.stages, ...restoreCheckpointStages(signal)],
    signal: options.signal,
    interrupted: 'restore interrupted; the destination may be partially restored',
  });
  decode.check();
}

/** Test-only fault injection (checkpoints.ts): a stage holding the restore once mongorestore has its first bytes. */
export function restoreCheckpointStages(signal: AbortSignal): Transform[] {
  const started = checkpointStage('restore-started', signal, 'after-first-chunk');
  return started ? [started] : [];
}

/** What each namespace should hold once restored: the backup's documents, plus what was there with --force. */
function expectedCounts(plan: PlannedNamespace[], options: RestoreOptions, before: Record<string, number>): Record<string, number> {
  const appended = (ns: string): number => (options.force && !options.drop ? (before[ns] ?? 0) : 0);
  return Object.fromEntries(plan.filter((p) => !isSystemNamespace(p.destination)).map((p) => [p.destination, p.documents + appended(p.destination)]));
}

async function checkRestoredCounts(
  uri: string,
  result: RestoreResult,
  options: RestoreOptions,
  before: Record<string, number>,
): Promise<void> {
  const checkable = result.namespaces.filter((p) => !isSystemNamespace(p.destination));
  const appendedTo = (destination: string): number => (!options.drop ? (before[destination] ?? 0) : 0);
  const after = await countRestored(uri, Object.fromEntries(checkable.map((p) => [p.destination, p.documents + appendedTo(p.destination)])));
  const mismatches: string[] = [];
  for (const ns of checkable) {
    const restored = after[ns.destination] ?? 0;
    ns.restored = restored;
    ns.checked = true;
    const appended = appendedTo(ns.destination);
    if (restored !== ns.documents + appended) {
      const text = `${ns.destination}: ${restored} documents, expected ${ns.documents}${appended ? ` + ${appended} already there` : ''}`;
      if (options.force && !options.drop) result.warnings.push(text);
      else mismatches.push(text);
    }
  }
  if (mismatches.length > 0) {
    throw new BackupError(ErrorCodes.COUNT_MISMATCH, `restore of ${result.backupId} finished but document counts differ: ${mismatches.join('; ')}`, {
      hint: "see mongorestore's messages with --verbose (duplicate keys, validation errors)",
      details: { namespaces: result.namespaces },
    });
  }
}

/** mongorestore's parallelism flags for the options given (docs/REFERENCE.md#restore). */
export function parallelismArgs(options: Pick<RestoreOptions, 'parallel' | 'insertionWorkers'>): string[] {
  return [
    ...(options.parallel ? [`--numParallelCollections=${options.parallel}`] : []),
    ...(options.insertionWorkers ? [`--numInsertionWorkersPerCollection=${options.insertionWorkers}`] : []),
  ];
}

/** `cat`: the plain archive to a writable (stdout), verified first unless told otherwise. */
export async function catBackup(
  config: ResolvedConfig,
  options: { ref: string; from?: string; verify: boolean; signal: AbortSignal; events?: EngineEvents },
  out: Writable,
): Promise<Manifest> {
  const { targets, source, manifest } = await locate(config, options.ref, options.from);
  try {
    const keys = decryptKeysFor(config, manifest);
    if (options.verify) await verifyStoredObject(source, `${manifest.id}/${manifest.object}`, manifest.storedSize, manifest.checksum, options.signal);
    const decode = decodeStages(manifest, keys, (b) => options.events?.progress?.('download', b, manifest.size));
    await pipeline([await source.load(`${manifest.id}/${manifest.object}`, { signal: options.signal }), ...decode.stages, out], {
      signal: options.signal,
      end: false,
    });
    decode.check();
    return manifest;
  } finally {
    await closeTargets(targets);
  }
}


/** What must hold before the object is streamed: its size, and unless `onePass` its SHA-256, in a pass of its own. */
export async function proveBeforeReading(source: Target, manifest: Manifest, onePass: boolean, signal: AbortSignal, events?: EngineEvents): Promise<void> {
  const key = `${manifest.id}/${manifest.object}`;
  if (onePass) {
    await checkStoredSize(source, key, manifest.storedSize);
    return;
  }
  events?.phase?.('verify', `verifying ${manifest.object} on ${source.name} (${manifest.storedSize} bytes)`);
  await verifyStoredObject(source, key, manifest.storedSize, manifest.checksum, signal, (b) => events?.progress?.('verify', b, manifest.storedSize));
}
