/** `replicate <id|latest|--all-missing> --to NAME [--from NAME]`: copy backups between targets. */
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { replicateRun } from '../engine/operations.js';
import { usageError, ExitCode, exitCodeFor, type ExitCodeValue } from '../errors.js';
import { formatBytes } from '../output/output.js';
import { ProgressReporter } from '../output/progress.js';
import { backupIdArgument } from './shared.js';

export function registerReplicateCommand(program: Command): void {
  program
    .command('replicate')
    .description('copy a backup to another target, verify it there, manifest last (idempotent)')
    .argument('[id]', 'backup id, or "latest"')
    .option('--all-missing', 'every backup the destination does not have yet')
    .requiredOption('--to <target>', 'destination target')
    .option('--from <target>', 'source target (default: any that holds the backup)')
    .addHelpText(
      'after',
      `
An incremental is copied with its whole chain: the earlier links the destination lacks go first,
oldest first, each verified, so no link ever lands before its parent.

Examples:
  $ mongo-backup replicate latest --to offsite
  $ mongo-backup replicate --all-missing --from local --to offsite`,
    )
    .action(defineAction(runReplicate));
}

async function runReplicate(ctx: CommandContext, ref: string | undefined, flags: { allMissing?: boolean; to: string; from?: string }): Promise<ExitCodeValue> {
  if (!ref && !flags.allMissing) throw usageError('give a backup id, "latest", or --all-missing');
  if (ref && flags.allMissing) throw usageError('give either a backup id or --all-missing, not both');
  if (ref !== undefined) backupIdArgument(ref, { latest: true });
  const config = await ctx.config();
  const outcomes = await replicateRun(
    config,
    {
      ...(ref ? { ref } : {}),
      allMissing: Boolean(flags.allMissing),
      to: flags.to,
      ...(flags.from ? { from: flags.from } : {}),
      signal: ctx.signal,
      events: new ProgressReporter(ctx.output),
    },
    ctx.booking,
  );
  const ok = outcomes.every((o) => o.action !== 'failed');
  ctx.output.result({ success: ok, count: outcomes.length, replicated: outcomes }, () =>
    outcomes.length === 0
      ? `nothing to replicate: ${flags.to} already has every backup`
      : outcomes.map((o) =>
          o.action === 'copied'
            ? `${ctx.output.c.green('✔')} ${o.backupId}: ${o.from} → ${o.to} (${formatBytes(o.bytes ?? 0)}, verified)`
            : o.action === 'already-present'
              ? `= ${o.backupId}: already on ${o.to}`
              : `${ctx.output.c.red('✘')} ${o.backupId}: ${o.error?.message}`,
        ),
  );
  const firstFailure = outcomes.find((o) => o.action === 'failed')?.error;
  return ok ? ExitCode.OK : firstFailure ? exitCodeFor(firstFailure.code) : ExitCode.FAILED;
}
