/**
 * `metrics`: totals, success rate, durations and sizes (shape: docs/REFERENCE.md#json-output). Counts come from the run
 * journal's create runs; totalSize is the stored size of every completed copy on the reachable
 * targets; healthStatus is computed like `health` does, but without raising or resolving alerts.
 */
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { formatBytes, formatTable } from '../output/output.js';
import { checkHealth, colourStatus } from './health.js';

interface MetricsOptions {
  timeout?: string;
}

export function registerMetricsCommand(program: Command): void {
  program
    .command('metrics')
    .description('totals, success rate, durations and sizes of backups')
    .option('--timeout <seconds>', 'time limit for each target', '30')
    .action(defineAction(async (ctx: CommandContext, options: MetricsOptions) => metrics(ctx, options)));
}

async function metrics(ctx: CommandContext, options: MetricsOptions): Promise<ExitCodeValue> {
  const run = await checkHealth(ctx, options.timeout, { syncAlerts: false });
  const m = run.report.metrics;
  for (const target of m.targets.filter((t) => !t.reachable)) {
    ctx.output.warn(`target ${target.name} is unreachable, its backups are not in totalSize: ${target.error ?? 'unknown error'}`);
  }
  const body = {
    totalBackups: m.totalBackups,
    successfulBackups: m.successfulBackups,
    failedBackups: m.failedBackups,
    successRate: m.successRate,
    averageDuration: m.averageDuration,
    averageSize: m.averageSize,
    totalSize: m.totalSize,
    healthStatus: run.report.status,
    activeAlerts: run.activeAlerts,
  };
  const dash = (value: number | null, render: (v: number) => string): string => (value === null ? '-' : render(value));
  ctx.output.result({ success: true, metrics: body }, () =>
    formatTable(
      ['METRIC', 'VALUE'],
      [
        ['backup runs', String(body.totalBackups)],
        ['succeeded', String(body.successfulBackups)],
        ['failed', String(body.failedBackups)],
        ['success rate', dash(body.successRate, (v) => `${Math.round(v * 1000) / 10}%`)],
        ['average duration', dash(body.averageDuration, (v) => `${(v / 1000).toFixed(1)} s`)],
        ['average size', dash(body.averageSize, formatBytes)],
        ['total stored', formatBytes(body.totalSize)],
        ['health', colourStatus(ctx.output, body.healthStatus)],
        ['active alerts', String(body.activeAlerts)],
      ],
    ),
  );
  return ExitCode.OK;
}
