/**
 * The health checks of docs/REFERENCE.md#health-checks as one pure function: inputs (the run journal, what each target
 * holds, free space) in, a status with issues and metrics out. All I/O lives in gather.ts, so every
 * check can be tested with plain data.
 */
import { HEALTH_EXIT_CODE } from '../errors.js';
import { formatBytes } from '../output/output.js';
import type { RunRecord } from '../state/journal.js';
import { computeRunMetrics, type RunMetrics } from './metrics.js';
import { checkDrillAge, checkRto, drillMetrics, type DrillMetrics, type HealthDrill } from './drills.js';
import { breakingOrphans, chainMembers, targetChainState, type HealthChainFields, type SourceOplog, type TargetChainState } from './pitr.js';

export type { SourceOplog } from './pitr.js';
export type { DrillMetrics, HealthDrill } from './drills.js';

export type HealthStatus = 'HEALTHY' | 'WARNING' | 'CRITICAL';
export type IssueLevel = 'WARNING' | 'CRITICAL';

/** Issue types; also the alert types health raises and auto-resolves. */
export const HealthIssueTypes = {
  BACKUP_TOO_OLD: 'backup_too_old',
  BACKUP_FAILED: 'backup_failed',
  LOW_SUCCESS_RATE: 'low_success_rate',
  TARGET_UNREACHABLE: 'target_unreachable',
  LOW_DISK_SPACE: 'low_disk_space',
  BACKUP_MISSING_ON_TARGET: 'backup_missing_on_target',
  VERIFY_FAILED: 'verify_failed',
  RESTORE_POINT_TOO_OLD: 'restore_point_too_old',
  CHAIN_BROKEN: 'chain_broken',
  OPLOG_WINDOW_SHORT: 'oplog_window_short',
  OBJECT_LOCK: 'object_lock',
  DRILL_OVERDUE: 'drill_overdue',
  RTO_EXCEEDED: 'rto_exceeded',
} as const;
export type HealthIssueType = (typeof HealthIssueTypes)[keyof typeof HealthIssueTypes];
export const HEALTH_ISSUE_TYPES: readonly string[] = Object.values(HealthIssueTypes);

export interface HealthIssue {
  level: IssueLevel;
  type: HealthIssueType;
  message: string;
  target?: string;
}

export interface HealthConfig {
  /** RPO: the newest COMPLETED backup may be at most this old. Default 26. */
  maxAgeHours?: number;
  /** Of create runs in the last 30 days. Default 0.9. */
  minSuccessRate?: number;
  /** Local targets: warn below this share of free space. Default 10. */
  minFreeDiskPercent?: number;
  /** Local targets: warn below this many free bytes. No default. */
  minFreeDiskBytes?: number;
  /** Point-in-time RPO: the newest restore point may be this old (WARNING), twice this (CRITICAL). Default 60. */
  rpoMinutes?: number;
  /** How often incrementals run; the source's oplog must hold at least twice this. Default 1h. */
  incrementalIntervalMs?: number;
  /** A passed, trusted drill must be at most this old (WARNING), twice this (CRITICAL); 0 = no drill checks. Default 35. */
  maxDrillAgeDays?: number;
  /** The RTO estimate from the newest passed drill may be at most this (WARNING above). Default 4. */
  rtoHours?: number;
}

export const HEALTH_DEFAULTS = {
  maxAgeHours: 26,
  minSuccessRate: 0.9,
  minFreeDiskPercent: 10,
  rpoMinutes: 60,
  incrementalIntervalMs: 3_600_000,
  maxDrillAgeDays: 35,
  rtoHours: 4,
} as const;
export const SUCCESS_RATE_WINDOW_DAYS = 30;

/** A backup as the catalog lists it (structurally the catalog's BackupEntry). */
export interface HealthBackup {
  id: string;
  status: 'COMPLETED' | 'INCOMPLETE' | string;
  time: Date;
  manifest?: { storedSize?: number; size?: number; endTime?: string; object?: string } & HealthChainFields;
}

