/**
 * What each recorded command asks of the engine, with its bookkeeping (runs.ts): the lock for runs
 * that change stored backups, the journal entry and alerts for every run. This is also the one
 * place where an operation's outcome becomes a journal entry, so a command only parses its flags,
 * calls one function here and renders what it returns.
 */
import type { ResolvedConfig } from '../config/load.js';
import { BackupError, ErrorCodes, toBackupError } from '../errors.js';
import type { Target } from '../targets/types.js';
import { buildCatalog, closeTargets, openTargets, resolveBackup, type Catalog } from './catalog.js';
import { createBackup, type CreateOptions, type CreateResult } from './create.js';
import { removeBackup } from './delete.js';
import type { EngineEvents } from './events.js';
import type { Manifest } from './manifest.js';
import { pruneTargets, type PruneOptions, type PruneReport, type TargetPruneReport } from './prune.js';
import { replicateBackups, type ReplicateOptions, type ReplicateOutcome } from './replicate.js';
import { drillBackup, type DrillOptions, type DrillOutcome } from './drill.js';
import { decryptKeysFor, restoreBackup, type RestoreOptions, type RestoreResult } from './restore.js';
import { bookedRun, recordedRun, statusOf, targetEntries, withLock, type RunBooking, type RunDetails } from './runs.js';
import { verifyBackup, type VerifyResult } from './verify.js';

// ---- create ----

export interface CreateRun {
  result: CreateResult;
  /** Retention applied afterwards (asked for, and the backup reached every target). */
  pruneReport?: PruneReport;
}

/** A backup, then (when asked and the backup reached every target) retention, under one lock. */
export async function createRun(config: ResolvedConfig, options: CreateOptions & { prune: boolean }, booking: RunBooking): Promise<CreateRun> {
  const { prune, ...createOptions } = options;
  return withLock(config, booking, async () => {
    const result = await recordedRun(config, 'create', booking.warn, async () => {
      const value = await createBackup(config, createOptions).finally(() => options.events?.endPhase?.());
      return { value, status: isPartial(value) ? 'PARTIAL' : 'SUCCESS', details: createDetails(value, createOptions.verify !== false) };
    });
    if (!prune || isPartial(result)) return { result };
    return { result, pruneReport: await pruneTargets(config, { targets: createOptions.targets ?? [], dryRun: false, signal: options.signal }) };
  });
}

/** Stored on some targets only: the others failed. */
export function isPartial(result: CreateResult): boolean {
  return result.completedOn.length < result.outcomes.length;
}

function createDetails(value: CreateResult, verify: boolean): RunDetails {
  return {
    backupId: value.manifest.id,
    type: value.manifest.type,
    size: value.manifest.size,
    storedSize: value.manifest.storedSize,
    targets: targetEntries(value.outcomes.map((o) => ({ name: o.name, ok: o.ok, ...(o.error ? { error: o.error.message } : {}) }))),
    ...(verify ? { verified: value.outcomes.filter((o) => o.ok).every((o) => o.verified) } : {}),
  };
}

// ---- restore ----

/** A restore, recorded; a dry run changes nothing and is not recorded. */
export function restoreRun(config: ResolvedConfig, options: RestoreOptions, booking: RunBooking): Promise<RestoreResult> {
  const restore = (): Promise<RestoreResult> => restoreBackup(config, options).finally(() => options.events?.endPhase?.());
  if (options.dryRun) return restore();
  return bookedRun(config, 'restore', booking, { exclusive: false, alertOnUsageErrors: false }, async () => {
    const value = await restore();
    return { value, status: 'SUCCESS', details: { backupId: value.backupId, ...(options.verify ? { verified: true } : {}) } };
  });
}

// ---- drill ----

/**
 * A drill, recorded in the journal like a restore; a failed drill is recorded on the target first
 * (drill.ts), then rethrown with restore's error code, naming where its record went.
 */
