/**
 * The restore-drill checks of `health` (docs/REFERENCE.md#health-checks): how long ago a backup was
 * last proven restorable, and the recovery time that proof predicts for today's newest backup.
 * Pure: inputs are the drill records the targets hold, already judged (a record whose checksum no
 * longer matches its manifest is "not trusted" and never counts as proof).
 */
import { formatBytes } from '../output/output.js';

/** A drill record as health sees it (structurally the engine's DrillView, flattened). */
export interface HealthDrill {
  /** The target holding the record (the one the drill read). */
  target: string;
  backupId: string;
  /** When the drill started (ISO). */
  time: string;
  passed: boolean;
  trusted: boolean;
  distrust?: string;
  /** Plain archive bytes restored. */
  bytes: number;
  /** Milliseconds from the start to the end of the counts. */
  durationMs: number;
  code?: string;
  message?: string;
}

export interface DrillMetrics {
  /** The newest drill record, passed or not. */
  last: { time: string; backupId: string; target: string; passed: boolean; trusted: boolean; code?: string } | null;
  /** The newest passed drill whose record is trusted: the proof health counts. */
  lastPassed: { time: string; backupId: string; target: string; bytes: number; durationMs: number; ageDays: number } | null;
  /** Records not counted: their checksum no longer matches the manifest. */
  untrusted: Array<{ target: string; backupId: string; time: string; reason: string }>;
  /** Recovery time of the newest backup at the newest passed drill's throughput. */
  rto: { seconds: number; bytesPerSecond: number; newestBackupBytes: number; basedOn: string } | null;
}

interface DrillTargets {
  name: string;
  reachable: boolean;
  drills?: HealthDrill[];
  backups: Array<{ status: string; time: Date; id: string; manifest?: { size?: number } }>;
}

const DAY_MS = 86_400_000;

function allDrills(targets: DrillTargets[]): HealthDrill[] {
  return targets
    .filter((t) => t.reachable)
    .flatMap((t) => t.drills ?? [])
    .sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
}

/** The newest passed, trusted drill. */
export function newestPassedDrill(targets: DrillTargets[]): HealthDrill | undefined {
  return allDrills(targets).find((d) => d.passed && d.trusted);
}

/** Bytes per second a drill restored (plain archive bytes over its duration). */
export function drillThroughput(drill: Pick<HealthDrill, 'bytes' | 'durationMs'>): number | undefined {
  if (drill.bytes <= 0 || drill.durationMs <= 0) return undefined;
  return drill.bytes / (drill.durationMs / 1000);
}

/** Seconds a restore of `bytes` takes at the drill's throughput. */
export function rtoEstimateSeconds(drill: Pick<HealthDrill, 'bytes' | 'durationMs'>, bytes: number): number | undefined {
  const rate = drillThroughput(drill);
  return rate === undefined ? undefined : bytes / rate;
}

/** The plain archive size of the newest completed backup on the reachable targets. */
export function newestBackupBytes(targets: DrillTargets[]): { id: string; bytes: number } | undefined {
  let newest: { id: string; time: number; bytes: number } | undefined;
  for (const t of targets.filter((x) => x.reachable)) {
    for (const b of t.backups) {
      if (b.status !== 'COMPLETED' || b.manifest?.size === undefined) continue;
      if (!newest || b.time.getTime() > newest.time) newest = { id: b.id, time: b.time.getTime(), bytes: b.manifest.size };
    }
  }
  return newest ? { id: newest.id, bytes: newest.bytes } : undefined;
}

function oldestBackupTime(targets: DrillTargets[]): number | undefined {
  const times = targets.filter((t) => t.reachable).flatMap((t) => t.backups.filter((b) => b.status === 'COMPLETED').map((b) => b.time.getTime()));
  return times.length === 0 ? undefined : Math.min(...times);
}

function days(ms: number): string {
  return `${Math.floor((ms / DAY_MS) * 10) / 10}d`;
}