export interface TargetState {
  name: string;
  reachable: boolean;
  error?: string;
  backups: HealthBackup[];
  /** Local targets only. */
  space?: { freeBytes: number; totalBytes: number };
  /** Whether the newest backup should be on this target. */
  expected: boolean;
  /** Targets with `objectLock`: a copy that should be locked and is not, or a lock at odds with retention. */
  lockProblems?: string[];
  /** The drill records read on this target (the newest of each backup's), judged against its manifests. */
  drills?: HealthDrill[];
}

export interface HealthInputs {
  now: Date;
  config: HealthConfig;
  /** The run journal, in any order. */
  runs: RunRecord[];
  targets: TargetState[];
  /** The source's oplog window; absent when it was not read (no point-in-time backup, no source configured). */
  sourceOplog?: SourceOplog;
}

export interface TargetSummary {
  name: string;
  reachable: boolean;
  error?: string;
  backups: number;
  newestBackupId?: string;
  storedBytes: number;
  freeBytes?: number;
  totalBytes?: number;
  freePercent?: number;
  /** The newest restore point of the chains on this target (ISO time). */
  newestRestorePoint?: string;
  /** Seconds of restorable time on this target: the union of its chains' windows. */
  restorableSeconds?: number;
}

export interface HealthMetrics extends RunMetrics {
  newestBackup: { id: string; time: string; ageHours: number; targets: string[] } | null;
  lastRun: { runId: string; status: RunRecord['status']; endTime: string; duration: number; storedSize?: number; backupId?: string } | null;
  /** Time of the last successful backup: the newer of the journal's and the targets' view. */
  lastSuccessTime: string | null;
  successRate30d: number | null;
  runs30d: number;
  targets: TargetSummary[];
  /** The newest restore point over every reachable target; null without a point-in-time chain. */
  newestRestorePoint: { time: string; backupId: string; targets: string[]; ageMinutes: number } | null;
  /** Restore drills: the newest, the newest passed one, the RTO estimate. */
  drills: DrillMetrics;
}

export interface HealthReport {
  status: HealthStatus;
  timestamp: string;
  issues: HealthIssue[];
  /** Checks that were skipped, and why. */
  notes: string[];
  metrics: HealthMetrics;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export function evaluateHealth(inputs: HealthInputs): HealthReport {
  const config = { ...HEALTH_DEFAULTS, ...definedOnly(inputs.config) };
  const runs = [...inputs.runs].sort((a, b) => a.startTime.localeCompare(b.startTime));
  const createRuns = runs.filter((run) => run.command === 'create');
  const newest = newestCompletedBackup(inputs.targets);
  const chains = chainStates(inputs.targets);
  const notes: string[] = [];
  const issues: HealthIssue[] = [
    ...checkBackupAge(inputs, newest, config.maxAgeHours),
    ...checkLastCreateRun(createRuns),
    ...checkSuccessRate(inputs.now, createRuns, config.minSuccessRate),
    ...checkTargetsReachable(inputs.targets),
    ...checkFreeSpace(inputs.targets, config.minFreeDiskPercent, config.minFreeDiskBytes),
    ...checkNewestBackupEverywhere(inputs.targets, newest),
    ...checkLastVerification(runs),
    ...checkRestorePointAge(inputs.now, chains, config.rpoMinutes, notes),
    ...checkBrokenChains(chains),
    ...(chains.some((c) => c.hasPointInTime) ? checkOplogWindow(inputs.sourceOplog, config.incrementalIntervalMs, notes) : []),
    ...checkObjectLocks(inputs.targets),
    ...checkDrillAge(inputs.now, inputs.targets, config.maxDrillAgeDays, notes),
    ...(config.maxDrillAgeDays > 0 ? checkRto(inputs.targets, config.rtoHours) : []),
  ];
  return {
    status: worstStatus(issues),
    timestamp: inputs.now.toISOString(),
    issues,
    notes,
    metrics: healthMetrics(inputs, createRuns, newest, chains),
  };
}

/** One WARNING per lock problem a target reported (docs/TARGETS.md#object-lock). */
function checkObjectLocks(targets: TargetState[]): HealthIssue[] {
  return targets.flatMap((t) =>
    (t.lockProblems ?? []).map((problem): HealthIssue => ({ level: 'WARNING', type: HealthIssueTypes.OBJECT_LOCK, message: `target ${t.name}: ${problem}`, target: t.name })),
  );
}

export function worstStatus(issues: Array<{ level: IssueLevel }>): HealthStatus {
  if (issues.some((issue) => issue.level === 'CRITICAL')) return 'CRITICAL';
  if (issues.some((issue) => issue.level === 'WARNING')) return 'WARNING';
  return 'HEALTHY';
}

/** docs/REFERENCE.md#exit-codes: health's exit code is its status. */
export function healthExitCode(status: HealthStatus): (typeof HEALTH_EXIT_CODE)[HealthStatus] {
  return HEALTH_EXIT_CODE[status];
}

/** "3d 4h", "5h 12m", "42m", "30s": precise enough for people, two units at most. */
export function formatAge(ms: number): string {
  const totalSeconds = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3_600);
  const minutes = Math.floor((totalSeconds % 3_600) / 60);
  if (days > 0) return hours > 0 ? `${days}d ${hours}h` : `${days}d`;
  if (hours > 0) return minutes > 0 ? `${hours}h ${minutes}m` : `${hours}h`;
  if (minutes > 0) return `${minutes}m`;
  return `${totalSeconds}s`;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}

