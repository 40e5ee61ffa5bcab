/** `show <id|latest>`: one backup in full, with where its copies are. */
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { closeTargets, openTargets, resolveBackup } from '../engine/catalog.js';
import { backupView, renderBackupDetail } from '../output/render.js';
import { collect } from './shared.js';

export function registerShowCommand(program: Command): void {
  program
    .command('show')
    .description('show one backup in full, with where its copies are')
    .argument('<id>', 'backup id, or "latest"')
    .option('--target <name>', 'look only on this target (repeatable)', collect)
    .addHelpText('after', '\nExamples:\n  $ mongo-backup show latest\n  $ mongo-backup show backup-2026-02-18-103000-a1b2c3 --json')
    .action(defineAction(runShow));
}

async function runShow(ctx: CommandContext, ref: string, flags: { target?: string[] }): Promise<ExitCodeValue> {
  const config = await ctx.config();
  const targets = openTargets(config, flags.target ?? []);
  try {
    const resolved = await resolveBackup(targets, ref);
    const names = resolved.holders.map((t) => t.name);
    const locations = Object.fromEntries(resolved.holders.map((t) => [t.name, t.describe()]));
    const view = backupView(resolved.manifest, names);
    ctx.output.result({ success: true, backup: { ...view, locations } }, () => renderBackupDetail(ctx.output, view, locations));
    return ExitCode.OK;
  } finally {
    await closeTargets(targets);
  }
}