export function drillRun(config: ResolvedConfig, options: DrillOptions, booking: RunBooking): Promise<DrillOutcome> {
  return bookedRun(config, 'drill', booking, { exclusive: false, alertOnUsageErrors: false }, async () => {
    const value = await drillBackup(config, options);
    if (value.error) {
      const where = value.recordKey ? `; the failure was recorded as ${value.recordKey} on ${value.record.target}` : value.recordError ? `; ${value.recordError}` : '';
      throw new BackupError(value.error.code, `drill of ${value.record.backupId} failed: ${value.error.message}${where}`, {
        ...(value.error.hint ? { hint: value.error.hint } : {}),
        details: { drill: value.record, ...(value.recordKey ? { recordKey: value.recordKey } : {}) },
        cause: value.error,
      });
    }
    return { value, status: value.recordError ? 'PARTIAL' : 'SUCCESS', details: { backupId: value.record.backupId } };
  });
}

// ---- verify ----

export interface VerifyRunOptions {
  /** A backup id or 'latest'; undefined with `all`. */
  ref?: string;
  all: boolean;
  /** Target names; empty = every configured target. */
  targets: string[];
  deep: boolean;
  signal: AbortSignal;
  events?: EngineEvents;
}

/** Verifies every selected copy, one after the other; a damaged copy is a result, not a throw. */
export async function verifyRun(config: ResolvedConfig, options: VerifyRunOptions, booking: RunBooking): Promise<VerifyResult[]> {
  const targets = openTargets(config, options.targets);
  try {
    const copies = await selectCopies(targets, options.ref, options.all);
    return await bookedRun(config, 'verify', booking, { exclusive: false }, async () => {
      const value: VerifyResult[] = [];
      for (const { target, manifest } of copies) value.push(await verifyCopy(config, target, manifest, options));
      const invalid = value.filter((r) => !r.valid);
      return {
        value,
        status: invalid.length === 0 ? 'SUCCESS' : 'FAILED',
        details: {
          ...(value.length === 1 ? { backupId: value[0]!.backupId } : {}),
          verified: invalid.length === 0,
          ...(invalid.length > 0 ? { error: { code: invalid[0]!.error?.code ?? ErrorCodes.INTEGRITY, message: invalid[0]!.issues.join('; ') } } : {}),
        },
      };
    });
  } finally {
    options.events?.endPhase?.();
    await closeTargets(targets);
  }
}

async function verifyCopy(config: ResolvedConfig, target: Target, manifest: Manifest, options: VerifyRunOptions): Promise<VerifyResult> {
  options.events?.phase?.('verify', `verifying ${manifest.id} on ${target.name}${options.deep ? ' (deep)' : ''}`);
  try {
    const keys = options.deep ? decryptKeysFor(config, manifest) : {};
    return await verifyBackup(target, manifest, { deep: options.deep, keys, signal: options.signal, ...(options.events ? { events: options.events } : {}) });
  } catch (error) {
    if (error instanceof BackupError && error.code === ErrorCodes.INTERRUPTED) throw error;
    const e = error as BackupError;
    return { backupId: manifest.id, target: target.name, deep: options.deep, valid: false, issues: [e.message], error: e };
  } finally {
    options.events?.endPhase?.();
  }
}

async function selectCopies(targets: Target[], ref: string | undefined, all: boolean): Promise<Array<{ target: Target; manifest: Manifest }>> {
  if (all) {
    const catalog = await buildCatalog(targets);
    if (catalog.unreachable.length > 0) throw catalog.unreachable[0]!.error;
    return catalog.backups.flatMap((b) => targets.filter((t) => b.targets.includes(t.name)).map((target) => ({ target, manifest: b.manifest })));
  }
  const resolved = await resolveBackup(targets, ref!);
  return resolved.holders.map((target) => ({ target, manifest: resolved.manifest }));
}

// ---- replicate ----

export function replicateRun(config: ResolvedConfig, options: ReplicateOptions, booking: RunBooking): Promise<ReplicateOutcome[]> {
  return bookedRun(config, 'replicate', booking, { exclusive: true }, async () => {
    const value = await replicateBackups(config, options).finally(() => options.events?.endPhase?.());
    const failed = value.filter((o) => o.action === 'failed');
    return {
      value,
      status: statusOf(failed.length, value.length),
      details: {
        ...(value.length === 1 ? { backupId: value[0]!.backupId } : {}),
        targets: targetEntries([{ name: options.to, ok: failed.length === 0, error: failed[0]?.error?.message ?? '' }]),
      },
    };
  });
}