interface NewestBackup {
  id: string;
  time: Date;
  /** Reachable targets that hold it. */
  targets: string[];
}

/** The newest COMPLETED backup on any reachable target, and where it is. */
export function newestCompletedBackup(targets: TargetState[]): NewestBackup | undefined {
  let newest: NewestBackup | undefined;
  for (const target of targets) {
    if (!target.reachable) continue;
    for (const backup of target.backups) {
      if (backup.status !== 'COMPLETED') continue;
      if (!newest || backup.time.getTime() > newest.time.getTime() || (backup.time.getTime() === newest.time.getTime() && backup.id > newest.id)) {
        newest = { id: backup.id, time: backup.time, targets: [] };
      }
    }
  }
  if (newest) {
    const id = newest.id;
    newest.targets = targets.filter((t) => t.reachable && t.backups.some((b) => b.id === id && b.status === 'COMPLETED')).map((t) => t.name);
  }
  return newest;
}

function checkBackupAge(inputs: HealthInputs, newest: NewestBackup | undefined, maxAgeHours: number): HealthIssue[] {
  const type = HealthIssueTypes.BACKUP_TOO_OLD;
  if (!newest) {
    const someUnreachable = inputs.targets.some((t) => !t.reachable);
    const message = someUnreachable ? 'no completed backup found on the reachable targets' : 'no completed backup yet';
    return [{ level: 'CRITICAL', type, message }];
  }
  const ageMs = inputs.now.getTime() - newest.time.getTime();
  if (ageMs <= maxAgeHours * HOUR_MS) return [];
  return [
    {
      level: 'CRITICAL',
      type,
      message: `newest completed backup is ${formatAge(ageMs)} old (limit ${maxAgeHours}h): ${newest.id}`,
    },
  ];
}

function checkLastCreateRun(createRuns: RunRecord[]): HealthIssue[] {
  const last = createRuns.at(-1);
  if (!last || last.status === 'SUCCESS') return [];
  const subject = last.backupId ? `backup ${last.backupId}` : 'the last backup run';
  let message: string;
  if (last.status === 'PARTIAL') {
    const failed = Object.entries(last.targets ?? {})
      .filter(([, result]) => result.status === 'failed')
      .map(([name]) => name);
    message = `${subject} (${last.endTime}) reached only some targets${failed.length ? `; failed: ${failed.join(', ')}` : ''}`;
  } else {
    const verb = last.status === 'INTERRUPTED' ? 'was interrupted' : 'failed';
    message = `the last backup run ${verb} at ${last.endTime}${last.error ? `: ${last.error.message}` : ''}`;
  }
  return [{ level: 'WARNING', type: HealthIssueTypes.BACKUP_FAILED, message }];
}

