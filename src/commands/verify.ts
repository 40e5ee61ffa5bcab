/** `verify <id|latest|--all> [--target NAME] [--deep]`: prove copies are intact (and, deep, restorable). */
import type { Command } from 'commander';
import { describeLock } from '../targets/lock-policy.js';
import { defineAction, type CommandContext } from '../cli-context.js';
import { verifyRun } from '../engine/operations.js';
import { ErrorCodes, usageError, ExitCode, type ExitCodeValue } from '../errors.js';
import { ProgressReporter } from '../output/progress.js';
import { backupIdArgument, collect } from './shared.js';

interface VerifyFlags {
  all?: boolean;
  target?: string[];
  deep?: boolean;
}

export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('check copies: present, size and SHA-256 match (an incremental: its whole chain); --deep also decrypts, decompresses and parses the archive')
    .argument('[id]', 'backup id, or "latest"')
    .option('--all', 'every backup')
    .option('--target <name>', 'only copies on this target (repeatable)', collect)
    .option('--deep', 'decrypt, decompress and parse the whole archive; counts and CRCs must match')
    .addHelpText('after', '\nExamples:\n  $ mongo-backup verify latest --deep\n  $ mongo-backup verify --all --target offsite')
    .action(defineAction(runVerify));
}

/** An incremental is checked with every link before it (docs/PITR.md). */
function chainNote(chain: string[] | undefined, deep: boolean): string {
  if (!chain || chain.length < 2) return '';
  return `, with its chain of ${chain.length} links from ${chain[0]}${deep ? ' (every oplog range covered exactly)' : ''}`;
}

async function runVerify(ctx: CommandContext, ref: string | undefined, flags: VerifyFlags): Promise<ExitCodeValue> {
  if (!ref && !flags.all) throw usageError('give a backup id, "latest", or --all');
  if (ref && flags.all) throw usageError('give either a backup id or --all, not both');
  if (ref !== undefined) backupIdArgument(ref, { latest: true });
  const config = await ctx.config();
  const results = await verifyRun(
    config,
    { ...(ref ? { ref } : {}), all: Boolean(flags.all), targets: flags.target ?? [], deep: Boolean(flags.deep), signal: ctx.signal, events: new ProgressReporter(ctx.output) },
    ctx.booking,
  );
  const valid = results.every((r) => r.valid);
  const json = results.map((r) => ({
    backupId: r.backupId,
    target: r.target,
    deep: r.deep,
    valid: r.valid,
    issues: r.issues,
    ...(r.chain ? { chain: r.chain } : {}),
    ...(r.lock ? { lock: r.lock } : {}),
    ...(r.summary ? { namespaces: r.summary.namespaces } : {}),
  }));
  const issues = results.flatMap((r) => r.issues.map((i) => `${r.target}: ${i}`));
  const firstFailure = results.find((r) => !r.valid);
  // A failed verification is a failure like any other: `--json` users find it under "error" (docs/REFERENCE.md#json-output).
  const error = firstFailure ? { error: { code: firstFailure.error?.code ?? ErrorCodes.INTEGRITY, message: issues.join('; ') } } : {};
  ctx.output.result(
    { success: valid, result: { valid, issues, copies: json }, ...error },
    () =>
      results.map((r) =>
        r.valid
          ? `${ctx.output.c.green('✔')} ${r.backupId} on ${r.target}: ${r.deep ? 'archive parsed, CRCs and counts match' : 'size and SHA-256 match'}${chainNote(r.chain, r.deep)}${r.lock ? `; Object Lock in place (${describeLock(r.lock.recorded)})` : ''}`
          : `${ctx.output.c.red('✘')} ${r.backupId} on ${r.target}: ${r.issues.join('; ')}`,
      ),
  );
  if (valid) return ExitCode.OK;
  // The exit code of the first failure: 3 for integrity problems, 2 for a missing key, 1 otherwise.
  return results.find((r) => !r.valid)?.error?.exitCode ?? ExitCode.FAILED;
}

