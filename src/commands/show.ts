/** `show <id|latest>`: one backup in full, with where its copies are and its chain on each (docs/PITR.md). */
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { buildCatalog, chainPosition, closeTargets, openTargets, resolveInCatalog } from '../engine/catalog.js';
import { backupView, renderBackupDetail } from '../output/render.js';
import { backupIdArgument, collect } from './shared.js';

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
  backupIdArgument(ref, { latest: true });
  const config = await ctx.config();
  const targets = openTargets(config, flags.target ?? []);
  try {
    const catalog = await buildCatalog(targets);
    const resolved = resolveInCatalog(catalog, targets, ref);
    const names = resolved.holders.map((t) => t.name);
    const locations = Object.fromEntries(resolved.holders.map((t) => [t.name, t.describe()]));
    const view = backupView(resolved.manifest, names);
    const chains = catalog.byTarget
      .filter((t) => names.includes(t.target))
      .map(({ target, manifests }) => ({ target, position: chainPosition(manifests, resolved.id) }));
    const chainJson = chains.flatMap(({ target, position }) => (position ? [{ target, ...position }] : []));
    ctx.output.result({ success: true, backup: { ...view, locations, ...(chainJson.length > 0 ? { chains: chainJson } : {}) } }, () =>
      renderBackupDetail(ctx.output, view, locations, chains),
    );
    return ExitCode.OK;
  } finally {
    await closeTargets(targets);
  }
}