/** A create run counts as successful when it produced a backup (SUCCESS, or PARTIAL: some targets). */
export function isSuccessfulRun(run: RunRecord): boolean {
  return run.status === 'SUCCESS' || run.status === 'PARTIAL';
}

export function successRateSince(createRuns: RunRecord[], since: Date): { rate: number | null; total: number; successful: number } {
  const inWindow = createRuns.filter((run) => Date.parse(run.startTime) >= since.getTime());
  const successful = inWindow.filter(isSuccessfulRun).length;
  return { rate: inWindow.length === 0 ? null : successful / inWindow.length, total: inWindow.length, successful };
}

function checkSuccessRate(now: Date, createRuns: RunRecord[], minSuccessRate: number): HealthIssue[] {
  const { rate, total, successful } = successRateSince(createRuns, new Date(now.getTime() - SUCCESS_RATE_WINDOW_DAYS * DAY_MS));
  if (rate === null || rate >= minSuccessRate) return [];
  const percent = (value: number): string => `${Math.floor(value * 1000) / 10}%`;
  return [
    {
      level: 'WARNING',
      type: HealthIssueTypes.LOW_SUCCESS_RATE,
      message: `${percent(rate)} of backup runs succeeded in the last ${SUCCESS_RATE_WINDOW_DAYS} days (${successful} of ${total}; minimum ${percent(minSuccessRate)})`,
    },
  ];
}

function checkTargetsReachable(targets: TargetState[]): HealthIssue[] {
  return targets
    .filter((target) => !target.reachable)
    .map((target) => ({
      level: 'CRITICAL' as const,
      type: HealthIssueTypes.TARGET_UNREACHABLE,
      message: describeUnreachable(target),
      target: target.name,
    }));
}

function describeUnreachable(target: TargetState): string {
  // Target errors often already name the target ("target offsite (s3 ...) is unreachable: ...").
  if (target.error?.startsWith(`target ${target.name} `)) return target.error;
  return `target ${target.name} is unreachable${target.error ? `: ${target.error}` : ''}`;
}

function checkFreeSpace(targets: TargetState[], minPercent: number, minBytes: number | undefined): HealthIssue[] {
  const issues: HealthIssue[] = [];
  for (const target of targets) {
    if (!target.reachable || !target.space || target.space.totalBytes <= 0) continue;
    const { freeBytes, totalBytes } = target.space;
    const percent = (freeBytes / totalBytes) * 100;
    const limits: string[] = [];
    if (minBytes !== undefined && freeBytes < minBytes) limits.push(`minimum ${formatBytes(minBytes)}`);
    if (percent < minPercent) limits.push(`minimum ${minPercent}%`);
    if (limits.length === 0) continue;
    issues.push({
      level: 'WARNING',
      type: HealthIssueTypes.LOW_DISK_SPACE,
      message: `target ${target.name} has ${formatBytes(freeBytes)} free of ${formatBytes(totalBytes)} (${percent.toFixed(1)}%; ${limits.join(', ')})`,
      target: target.name,
    });
  }
  return issues;
}

function checkNewestBackupEverywhere(targets: TargetState[], newest: NewestBackup | undefined): HealthIssue[] {
  if (!newest) return [];
  return targets
    .filter((target) => target.reachable && target.expected && !newest.targets.includes(target.name))
    .map((target) => ({
      level: 'WARNING' as const,
      type: HealthIssueTypes.BACKUP_MISSING_ON_TARGET,
      message: `newest backup ${newest.id} is missing from target ${target.name} (copy it with: mongo-backup replicate ${newest.id} --to ${target.name})`,
      target: target.name,
    }));
}

/**
 * The last verification is the newest run that checked integrity: a `verify` run (its `verified`
 * flag, else its status; interrupted ones prove nothing) or any other run that recorded `verified`.
 */
