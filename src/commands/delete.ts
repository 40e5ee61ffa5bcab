/** `delete <id> [--target NAME] [--yes]`: remove one backup (all copies unless --target). */
import * as readline from 'node:readline/promises';
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { buildCatalog, closeTargets, openTargets, type Catalog } from '../engine/catalog.js';
import type { Target } from '../targets/types.js';
import { removeBackup } from '../engine/delete.js';
import { recordedRun, withLock } from '../engine/runs.js';
import { BackupError, ErrorCodes, toBackupError, ExitCode, type ExitCodeValue } from '../errors.js';
import { collect } from './shared.js';

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
  const config = await ctx.config();
  const targets = openTargets(config, flags.target ?? []);
  const warn = (m: string): void => ctx.output.warn(m);
  try {
    const { holders, unreachable } = await locateCopies(targets, id);
    if (!flags.yes) {
      if (!process.stdin.isTTY) throw new BackupError(ErrorCodes.USAGE, 'not on a terminal: add --yes to confirm the deletion');
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question(`Delete backup ${id} from ${holders.map((t) => t.name).join(', ')}? [y/N] `);
      rl.close();
      if (!/^y(es)?$/i.test(answer.trim())) {
        ctx.output.info('nothing deleted');
        return ExitCode.FAILED;
      }
    }
    const outcomes = await withLock(config, ctx.commandLine, warn, () =>
      recordedRun(config, 'delete', warn, async () => {
        const value = [
          ...(await Promise.all(
            holders.map(async (t) => {
              try {
                return { target: t.name, ok: true, objects: await removeBackup(t, id) };
              } catch (error) {
                return { target: t.name, ok: false, error: toBackupError(error).message };
              }
            }),
          )),
          // A copy may sit on a target that could not be listed: say so rather than claim success.
          ...unreachable.map((u) => ({ target: u.target, ok: false, error: `not reachable, a copy may remain there: ${u.error.message}` })),
        ];
        const failed = value.filter((o) => !o.ok);
        return {
          value,
          status: failed.length === 0 ? 'SUCCESS' : failed.length === value.length ? 'FAILED' : 'PARTIAL',
          details: { backupId: id, targets: Object.fromEntries(value.map((o) => [o.target, o.ok ? { status: 'ok' as const } : { status: 'failed' as const, error: o.error ?? '' }])) },
        };
      }),
    );
    const ok = outcomes.every((o) => o.ok);
    ctx.output.result({ success: ok, backupId: id, targets: outcomes }, () =>
      outcomes.map((o) => (o.ok ? `${ctx.output.c.green('✔')} deleted ${id} from ${o.target}` : `${ctx.output.c.red('✘')} ${o.target}: ${o.error}`)),
    );
    return ok ? ExitCode.OK : ExitCode.FAILED;
  } finally {
    await closeTargets(targets);
  }
}

/**
 * The targets holding any part of backup `id` (complete or not: an incomplete folder can be deleted
 * too), and the targets that could not be listed.
 */
async function locateCopies(targets: Target[], id: string): Promise<{ holders: Target[]; unreachable: Catalog['unreachable'] }> {
  const catalog = await buildCatalog(targets);
  const names = new Set([...catalog.backups.filter((b) => b.id === id).flatMap((b) => b.targets), ...catalog.incomplete.filter((b) => b.id === id).map((b) => b.target)]);
  if (names.size === 0) {
    if (catalog.unreachable.length === targets.length && targets.length > 0) throw catalog.unreachable[0]!.error;
    throw new BackupError(ErrorCodes.BACKUP_NOT_FOUND, `backup ${id} was not found on ${targets.map((t) => t.name).join(', ')}`, {
      hint: 'run "mongo-backup list" to see the backups',
    });
  }
  return { holders: targets.filter((t) => names.has(t.name)), unreachable: catalog.unreachable };
}