/**
 * No passed drill within `maxDays` → WARNING, within twice that → CRITICAL. Before any drill, the
 * clock starts at the oldest backup: a new installation is not overdue on its first day.
 */
export function checkDrillAge(
  now: Date,
  targets: DrillTargets[],
  maxDays: number,
  notes: string[],
): Array<{ level: 'WARNING' | 'CRITICAL'; type: 'drill_overdue'; message: string }> {
  for (const d of allDrills(targets).filter((x) => !x.trusted)) {
    notes.push(`drill record of ${d.backupId} on ${d.target} (${d.time}) is not trusted: ${d.distrust ?? 'its checksum does not match'}`);
  }
  if (maxDays <= 0) return [];
  const limitMs = maxDays * DAY_MS;
  const passed = newestPassedDrill(targets);
  const since = passed ? Date.parse(passed.time) : oldestBackupTime(targets);
  if (since === undefined) return [];
  const ageMs = now.getTime() - since;
  if (ageMs <= limitMs) return [];
  const level = ageMs > 2 * limitMs ? 'CRITICAL' : 'WARNING';
  const what = passed
    ? `the last passed restore drill is ${days(ageMs)} old (${passed.backupId} on ${passed.target}, ${passed.time}; limit ${maxDays}d)`
    : `no backup has passed a restore drill, and the oldest backup is ${days(ageMs)} old (limit ${maxDays}d)`;
  return [{ level, type: 'drill_overdue', message: `${what}: run "mongo-backup drill latest --uri SCRATCH" (or --prefix P)` }];
}

/** The RTO estimate above `rtoHours` → WARNING. */
export function checkRto(targets: DrillTargets[], rtoHours: number): Array<{ level: 'WARNING'; type: 'rto_exceeded'; message: string }> {
  const rto = rtoOf(targets);
  if (!rto || rto.seconds <= rtoHours * 3600) return [];
  return [
    {
      level: 'WARNING',
      type: 'rto_exceeded',
      message: `a restore of the newest backup (${formatBytes(rto.newestBackupBytes)}) would take about ${hours(rto.seconds)} at the last drill's ${formatBytes(rto.bytesPerSecond)}/s (${rto.basedOn}), more than the RTO of ${rtoHours}h: restore faster (--parallel-collections, --insertion-workers, a larger server) or split the data`,
    },
  ];
}

function hours(seconds: number): string {
  return seconds >= 3600 ? `${(seconds / 3600).toFixed(1)}h` : `${Math.ceil(seconds / 60)} min`;
}

function rtoOf(targets: DrillTargets[]): DrillMetrics['rto'] {
  const passed = newestPassedDrill(targets);
  const newest = newestBackupBytes(targets);
  if (!passed || !newest) return null;
  const seconds = rtoEstimateSeconds(passed, newest.bytes);
  const rate = drillThroughput(passed);
  if (seconds === undefined || rate === undefined) return null;
  return { seconds: Math.round(seconds * 10) / 10, bytesPerSecond: Math.round(rate), newestBackupBytes: newest.bytes, basedOn: `drill of ${passed.backupId} at ${passed.time}` };
}

export function drillMetrics(now: Date, targets: DrillTargets[]): DrillMetrics {
  const drills = allDrills(targets);
  const last = drills[0];
  const passed = newestPassedDrill(targets);
  return {
    last: last ? { time: last.time, backupId: last.backupId, target: last.target, passed: last.passed, trusted: last.trusted, ...(last.code ? { code: last.code } : {}) } : null,
    lastPassed: passed
      ? {
          time: passed.time,
          backupId: passed.backupId,
          target: passed.target,
          bytes: passed.bytes,
          durationMs: passed.durationMs,
          ageDays: Math.round(((now.getTime() - Date.parse(passed.time)) / DAY_MS) * 100) / 100,
        }
      : null,
    untrusted: drills.filter((d) => !d.trusted).map((d) => ({ target: d.target, backupId: d.backupId, time: d.time, reason: d.distrust ?? '' })),
    rto: rtoOf(targets),
  };
}