function lastVerification(runs: RunRecord[]): { run: RunRecord; passed: boolean } | undefined {
  for (let i = runs.length - 1; i >= 0; i--) {
    const run = runs[i] as RunRecord;
    if (run.verified !== undefined) return { run, passed: run.verified };
    if (run.command === 'verify' && run.status !== 'INTERRUPTED') return { run, passed: run.status === 'SUCCESS' };
  }
  return undefined;
}

function checkLastVerification(runs: RunRecord[]): HealthIssue[] {
  const last = lastVerification(runs);
  if (!last || last.passed) return [];
  const { run } = last;
  const what = run.command === 'verify' ? 'verification' : `verification after ${run.command}`;
  return [
    {
      level: 'CRITICAL',
      type: HealthIssueTypes.VERIFY_FAILED,
      message: `the last ${what}${run.backupId ? ` of ${run.backupId}` : ''} failed at ${run.endTime}${run.error ? `: ${run.error.message}` : ''}`,
    },
  ];
}

/** Each reachable target's chains (docs/PITR.md: a chain lives on one target). */
function chainStates(targets: TargetState[]): TargetChainState[] {
  return targets.filter((t) => t.reachable).map((t) => targetChainState(t.name, chainMembers(t.backups)));
}

/** The newest restore point over all targets, and the targets holding a chain that reaches it. */
function newestRestorePoint(chains: TargetChainState[]): { time: string; backupId: string; targets: string[] } | undefined {
  const withTip = chains.filter((c) => c.newest);
  const best = withTip.reduce<TargetChainState | undefined>((a, c) => (!a || Date.parse(c.newest!.time) > Date.parse(a.newest!.time) ? c : a), undefined);
  if (!best) return undefined;
  return { time: best.newest!.time, backupId: best.newest!.backupId, targets: withTip.filter((c) => c.newest!.time === best.newest!.time).map((c) => c.target) };
}

function checkRestorePointAge(now: Date, chains: TargetChainState[], rpoMinutes: number, notes: string[]): HealthIssue[] {
  const type = HealthIssueTypes.RESTORE_POINT_TOO_OLD;
  if (!chains.some((c) => c.hasPointInTime)) {
    notes.push('point-in-time checks skipped: no point-in-time backup on the reachable targets (the source has no oplog, or none was taken yet)');
    return [];
  }
  const newest = newestRestorePoint(chains);
  if (!newest) return [{ level: 'CRITICAL', type, message: 'no intact point-in-time chain on the reachable targets: no moment can be restored by point-in-time recovery' }];
  const ageMs = now.getTime() - Date.parse(newest.time);
  const limitMs = rpoMinutes * 60_000;
  if (ageMs <= limitMs) return [];
  const level = ageMs > 2 * limitMs ? 'CRITICAL' : 'WARNING';
  return [
    {
      level,
      type,
      message: `newest restore point is ${formatAge(ageMs)} old (${newest.time}, ${newest.backupId} on ${newest.targets.join(', ')}; RPO ${rpoMinutes} min): run "mongo-backup create --type incremental"`,
    },
  ];
}

function checkBrokenChains(chains: TargetChainState[]): HealthIssue[] {
  return chains.flatMap((state) => {
    const orphans = breakingOrphans(state);
    if (orphans.length === 0) return [];
    const until = state.newest ? `restorable only up to ${state.newest.time} (${state.newest.backupId})` : 'no intact chain';
    const what = orphans.map((o) => `${o.member.id} (${o.reason})`).join('; ');
    return [
      {
        level: 'CRITICAL' as const,
        type: HealthIssueTypes.CHAIN_BROKEN,
        message: `broken point-in-time chain on target ${state.target}: ${until}; newer incrementals continue no chain: ${what}. Take a full backup to start a new chain`,
        target: state.target,
      },
    ];
  });
}