// ---- prune ----

/** Retention on the selected targets; a dry run deletes nothing and is neither locked nor recorded. */
export function pruneRun(config: ResolvedConfig, options: PruneOptions, booking: RunBooking): Promise<PruneReport> {
  if (options.dryRun) return pruneTargets(config, options);
  return bookedRun(config, 'prune', booking, { exclusive: true }, async () => {
    const value = await pruneTargets(config, options);
    return {
      value,
      status: statusOf(value.targets.filter(pruneFailed).length, value.targets.length),
      details: {
        targets: targetEntries(
          value.targets.map((t) => {
            const error = t.error ?? t.leftoversError;
            return { name: t.target, ok: !error, ...(error ? { error: error.message } : {}) };
          }),
        ),
      },
    };
  });
}

/** A failed leftover cleanup counts too: left alone, its leftovers (S3 parts are billed) pile up unnoticed. */
export function pruneFailed(t: TargetPruneReport): boolean {
  return Boolean(t.error || t.leftoversError || t.decisions.some((d) => d.error));
}

// ---- delete ----

export interface DeleteOutcome {
  target: string;
  ok: boolean;
  objects?: number;
  error?: string;
}

export interface DeleteRunOptions {
  id: string;
  /** Target names; empty = every configured target. */
  targets: string[];
  /** Asked (before the lock is taken) with the names of the targets holding a copy; false = delete nothing. */
  confirm?: (holders: string[]) => Promise<boolean>;
}

/** Deletes every copy of one backup; undefined when the confirmation was declined. */
export async function deleteRun(config: ResolvedConfig, options: DeleteRunOptions, booking: RunBooking): Promise<DeleteOutcome[] | undefined> {
  const targets = openTargets(config, options.targets);
  try {
    const { holders, unreachable } = await locateCopies(targets, options.id);
    if (options.confirm && !(await options.confirm(holders.map((t) => t.name)))) return undefined;
    return await bookedRun(config, 'delete', booking, { exclusive: true }, async () => {
      const value: DeleteOutcome[] = [
        ...(await Promise.all(holders.map((t) => deleteCopy(t, options.id)))),
        // A copy may sit on a target that could not be listed: say so rather than claim success.
        ...unreachable.map((u) => ({ target: u.target, ok: false, error: `not reachable, a copy may remain there: ${u.error.message}` })),
      ];
      return {
        value,
        status: statusOf(value.filter((o) => !o.ok).length, value.length),
        details: { backupId: options.id, targets: targetEntries(value.map((o) => ({ name: o.target, ok: o.ok, ...(o.ok ? {} : { error: o.error ?? '' }) }))) },
      };
    });
  } finally {
    await closeTargets(targets);
  }
}

async function deleteCopy(target: Target, id: string): Promise<DeleteOutcome> {
  try {
    return { target: target.name, ok: true, objects: await removeBackup(target, id) };
  } catch (error) {
    return { target: target.name, ok: false, error: toBackupError(error).message };
  }
}

/**
 * The targets holding any part of backup `id` (complete or not: an incomplete folder can be deleted
 * too), and the targets that could not be listed.
 */
async function locateCopies(targets: Target[], id: string): Promise<{ holders: Target[]; unreachable: Catalog['unreachable'] }> {
  const catalog = await buildCatalog(targets);
  const names = new Set([...catalog.backups.filter((b) => b.id === id).flatMap((b) => b.targets), ...catalog.incomplete.filter((b) => b.id === id).map((b) => b.target)]);
  if (names.size === 0) {
    if (catalog.unreachable.length === targets.length && targets.length > 0) throw catalog.unreachable[0]!.error;
    throw new BackupError(ErrorCodes.BACKUP_NOT_FOUND, `backup ${id} was not found on ${targets.map((t) => t.name).join(', ')}`, {
      hint: 'run "mongo-backup list" to see the backups',
    });
  }
  return { holders: targets.filter((t) => names.has(t.name)), unreachable: catalog.unreachable };
}
