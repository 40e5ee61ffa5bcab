/**
 * `prune`: apply each target's retention policy. Every backup gets a decision with its reason;
 * deletions remove the manifest first (never a half-deleted COMPLETED backup). Incomplete folders
 * (no manifest) older than the grace period are removed too — leftovers of killed runs.
 */
import type { ResolvedConfig } from '../config/load.js';
import { toBackupError, type BackupError } from '../errors.js';
import {
  applyRetention,
  describePolicy,
  isEmptyPolicy,
  policyFromConfig,
  type RetentionCandidate,
  type RetentionConfig,
  type RetentionDecision,
  type RetentionPolicy,
} from '../retention/policy.js';
import { describeLock, lockRetentionConflicts } from '../targets/lock-policy.js';
import type { ObjectLockState, Target } from '../targets/types.js';
import { closeTargets, listBackups, openTargets, type BackupEntry } from './catalog.js';
import { removeBackup } from './delete.js';
import { activeLockOf, lockOfError } from './object-lock.js';
import { isBackupId } from './ids.js';

/** Retention flags of one `prune` run; any of them replaces the target's configured policy. */
export type PruneOverrides = Omit<RetentionConfig, 'minAge'>;

export interface PruneOptions {
  targets: string[];
  dryRun: boolean;
  overrides?: PruneOverrides;
  signal: AbortSignal;
  now?: Date;
}

export interface PruneDecisionView {
  id: string;
  time: string;
  status: string;
  /** FULL or INCREMENTAL; absent for an incomplete backup (no manifest). */
  type?: string;
  action: 'keep' | 'delete';
  reasons: string[];
  deleted?: boolean;
  error?: string;
  /** Retention would delete it, but its Object Lock runs until then (ISO); kept, not an error. */
  lockedUntil?: string;
}

export interface TargetPruneReport {
  target: string;
  policy: string;
  decisions: PruneDecisionView[];
  /** Temporary upload leftovers of killed runs that were (or, dry run, would be) removed. */
  leftovers: string[];
  kept: number;
  deleted: number;
  /** Backups retention would delete that an Object Lock keeps for now (also counted in `kept`). */
  locked: number;
  /** Where the target's objectLock and its retention policy disagree (docs/TARGETS.md#object-lock). */
  lockWarnings?: string[];
  /** Retention could not run (or stopped): listing or deleting failed. */
  error?: { code: string; message: string };
  /** The leftover cleanup failed; retention ran regardless. */
  leftoversError?: { code: string; message: string };
}

export interface PruneReport {
  dryRun: boolean;
  targets: TargetPruneReport[];
}

/** Flags override the configuration for one run: any flag replaces the target's whole policy. */
export function policyFor(config: ResolvedConfig, targetName: string, overrides: PruneOverrides | undefined): RetentionPolicy {
  const target = config.targets.find((t) => t.name === targetName);
  const hasOverride = overrides && Object.values(overrides).some((v) => v !== undefined);
  const source = hasOverride ? overrides : target?.retention;
  return policyFromConfig(source, config.retentionDefaults, hasOverride ? 'prune flags' : `targets.${targetName}.retention`);
}

export async function pruneTargets(config: ResolvedConfig, options: PruneOptions): Promise<PruneReport> {
  // Validate every policy before touching anything (bad config = exit 2, nothing deleted).
  const targets = openTargets(config, options.targets);
  const policies = new Map(targets.map((t) => [t.name, policyFor(config, t.name, options.overrides)]));
  try {
    const reports: TargetPruneReport[] = [];
    for (const target of targets) {
      reports.push(await pruneOne(target, policies.get(target.name)!, config, options));
    }
    return { dryRun: options.dryRun, targets: reports };
  } finally {
    await closeTargets(targets);
  }
}