function checkOplogWindow(source: SourceOplog | undefined, intervalMs: number, notes: string[]): HealthIssue[] {
  if (!source) return [];
  if ('error' in source) {
    notes.push(`the source's oplog window was not checked: ${source.error}`);
    return [];
  }
  const windowMs = source.newestMs - source.oldestMs;
  if (windowMs >= 2 * intervalMs) return [];
  return [
    {
      level: 'WARNING',
      type: HealthIssueTypes.OPLOG_WINDOW_SHORT,
      message: `the source's oplog holds only ${formatAge(windowMs)} (${new Date(source.oldestMs).toISOString()} to ${new Date(source.newestMs).toISOString()}), less than twice the incremental interval (${formatAge(intervalMs)}): a late incremental would find it rolled over; make the oplog larger or run incrementals more often`,
    },
  ];
}

function healthMetrics(inputs: HealthInputs, createRuns: RunRecord[], newest: NewestBackup | undefined, chains: TargetChainState[]): HealthMetrics {
  const completedCopies = inputs.targets.filter((t) => t.reachable).flatMap((t) => t.backups.filter((b) => b.status === 'COMPLETED'));
  const runMetrics = computeRunMetrics(createRuns, completedCopies);
  const window = successRateSince(createRuns, new Date(inputs.now.getTime() - SUCCESS_RATE_WINDOW_DAYS * DAY_MS));
  const last = createRuns.at(-1);
  const lastSuccessfulRun = createRuns.filter(isSuccessfulRun).at(-1);
  const successTimes = [newest?.time.getTime(), lastSuccessfulRun ? Date.parse(lastSuccessfulRun.endTime) : undefined].filter(
    (t): t is number => t !== undefined,
  );
  return {
    ...runMetrics,
    newestBackup: newest
      ? { id: newest.id, time: newest.time.toISOString(), ageHours: round((inputs.now.getTime() - newest.time.getTime()) / HOUR_MS, 2), targets: newest.targets }
      : null,
    lastRun: last
      ? {
          runId: last.runId,
          status: last.status,
          endTime: last.endTime,
          duration: last.duration,
          ...(last.storedSize !== undefined ? { storedSize: last.storedSize } : {}),
          ...(last.backupId !== undefined ? { backupId: last.backupId } : {}),
        }
      : null,
    lastSuccessTime: successTimes.length ? new Date(Math.max(...successTimes)).toISOString() : null,
    successRate30d: window.rate === null ? null : round(window.rate, 4),
    runs30d: window.total,
    targets: inputs.targets.map((t) => summarizeTarget(t, chains.find((c) => c.target === t.name))),
    newestRestorePoint: restorePointMetric(inputs.now, chains),
    drills: drillMetrics(inputs.now, inputs.targets),
  };
}

function restorePointMetric(now: Date, chains: TargetChainState[]): HealthMetrics['newestRestorePoint'] {
  const newest = newestRestorePoint(chains);
  return newest ? { ...newest, ageMinutes: round((now.getTime() - Date.parse(newest.time)) / 60_000, 1) } : null;
}

function summarizeTarget(target: TargetState, chains: TargetChainState | undefined): TargetSummary {
  const completed = target.backups.filter((b) => b.status === 'COMPLETED');
  const newest = newestCompletedBackup([{ ...target, reachable: true }]);
  const summary: TargetSummary = {
    name: target.name,
    reachable: target.reachable,
    backups: completed.length,
    storedBytes: completed.reduce((sum, b) => sum + (b.manifest?.storedSize ?? 0), 0),
  };
  if (target.error !== undefined) summary.error = target.error;
  if (newest) summary.newestBackupId = newest.id;
  if (target.space) {
    summary.freeBytes = target.space.freeBytes;
    summary.totalBytes = target.space.totalBytes;
    if (target.space.totalBytes > 0) summary.freePercent = round((target.space.freeBytes / target.space.totalBytes) * 100, 1);
  }
  if (chains?.newest) {
    summary.newestRestorePoint = chains.newest.time;
    summary.restorableSeconds = chains.restorableSeconds;
  }
  return summary;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
