/** `verify <id|latest|--all> [--target NAME] [--deep]`: prove copies are intact (and, deep, restorable). */
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { buildCatalog, closeTargets, openTargets, resolveBackup } from '../engine/catalog.js';
import { recordedRun } from '../engine/runs.js';
import { decryptKeysFor } from '../engine/restore.js';
import { verifyBackup, type VerifyResult } from '../engine/verify.js';
import type { Manifest } from '../engine/manifest.js';
import type { Target } from '../targets/types.js';
import { BackupError, ErrorCodes, usageError, ExitCode, type ExitCodeValue } from '../errors.js';
import { ProgressReporter } from '../output/progress.js';
import { collect } from './shared.js';

interface VerifyFlags {
  all?: boolean;
  target?: string[];
  deep?: boolean;
}

export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('check copies: present, size and SHA-256 match; --deep also decrypts, decompresses and parses the archive')
    .argument('[id]', 'backup id, or "latest"')
    .option('--all', 'every backup')
    .option('--target <name>', 'only copies on this target (repeatable)', collect)
    .option('--deep', 'decrypt, decompress and parse the whole archive; counts and CRCs must match')
    .addHelpText('after', '\nExamples:\n  $ mongo-backup verify latest --deep\n  $ mongo-backup verify --all --target offsite')
    .action(defineAction(runVerify));
}

async function runVerify(ctx: CommandContext, ref: string | undefined, flags: VerifyFlags): Promise<ExitCodeValue> {
  if (!ref && !flags.all) throw usageError('give a backup id, "latest", or --all');
  if (ref && flags.all) throw usageError('give either a backup id or --all, not both');
  const config = await ctx.config();
  const targets = openTargets(config, flags.target ?? []);
  const reporter = new ProgressReporter(ctx.output);
  const warn = (m: string): void => ctx.output.warn(m);
  try {
    const jobs = await selectCopies(targets, ref, Boolean(flags.all));
    const results = await recordedRun(config, 'verify', warn, async () => {
      const value: VerifyResult[] = [];
      for (const { target, manifest } of jobs) {
        reporter.phase('verify', `verifying ${manifest.id} on ${target.name}${flags.deep ? ' (deep)' : ''}`);
        let result: VerifyResult;
        try {
          const keys = flags.deep ? decryptKeysFor(config, manifest) : {};
          result = await verifyBackup(target, manifest, { deep: Boolean(flags.deep), keys, signal: ctx.signal, events: reporter });
        } catch (error) {
          if (error instanceof BackupError && error.code === ErrorCodes.INTERRUPTED) throw error;
          const e = error as BackupError;
          result = { backupId: manifest.id, target: target.name, deep: Boolean(flags.deep), valid: false, issues: [e.message], error: e };
        }
        reporter.endPhase();
        value.push(result);
      }
      const invalid = value.filter((r) => !r.valid);
      return {
        value,
        status: invalid.length === 0 ? 'SUCCESS' : 'FAILED',
        details: {
          ...(value.length === 1 ? { backupId: value[0]!.backupId } : {}),
          verified: invalid.length === 0,
          ...(invalid.length > 0 ? { error: { code: invalid[0]!.error?.code ?? 'INTEGRITY', message: invalid[0]!.issues.join('; ') } } : {}),
        },
      };
    });
    const valid = results.every((r) => r.valid);
    const json = results.map((r) => ({ backupId: r.backupId, target: r.target, deep: r.deep, valid: r.valid, issues: r.issues, ...(r.summary ? { namespaces: r.summary.namespaces } : {}) }));
    const issues = results.flatMap((r) => r.issues.map((i) => `${r.target}: ${i}`));
    const firstFailure = results.find((r) => !r.valid);
    // A failed verification is a failure like any other: `--json` users find it under "error" (SPEC §6).
    const error = firstFailure ? { error: { code: firstFailure.error?.code ?? ErrorCodes.INTEGRITY, message: issues.join('; ') } } : {};
    ctx.output.result(
      { success: valid, result: { valid, issues, copies: json }, ...error },
      () =>
        results.map((r) =>
          r.valid
            ? `${ctx.output.c.green('✔')} ${r.backupId} on ${r.target}: ${r.deep ? 'archive parsed, CRCs and counts match' : 'size and SHA-256 match'}`
            : `${ctx.output.c.red('✘')} ${r.backupId} on ${r.target}: ${r.issues.join('; ')}`,
        ),
    );
    if (valid) return ExitCode.OK;
    // The exit code of the first failure: 3 for integrity problems, 2 for a missing key, 1 otherwise.
    return results.find((r) => !r.valid)?.error?.exitCode ?? ExitCode.FAILED;
  } finally {
    reporter.endPhase();
    await closeTargets(targets);
  }
}

async function selectCopies(targets: Target[], ref: string | undefined, all: boolean): Promise<Array<{ target: Target; manifest: Manifest }>> {
  if (all) {
    const catalog = await buildCatalog(targets);
    if (catalog.unreachable.length > 0) throw catalog.unreachable[0]!.error;
    return catalog.backups.flatMap((b) => targets.filter((t) => b.targets.includes(t.name)).map((target) => ({ target, manifest: b.manifest })));
  }
  const resolved = await resolveBackup(targets, ref!);
  return resolved.holders.map((target) => ({ target, manifest: resolved.manifest }));
}
