/** `list`: backups on the chosen targets, newest first (read from the targets themselves). */
import { Option, type Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { buildCatalog, closeTargets, openTargets } from '../engine/catalog.js';
import { backupView, renderBackupTable } from '../output/render.js';
import { collect, parseSince, positiveInt } from './shared.js';

interface ListFlags {
  target?: string[];
  type?: 'FULL' | 'INCREMENTAL';
  status?: 'COMPLETED' | 'FAILED';
  since?: string;
  limit?: number;
}

export function registerListCommand(program: Command): void {
  program
    .command('list')
    .description('list backups, newest first')
    .option('--target <name>', 'only backups on this target (repeatable)', collect)
    .addOption(new Option('--type <type>', 'only this type').choices(['FULL', 'INCREMENTAL']).argParser((v) => v.toUpperCase()))
    .addOption(new Option('--status <status>', 'only this status').choices(['COMPLETED', 'FAILED']).argParser((v) => v.toUpperCase()))
    .option('--since <date>', 'only backups started at or after this date (ISO date or an age like 7d)')
    .option('--limit <n>', 'at most n backups', positiveInt)
    .addHelpText('after', '\nExamples:\n  $ mongo-backup list --limit 5\n  $ mongo-backup list --target offsite --since 7d --json')
    .action(defineAction(runList));
}

async function runList(ctx: CommandContext, flags: ListFlags): Promise<number> {
  const config = await ctx.config();
  const targets = openTargets(config, flags.target ?? []);
  try {
    const catalog = await buildCatalog(targets);
    for (const u of catalog.unreachable) ctx.output.warn(`target ${u.target} could not be listed: ${u.error.message}`);
    const since = flags.since ? parseSince(flags.since) : undefined;
    let backups = catalog.backups.filter(
      (b) =>
        (!flags.type || b.manifest.type === flags.type) &&
        (!flags.status || b.manifest.status === flags.status) &&
        (!since || Date.parse(b.manifest.startTime) >= since.getTime()),
    );
    if (flags.limit) backups = backups.slice(0, flags.limit);
    const views = backups.map((b) => backupView(b.manifest, b.targets, false));
    ctx.output.result({ success: true, count: views.length, backups: views }, () =>
      views.length === 0
        ? catalog.unreachable.length > 0 ? 'no backups found on the reachable targets' : 'no backups yet (run "mongo-backup create")'
        : renderBackupTable(ctx.output, backups.map((b) => ({ manifest: b.manifest, targets: b.targets }))),
    );
    if (catalog.incomplete.length > 0 && !flags.status) {
      ctx.output.info(`(${catalog.incomplete.length} incomplete backup folder(s) without a valid manifest not shown; "prune" removes them after 24 h)`);
    }
    return catalog.unreachable.length > 0 && catalog.unreachable.length === targets.length ? 1 : 0;
  } finally {
    await closeTargets(targets);
  }
}