/** Prunes one open target (exported for the target conformance suite, which runs it on every type). */
export async function pruneOne(target: Target, policy: RetentionPolicy, config: Pick<ResolvedConfig, 'incompleteGraceMs'>, options: PruneOptions): Promise<TargetPruneReport> {
  const report: TargetPruneReport = { target: target.name, policy: describePolicy(policy), decisions: [], leftovers: [], kept: 0, deleted: 0, locked: 0 };
  const lockPolicy = target.capabilities.objectLock;
  const lockWarnings = lockPolicy ? lockRetentionConflicts(lockPolicy, policy) : [];
  if (lockWarnings.length > 0) report.lockWarnings = lockWarnings;
  try {
    const entries = await listBackups(target);
    const decisions: RetentionDecision[] = applyRetention(
      entries.map(retentionCandidate),
      policy,
      options.now ?? new Date(),
      { incompleteGraceMs: config.incompleteGraceMs },
    );
    // Before the deletions, as ever; it records its own failure, so retention still runs after it.
    await removeLeftovers(target, config, options, report);
    if (isEmptyPolicy(policy)) report.policy += ' (no rule: only old incomplete backups are removed)';
    const entryOf = new Map(entries.map((e) => [e.id, e]));
    for (const d of decisions) {
      const entry = entryOf.get(d.id);
      const view: PruneDecisionView = { id: d.id, time: d.time.toISOString(), status: entry?.status ?? 'INCOMPLETE', ...(entry?.manifest ? { type: entry.manifest.type } : {}), action: d.action, reasons: d.reasons };
      // Locks are judged by the real clock: the server enforces them by its own, whatever `now` says.
      const lock = d.action === 'delete' ? await activeLockOf(target, d.id, entry?.manifest, new Date()) : undefined;
      if (lock) keepLocked(view, lock, report);
      else if (d.action === 'delete' && !options.dryRun) {
        if (options.signal.aborted) throw options.signal.reason as BackupError;
        try {
          await removeBackup(target, d.id);
          view.deleted = true;
        } catch (error) {
          const refusedBy = lockOfError(error);
          if (refusedBy) keepLocked(view, refusedBy, report);
          else view.error = toBackupError(error).message;
        }
      }
      if (view.action === 'delete') report.deleted++;
      else report.kept++;
      report.decisions.push(view);
    }
  } catch (error) {
    const e = toBackupError(error);
    report.error = { code: e.code, message: e.message };
  }
  return report;
}

/** A backup retention would delete but its lock protects: kept and said so, not an error (no error storm). */
function keepLocked(view: PruneDecisionView, lock: ObjectLockState, report: TargetPruneReport): void {
  view.action = 'keep';
  view.lockedUntil = lock.retainUntil.toISOString();
  view.reasons = [...view.reasons, `${describeLock(lock)}: deleted by a prune after that`];
  report.locked++;
}

/** What retention needs of a listed backup: its time and status, and for chains its place in one. */
function retentionCandidate(entry: BackupEntry): RetentionCandidate {
  const candidate: RetentionCandidate = { id: entry.id, time: entry.time, status: entry.status };
  const m = entry.manifest;
  if (!m) return candidate;
  candidate.type = m.type;
  if (m.parent !== undefined) candidate.parent = m.parent;
  if (m.base !== undefined) candidate.base = m.base;
  if (m.oplog !== undefined) candidate.oplog = m.oplog;
  if (m.pointInTime !== undefined) candidate.pointInTime = m.pointInTime;
  return candidate;
}

/**
 * Temporary upload names left by killed runs (never visible as backups) go once older than the
 * grace period; a dry run only names them. A failure lands in `report.leftoversError` rather than
 * being thrown: the cleanup needs rights retention does not (S3's ListBucketMultipartUploads and
 * AbortMultipartUpload), and lacking them must not stop old backups from being deleted.
 */
async function removeLeftovers(target: Target, config: Pick<ResolvedConfig, 'incompleteGraceMs'>, options: PruneOptions, report: TargetPruneReport): Promise<void> {
  const removeStaleTemporaries = target.capabilities.removeStaleTemporaries;
  if (!removeStaleTemporaries) return;
  try {
    // Empty backup folders go too: a run killed before its first upload leaves no object to list.
    report.leftovers = await removeStaleTemporaries(config.incompleteGraceMs, { dryRun: options.dryRun, emptyFolders: isBackupId });
  } catch (error) {
    const e = toBackupError(error);
    report.leftoversError = { code: e.code, message: e.message };
  }
}
