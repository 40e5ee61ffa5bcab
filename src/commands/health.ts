/** `health [--prometheus FILE]`: run the checks of docs/REFERENCE.md#health-checks; the exit code is the status (0/1/2). */
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { closeTargets, listBackups, openTargets } from '../engine/catalog.js';
import { drillSummariesOn } from '../engine/drills.js';
import { oplogBounds } from '../engine/oplog-source.js';
import { usageError, ExitCode, type ExitCodeValue } from '../errors.js';
import { formatAge, healthExitCode, runHealthCheck, type DrillMetrics, type HealthReport, type HealthStatus } from '../health/index.js';
import { formatDurationMs } from '../output/render.js';
import { formatBytes, formatTable, type Output } from '../output/output.js';

interface HealthOptions {
  prometheus?: string;
  timeout?: string;
}

export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description('check backup age, point-in-time restore points, run history, targets and free space; exit code 0 healthy, 1 warning, 2 critical')
    .option('--prometheus <file>', 'also write node_exporter textfile metrics to FILE (atomically)')
    .option('--timeout <seconds>', 'time limit for each target', '30')
    .action(defineAction(async (ctx: CommandContext, options: HealthOptions) => health(ctx, options)));
}

/** Parses a positive number of seconds given on the command line, in milliseconds. */
export function parseTimeoutOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw usageError(`--timeout must be a positive number of seconds, not "${value}"`);
  return seconds * 1000;
}

async function health(ctx: CommandContext, options: HealthOptions): Promise<ExitCodeValue> {
  const run = await checkHealth(ctx, options.timeout, {
    syncAlerts: true,
    ...(options.prometheus ? { prometheusFile: options.prometheus } : {}),
  });
  const { report, activeAlerts } = run;
  ctx.output.result(
    {
      success: true,
      health: { status: report.status, timestamp: report.timestamp, issues: report.issues, notes: report.notes, metrics: { ...report.metrics, activeAlerts } },
    },
    () => renderHealth(ctx.output, report, activeAlerts),
  );
  if (run.prometheusError) {
    // The status was still reported; the exit code says the run did not do everything it was asked.
    ctx.output.error(run.prometheusError);
    return report.status === 'HEALTHY' ? ExitCode.FAILED : healthExitCode(report.status);
  }
  return healthExitCode(report.status);
}

export function colourStatus(output: Output, status: HealthStatus | string): string {
  if (status === 'HEALTHY') return output.c.green(status);
  if (status === 'WARNING') return output.c.yellow(status);
  if (status === 'CRITICAL') return output.c.red(status);
  return status;
}

function renderHealth(output: Output, report: HealthReport, activeAlerts: number): string[] {
  const m = report.metrics;
  const lines = [`Health: ${colourStatus(output, report.status)}  (${report.timestamp})`, ''];
  if (report.issues.length === 0) {
    lines.push('No issues.');
  } else {
    lines.push(
      formatTable(
        ['LEVEL', 'CHECK', 'TARGET', 'MESSAGE'],
        report.issues.map((issue) => [colourStatus(output, issue.level), issue.type, issue.target ?? '-', issue.message]),
      ),
    );
  }
  lines.push('');
  lines.push(
    formatTable(
      ['TARGET', 'STATE', 'BACKUPS', 'NEWEST', 'STORED', 'FREE'],
      m.targets.map((t) => [
        t.name,
        t.reachable ? output.c.green('ok') : output.c.red('unreachable'),
        t.reachable ? String(t.backups) : '-',
        t.newestBackupId ?? '-',
        t.reachable ? formatBytes(t.storedBytes) : '-',
        t.freeBytes !== undefined ? `${formatBytes(t.freeBytes)} (${t.freePercent ?? '?'}%)` : '-',
      ]),
    ),
  );
  lines.push('');
  const newest = m.newestBackup ? `${m.newestBackup.id}, ${formatAge(m.newestBackup.ageHours * 3_600_000)} old` : 'none';
  const lastRun = m.lastRun ? `${m.lastRun.status} at ${m.lastRun.endTime}` : 'none recorded';
  const rate = m.successRate30d === null ? 'no runs' : `${Math.round(m.successRate30d * 1000) / 10}% of ${m.runs30d} runs`;
  const point = m.newestRestorePoint;
  lines.push(`Newest backup:      ${newest}`);
  if (point) lines.push(`Restore point:      ${point.time} (${point.backupId}, ${formatAge(point.ageMinutes * 60_000)} old)`);
  lines.push(...renderDrills(m.drills));
  lines.push(`Last backup run:    ${lastRun}`);
  lines.push(`Success (30 days):  ${rate}`);
  lines.push(`Active alerts:      ${activeAlerts}${activeAlerts > 0 ? ' (mongo-backup alerts list)' : ''}`);
  for (const note of report.notes) lines.push(`Note: ${note}`);
  return lines;
}

function renderDrills(drills: DrillMetrics): string[] {
  const passed = drills.lastPassed;
  const last = drills.last;
  const lines = [`Last passed drill:  ${passed ? `${passed.time} (${passed.backupId} on ${passed.target}, ${formatDurationMs(passed.durationMs)} for ${formatBytes(passed.bytes)})` : 'none'}`];
  if (last && !(last.passed && last.trusted)) lines.push(`Newest drill:       ${last.passed ? 'passed, not trusted' : `FAILED${last.code ? ` (${last.code})` : ''}`} at ${last.time} (${last.backupId} on ${last.target})`);
  if (drills.rto) lines.push(`RTO estimate:       ${formatDurationMs(drills.rto.seconds * 1000)} for the newest backup (${formatBytes(drills.rto.newestBackupBytes)})`);
  return lines;
}

/** Runs the health checks against every configured target (shared by `health` and `metrics`). */
export async function checkHealth(
  ctx: CommandContext,
  timeout: string | undefined,
  options: { syncAlerts: boolean; prometheusFile?: string },
): Promise<Awaited<ReturnType<typeof runHealthCheck>>> {
  const timeoutMs = parseTimeoutOption(timeout);
  const config = await ctx.config();
  const targets = openTargets(config);
  try {
    const uri = config.mongodb.uri;
    return await runHealthCheck(config, targets, {
      listBackups,
      // The entries listBackups returned: their objects name the drill records to read.
      listDrills: drillSummariesOn,
      ...(uri ? { readSourceOplog: () => sourceOplogWindow(uri) } : {}),
      ...options,
      ...(timeoutMs ? { timeoutMs } : {}),
      warn: (message) => ctx.output.warn(message),
    });
  } finally {
    await closeTargets(targets);
  }
}

/** The source's oplog, oldest to newest entry: one short connection, made only when point-in-time backups exist. */
async function sourceOplogWindow(uri: string): Promise<{ oldestMs: number; newestMs: number } | undefined> {
  const bounds = await oplogBounds(uri);
  return bounds.oldest && bounds.newest ? { oldestMs: bounds.oldest.timeMs, newestMs: bounds.newest.timeMs } : undefined;
}
