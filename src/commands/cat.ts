/** `cat <id|latest>`: the plain mongodump archive on stdout, to pipe into `mongorestore --archive`. */
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { catBackup } from '../engine/restore.js';
import { BackupError, ErrorCodes, usageError, ExitCode, type ExitCodeValue } from '../errors.js';
import { backupIdArgument } from './shared.js';

export function registerCatCommand(program: Command): void {
  program
    .command('cat')
    .description('write the plain mongodump archive (decrypted, decompressed) to stdout')
    .argument('<id>', 'backup id, or "latest"')
    .option('--from <target>', 'read from this target')
    .option('--no-verify', 'skip the checksum pass before streaming')
    .addHelpText('after', '\nExamples:\n  $ mongo-backup cat latest | mongorestore --archive --nsFrom "shop.*" --nsTo "copy.*"\n  $ mongo-backup cat latest > dump.archive')
    .action(defineAction(runCat));
}

async function runCat(ctx: CommandContext, ref: string, flags: { from?: string; verify: boolean }): Promise<ExitCodeValue> {
  backupIdArgument(ref, { latest: true });
  if (ctx.output.json) throw usageError('cat writes the archive to stdout; --json is not available');
  if (process.stdout.isTTY) throw usageError('refusing to write a binary archive to a terminal', 'pipe it: mongo-backup cat latest | mongorestore --archive');
  const config = await ctx.config();
  const manifest = await catBackup(config, { ref, ...(flags.from ? { from: flags.from } : {}), verify: flags.verify, signal: ctx.signal }, process.stdout).catch(
    (error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'EPIPE') {
        throw new BackupError(ErrorCodes.FAILED, 'the reader of the archive stopped early (broken pipe)', {
          hint: 'check the output of the command cat was piped into (e.g. mongorestore)',
        });
      }
      throw error;
    },
  );
  ctx.output.debug(`wrote backup ${manifest.id} (${manifest.size} bytes)`);
  return ExitCode.OK;
}
