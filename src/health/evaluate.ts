/**
 * The health checks of docs/REFERENCE.md#health-checks as one pure function: inputs (the run journal, what each target
 * holds, free space) in, a status with issues and metrics out. All I/O lives in gather.ts, so every
 * check can be tested with plain data.
 */
import { HEALTH_EXIT_CODE } from '../errors.js';
import { formatBytes } from '../output/output.js';
import type { RunRecord } from '../state/journal.js';
import { computeRunMetrics, type RunMetrics } from './metrics.js';

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
}

export const HEALTH_DEFAULTS = { maxAgeHours: 26, minSuccessRate: 0.9, minFreeDiskPercent: 10 } as const;
export const SUCCESS_RATE_WINDOW_DAYS = 30;

/** A backup as the catalog lists it (structurally the catalog's BackupEntry). */
export interface HealthBackup {
  id: string;
  status: 'COMPLETED' | 'INCOMPLETE' | string;
  time: Date;
  manifest?: { storedSize?: number; size?: number; endTime?: string };
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
}

export interface HealthInputs {
  now: Date;
  config: HealthConfig;
  /** The run journal, in any order. */
  runs: RunRecord[];
  targets: TargetState[];
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
}

export interface HealthMetrics extends RunMetrics {
  newestBackup: { id: string; time: string; ageHours: number; targets: string[] } | null;
  lastRun: { runId: string; status: RunRecord['status']; endTime: string; duration: number; storedSize?: number; backupId?: string } | null;
  /** Time of the last successful backup: the newer of the journal's and the targets' view. */
  lastSuccessTime: string | null;
  successRate30d: number | null;
  runs30d: number;
  targets: TargetSummary[];
}

export interface HealthReport {
  status: HealthStatus;
  timestamp: string;
  issues: HealthIssue[];
  metrics: HealthMetrics;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export function evaluateHealth(inputs: HealthInputs): HealthReport {
  const config = { ...HEALTH_DEFAULTS, ...definedOnly(inputs.config) };
  const runs = [...inputs.runs].sort((a, b) => a.startTime.localeCompare(b.startTime));
  const createRuns = runs.filter((run) => run.command === 'create');
  const newest = newestCompletedBackup(inputs.targets);
  const issues: HealthIssue[] = [
    ...checkBackupAge(inputs, newest, config.maxAgeHours),
    ...checkLastCreateRun(createRuns),
    ...checkSuccessRate(inputs.now, createRuns, config.minSuccessRate),
    ...checkTargetsReachable(inputs.targets),
    ...checkFreeSpace(inputs.targets, config.minFreeDiskPercent, config.minFreeDiskBytes),
    ...checkNewestBackupEverywhere(inputs.targets, newest),
    ...checkLastVerification(runs),
  ];
  return {
    status: worstStatus(issues),
    timestamp: inputs.now.toISOString(),
    issues,
    metrics: healthMetrics(inputs, createRuns, newest),
  };
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

function healthMetrics(inputs: HealthInputs, createRuns: RunRecord[], newest: NewestBackup | undefined): HealthMetrics {
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
    targets: inputs.targets.map(summarizeTarget),
  };
}

function summarizeTarget(target: TargetState): TargetSummary {
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
  return summary;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
