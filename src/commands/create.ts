/** `create`: dump, compress, encrypt, upload to every selected target, manifest last, verify, record. */
import { Option, type Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import type { CreateResult } from '../engine/create.js';
import { createRun, isPartial } from '../engine/operations.js';
import { policyFor, type PruneReport } from '../engine/prune.js';
import type { CompressionAlgorithm } from '../engine/manifest.js';
import { backupView } from '../output/render.js';
import { formatBytes } from '../output/output.js';
import { formatDurationMs } from '../output/render.js';
import { describeLock } from '../targets/lock-policy.js';
import { ProgressReporter } from '../output/progress.js';
import { BackupError, ErrorCodes, usageError, ExitCode, type ExitCodeValue } from '../errors.js';
import { collect } from './shared.js';
import { renderPruneReport } from './prune.js';

interface CreateFlags {
  type: string;
  description?: string;
  target?: string[];
  db?: string;
  collection?: string;
  compression?: CompressionAlgorithm;
  encrypt: boolean;
  verify: boolean;
  prune?: boolean;
  requireAllTargets?: boolean;
}

export function registerCreateCommand(program: Command): void {
  program
    .command('create')
    .description('dump the database, compress, encrypt and store it on every target; manifest last, then verify')
    .addOption(new Option('--type <type>', 'backup type').choices(['full', 'incremental']).default('full'))
    .option('--description <text>', 'free text stored in the manifest')
    .option('--target <name>', 'store only on this target (repeatable; default: all configured)', collect)
    .option('--db <name>', 'dump only this database')
    .option('--collection <name>', 'dump only this collection (needs --db)')
    .addOption(new Option('--compression <algorithm>', 'override the configured compression').choices(['zstd', 'gzip', 'none']))
    .option('--no-encrypt', 'store unencrypted even when a key is configured')
    .option('--no-verify', 'skip reading the stored copies back')
    .option('--prune', 'apply the retention policy afterwards')
    .option('--require-all-targets', 'fail (and remove the copies) unless every target got the backup')
    .addHelpText(
      'after',
      `
Examples:
  $ mongo-backup create
  $ mongo-backup create --description "before the 4.2 migration" --target local
  $ MONGODB_URI=mongodb://backup@db1/?replicaSet=rs0 mongo-backup create --db shop --json`,
    )
    .action(defineAction(runCreate));
}

async function runCreate(ctx: CommandContext, flags: CreateFlags): Promise<ExitCodeValue> {
  if (flags.collection && !flags.db) throw usageError('--collection needs --db');
  if (flags.type === 'incremental' && flags.db) throw usageError('an incremental backup holds the whole oplog: --db and --collection do not apply to it');
  const config = await ctx.config();
  const prune = Boolean(flags.prune || config.autoPrune);
  // Validate the retention policies now, so a typo there cannot fail the run after a good backup.
  if (prune) for (const t of config.targets) policyFor(config, t.name, undefined);
  const reporter = new ProgressReporter(ctx.output);
  const { result, pruneReport } = await createRun(
    config,
    {
      type: flags.type === 'incremental' ? 'INCREMENTAL' : 'FULL',
      ...(flags.description !== undefined ? { description: flags.description } : {}),
      targets: flags.target ?? [],
      ...(flags.db ? { db: flags.db } : {}),
      ...(flags.collection ? { collection: flags.collection } : {}),
      ...(flags.compression ? { compression: flags.compression } : {}),
      encrypt: flags.encrypt,
      verify: flags.verify,
      requireAllTargets: Boolean(flags.requireAllTargets),
      triggeredBy: triggeredBy(),
      signal: ctx.signal,
      events: reporter,
      prune,
    },
    ctx.booking,
  );
  const partial = isPartial(result);
  const view = backupView(result.manifest, result.completedOn);
  const failedCopies = result.outcomes.filter((o) => !o.ok);
  const error = partial
    ? { code: ErrorCodes.TARGET_FAILED, message: `backup ${result.manifest.id} is stored on ${result.completedOn.join(', ')} only; failed on ${failedCopies.map((o) => `${o.name} (${o.error?.message ?? 'failed'})`).join(', ')}` }
    : undefined;
  ctx.output.result(
    { success: !partial, backup: view, copies: result.outcomes, ...(error ? { error } : {}), ...(pruneReport ? { prune: pruneReport } : {}) },
    () => renderCreateResult(ctx, result, pruneReport),
  );
  if (!result.manifest.encrypted && flags.encrypt) {
    ctx.output.warn('no encryption key is configured: this backup is stored unencrypted (set BACKUP_ENCRYPTION_KEY or encryption.keyFile)');
  }
  if (flags.db && Object.keys(result.manifest.namespaces).length === 0) {
    ctx.output.warn(`database "${flags.db}"${flags.collection ? ` collection "${flags.collection}"` : ''} matched nothing: the backup is empty (a typo?)`);
  }
  if (prune && partial) ctx.output.warn('retention was not applied: the backup did not reach every target');
  return partial ? ExitCode.FAILED : ExitCode.OK;
}

/** Who started the run, for the manifest: systemd sets INVOCATION_ID; schedulers may set MONGO_BACKUP_TRIGGER. */
function triggeredBy(): string {
  if (process.env.MONGO_BACKUP_TRIGGER) return process.env.MONGO_BACKUP_TRIGGER;
  if (process.env.INVOCATION_ID) return 'systemd';
  if (process.env.CI === 'true') return 'ci';
  return process.stdin.isTTY ? 'manual' : 'script';
}

function renderCreateResult(ctx: CommandContext, result: CreateResult, pruneReport: PruneReport | undefined): string[] {
  const { c } = ctx.output;
  const m = result.manifest;
  const partial = isPartial(result);
  const headline = partial
    ? `${c.yellow('⚠')} backup ${m.id} stored on ${result.completedOn.length} of ${result.outcomes.length} targets`
    : `${c.green('✔')} backup ${m.id} completed`;
  const lines = [
    `${headline} in ${formatDurationMs(m.duration)}: ${formatBytes(m.size)} archive → ${formatBytes(m.storedSize)} stored (${m.compression.algorithm}${m.encrypted ? ', encrypted' : ', NOT encrypted'})`,
    `  ${Object.keys(m.namespaces).length} namespaces, ${Object.values(m.namespaces).reduce((a, b) => a + b, 0)} documents, ${m.checksum}`,
  ];
  for (const o of result.outcomes) {
    lines.push(
      o.ok
        ? `  ${c.green('✔')} ${o.name.padEnd(12)} ${o.location}${o.verified ? ' (verified)' : ''}${o.objectLock ? `, ${describeLock(o.objectLock)}` : ''}`
        : `  ${c.red('✘')} ${o.name.padEnd(12)} ${o.error?.message ?? 'failed'}`,
    );
  }
  if (pruneReport) lines.push('', ...renderPruneReport(ctx.output, pruneReport));
  return lines;
}
