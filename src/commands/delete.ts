/** `delete <id> [--target NAME] [--yes]`: remove one backup (all copies unless --target). */
import * as readline from 'node:readline/promises';
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { deleteRun } from '../engine/operations.js';
import { BackupError, ErrorCodes, ExitCode, type ExitCodeValue } from '../errors.js';
import { backupIdArgument, collect } from './shared.js';

export function registerDeleteCommand(program: Command): void {
  program
    .command('delete')
    .description('delete one backup (every copy, or only those on --target)')
    .argument('<id>', 'backup id')
    .option('--target <name>', 'delete only the copy on this target (repeatable)', collect)
    .option('--yes', 'do not ask for confirmation (needed when not on a terminal)')
    .addHelpText('after', '\nExamples:\n  $ mongo-backup delete backup-2026-02-18-103000-a1b2c3 --target local --yes')
    .action(defineAction(runDelete));
}

async function runDelete(ctx: CommandContext, id: string, flags: { target?: string[]; yes?: boolean }): Promise<ExitCodeValue> {
  if (id === 'latest') throw new BackupError(ErrorCodes.USAGE, 'delete takes an explicit backup id, not "latest"');
  backupIdArgument(id, { latest: false });
  const config = await ctx.config();
  const outcomes = await deleteRun(
    config,
    { id, targets: flags.target ?? [], ...(flags.yes ? {} : { confirm: (holders: string[]) => confirmDeletion(id, holders) }) },
    ctx.booking,
  );
  if (!outcomes) {
    ctx.output.info('nothing deleted');
    return ExitCode.FAILED;
  }
  const ok = outcomes.every((o) => o.ok);
  ctx.output.result({ success: ok, backupId: id, targets: outcomes }, () =>
    outcomes.map((o) => (o.ok ? `${ctx.output.c.green('✔')} deleted ${id} from ${o.target}` : `${ctx.output.c.red('✘')} ${o.target}: ${o.error}`)),
  );
  return ok ? ExitCode.OK : ExitCode.FAILED;
}

/** Asks on the terminal; off a terminal only --yes confirms. */
async function confirmDeletion(id: string, holders: string[]): Promise<boolean> {
  if (!process.stdin.isTTY) throw new BackupError(ErrorCodes.USAGE, 'not on a terminal: add --yes to confirm the deletion');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`Delete backup ${id} from ${holders.join(', ')}? [y/N] `);
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}
