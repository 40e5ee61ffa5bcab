/** `alerts list [--all]` and `alerts resolve <alert-id> [--note T]`: the alert log in the state directory. */
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { formatTable } from '../output/output.js';
import { isActive, loadAlerts, resolveAlertById, type Alert } from '../state/alerts.js';
import { colourStatus } from './health.js';

export function registerAlertsCommand(program: Command): void {
  const alerts = program.command('alerts').description('the alert log: list alerts, resolve them by hand');
  alerts
    .command('list')
    .description('unresolved alerts, newest first')
    .option('--all', 'include resolved alerts')
    .action(defineAction(async (ctx: CommandContext, options: { all?: boolean }) => listAlerts(ctx, Boolean(options.all))));
  alerts
    .command('resolve')
    .description('mark an alert as resolved')
    .argument('<alert-id>', 'the id shown by "alerts list" (a unique prefix is enough)')
    .option('--note <text>', 'why it is resolved, kept with the alert')
    .action(defineAction(async (ctx: CommandContext, id: string, options: { note?: string }) => resolveAlert(ctx, id, options.note)));
}

async function listAlerts(ctx: CommandContext, all: boolean): Promise<ExitCodeValue> {
  const config = await ctx.config();
  const alerts = (await loadAlerts(config.stateDir, (message) => ctx.output.warn(message))).filter((a) => all || isActive(a));
  ctx.output.result({ success: true, count: alerts.length, alerts }, () => {
    if (alerts.length === 0) return all ? 'No alerts.' : 'No unresolved alerts.';
    const headers = ['ID', 'LEVEL', 'TYPE', 'TARGET', 'SINCE', 'SEEN', ...(all ? ['RESOLVED'] : []), 'MESSAGE'];
    return formatTable(headers, alerts.map((alert) => row(ctx, alert, all)));
  });
  return ExitCode.OK;
}

/** 2026-02-18 10:30:00Z: readable and still unambiguous. */
function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function row(ctx: CommandContext, alert: Alert, all: boolean): string[] {
  const resolved = alert.resolvedAt ? `${shortTime(alert.resolvedAt)} (${alert.resolution ?? 'manual'}${alert.note ? `: ${alert.note}` : ''})` : '-';
  return [
    alert.id,
    colourStatus(ctx.output, alert.level),
    alert.type,
    alert.target ?? '-',
    shortTime(alert.createdAt),
    `${alert.occurrences}x, last ${shortTime(alert.lastSeenAt)}`,
    ...(all ? [resolved] : []),
    alert.message,
  ];
}

async function resolveAlert(ctx: CommandContext, id: string, note: string | undefined): Promise<ExitCodeValue> {
  const config = await ctx.config();
  const alert = await resolveAlertById(config.stateDir, id, note, { warn: (message) => ctx.output.warn(message) });
  ctx.output.result({ success: true, alert }, () => `Resolved ${alert.id} (${alert.level} ${alert.type}${alert.target ? `, target ${alert.target}` : ''}).`);
  return ExitCode.OK;
}
