/** `prune`: apply the retention policy (config per target; flags override) and print every decision with its reason. */
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { pruneFailed, pruneRun } from '../engine/operations.js';
import type { PruneOverrides, PruneReport, TargetPruneReport } from '../engine/prune.js';
import { formatTable, type Output } from '../output/output.js';
import { formatTime } from '../output/render.js';
import { collect, durationFlag, nonNegativeInt } from './shared.js';

interface PruneFlags extends PruneOverrides {
  target?: string[];
  dryRun?: boolean;
}

export function registerPruneCommand(program: Command): void {
  program
    .command('prune')
    .description('apply the retention policy to each target and print every keep/delete decision with its reason')
    .option('--target <name>', 'only this target (repeatable)', collect)
    .option('--dry-run', 'decide and print, delete nothing')
    .option('--keep-last <n>', 'keep the n newest backups', nonNegativeInt)
    .option('--keep-hourly <n>', 'keep the newest backup of each of the last n hours', nonNegativeInt)
    .option('--keep-daily <n>', 'keep the newest backup of each of the last n days', nonNegativeInt)
    .option('--keep-weekly <n>', 'keep the newest backup of each of the last n ISO weeks', nonNegativeInt)
    .option('--keep-monthly <n>', 'keep the newest backup of each of the last n months', nonNegativeInt)
    .option('--keep-yearly <n>', 'keep the newest backup of each of the last n years', nonNegativeInt)
    .option('--max-age <duration>', 'delete backups older than this (e.g. 30d, 12h, 2w)', durationFlag('--max-age'))
    .option('--pitr-window <duration>', 'keep every backup needed to restore any moment of the last duration (e.g. 7d)', durationFlag('--pitr-window'))
    .addHelpText(
      'after',
      `
Flags replace the configured policy of each target for this run. Count rules (--keep-*) count full
backups; incrementals are kept by --pitr-window and by being needed by a kept backup. The newest
completed backup of a target is never deleted, nor a link a kept backup depends on; incrementals
whose chain is broken and incomplete backups (no manifest) older than 24 h are removed.

Examples:
  $ mongo-backup prune --dry-run
  $ mongo-backup prune --target offsite --keep-daily 7 --keep-weekly 4 --keep-monthly 6`,
    )
    .action(defineAction(runPrune));
}

async function runPrune(ctx: CommandContext, flags: PruneFlags): Promise<ExitCodeValue> {
  const config = await ctx.config();
  const overrides: PruneOverrides = {
    ...(flags.keepLast !== undefined ? { keepLast: flags.keepLast } : {}),
    ...(flags.keepHourly !== undefined ? { keepHourly: flags.keepHourly } : {}),
    ...(flags.keepDaily !== undefined ? { keepDaily: flags.keepDaily } : {}),
    ...(flags.keepWeekly !== undefined ? { keepWeekly: flags.keepWeekly } : {}),
    ...(flags.keepMonthly !== undefined ? { keepMonthly: flags.keepMonthly } : {}),
    ...(flags.keepYearly !== undefined ? { keepYearly: flags.keepYearly } : {}),
    ...(flags.maxAge !== undefined ? { maxAge: flags.maxAge } : {}),
    ...(flags.pitrWindow !== undefined ? { pitrWindow: flags.pitrWindow } : {}),
  };
  const report = await pruneRun(
    config,
    { targets: flags.target ?? [], dryRun: Boolean(flags.dryRun), overrides, signal: ctx.signal },
    ctx.booking,
  );
  const failed = report.targets.some(pruneFailed);
  ctx.output.result({ success: !failed, prune: report }, () => renderPruneReport(ctx.output, report));
  return failed ? ExitCode.FAILED : ExitCode.OK;
}

export function renderPruneReport(output: Output, report: PruneReport): string[] {
  const lines: string[] = [];
  for (const t of report.targets) {
    lines.push(`${output.c.bold(`target ${t.target}`)}: ${t.policy}`);
    for (const warning of t.lockWarnings ?? []) lines.push(`  ${output.c.yellow('!')} ${warning}`);
    if (t.error) lines.push(`  ${output.c.red('✘')} ${t.error.message}`);
    else lines.push(decisionTable(output, t, report.dryRun));
    // Leftover lines come whatever retention did: the cleanup runs and fails on its own.
    for (const leftover of t.leftovers) lines.push(report.dryRun ? `  would remove leftover ${leftover}` : `  removed leftover ${leftover.endsWith('/') ? 'empty folder' : 'temporary file'} ${leftover}`);
    if (t.leftoversError) lines.push(`  ${output.c.red('✘')} leftover cleanup failed: ${t.leftoversError.message}`);
    const locked = t.locked > 0 ? ` (${t.locked} only because of their Object Lock)` : '';
    if (!t.error) lines.push(`  ${t.kept} kept${locked}, ${t.deleted} ${report.dryRun ? 'to delete (dry run: nothing deleted)' : 'deleted'}`);
  }
  return lines;
}

function decisionTable(output: Output, t: TargetPruneReport, dryRun: boolean): string {
  const c = output.c;
  if (t.decisions.length === 0) return '  no backups';
  return formatTable(
    ['  ACTION', 'ID', 'TIME (UTC)', 'TYPE', 'STATUS', 'REASON'],
    t.decisions.map((d) => [
      `  ${d.action === 'keep' ? c.green('keep') : c.red(dryRun ? 'would delete' : d.error ? 'FAILED delete' : 'delete')}`,
      d.id,
      formatTime(d.time),
      d.type ?? '-',
      d.status,
      d.error ? `${d.reasons.join('; ')} — ${d.error}` : d.reasons.join('; '),
    ]),
  );
}
