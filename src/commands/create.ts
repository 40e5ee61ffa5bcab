/** `create`: dump, compress, encrypt, upload to every selected target, manifest last, verify, record. */
import { Option, type Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { createBackup, type CreateResult } from '../engine/create.js';
import { recordedRun, withLock } from '../engine/runs.js';
import { pruneTargets } from '../engine/prune.js';
import type { CompressionAlgorithm } from '../engine/manifest.js';
import { backupView } from '../output/render.js';
import { formatBytes } from '../output/output.js';
import { formatDurationMs } from '../output/render.js';
import { ProgressReporter } from '../output/progress.js';
import { usageError } from '../errors.js';
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

async function runCreate(ctx: CommandContext, flags: CreateFlags): Promise<number> {
  if (flags.collection && !flags.db) throw usageError('--collection needs --db');
  const config = await ctx.config();
  const reporter = new ProgressReporter(ctx.output);
  const warn = (m: string): void => ctx.output.warn(m);
  const type = flags.type === 'incremental' ? 'INCREMENTAL' : 'FULL';
  const result = await withLock(config, ctx.commandLine, warn, () =>
    recordedRun<CreateResult>(
      config,
      'create',
      warn,
      async () => {
        const value = await createBackup(config, {
          type,
          ...(flags.description !== undefined ? { description: flags.description } : {}),
          targets: flags.target ?? [],
          ...(flags.db ? { db: flags.db } : {}),
          ...(flags.collection ? { collection: flags.collection } : {}),
          ...(flags.compression ? { compression: flags.compression } : {}),
          encrypt: flags.encrypt,
          verify: flags.verify,
          requireAllTargets: Boolean(flags.requireAllTargets),
          triggeredBy: process.env.INVOCATION_ID ? 'systemd' : process.stdin.isTTY ? 'manual' : 'scheduled',
          signal: ctx.signal,
          events: reporter,
        });
        reporter.endPhase();
        const partial = value.completedOn.length < value.outcomes.length;
        return {
          value,
          status: partial ? 'PARTIAL' : 'SUCCESS',
          details: {
            backupId: value.manifest.id,
            type: value.manifest.type,
            size: value.manifest.size,
            storedSize: value.manifest.storedSize,
            targets: Object.fromEntries(
              value.outcomes.map((o) => [o.name, o.ok ? { status: 'ok' as const } : { status: 'failed' as const, ...(o.error ? { error: o.error.message } : {}) }]),
            ),
            ...(flags.verify ? { verified: value.outcomes.filter((o) => o.ok).every((o) => o.verified) } : {}),
          },
        };
      },
    ).finally(() => reporter.endPhase()),
  );
  const partial = result.completedOn.length < result.outcomes.length;
  const verified = flags.verify && result.outcomes.filter((o) => o.ok).every((o) => o.verified);
  const view = backupView(result.manifest, result.completedOn, verified);
  ctx.output.result(
    { success: !partial, backup: view, targets: result.outcomes },
    () => {
      const m = result.manifest;
      const lines = [
        `${ctx.output.c.green('✔')} backup ${m.id} completed in ${formatDurationMs(m.duration)}: ${formatBytes(m.size)} archive → ${formatBytes(m.storedSize)} stored (${m.compression.algorithm}${m.encrypted ? ', encrypted' : ', NOT encrypted'})`,
        `  ${Object.keys(m.namespaces).length} namespaces, ${Object.values(m.namespaces).reduce((a, b) => a + b, 0)} documents, ${m.checksum}`,
      ];
      for (const o of result.outcomes) {
        lines.push(
          o.ok
            ? `  ${ctx.output.c.green('✔')} ${o.name.padEnd(12)} ${o.location}${o.verified ? ' (verified)' : ''}`
            : `  ${ctx.output.c.red('✘')} ${o.name.padEnd(12)} ${o.error?.message ?? 'failed'}`,
        );
      }
      return lines;
    },
  );
  if (!result.manifest.encrypted && flags.encrypt) {
    ctx.output.warn('no encryption key is configured: this backup is stored unencrypted (set BACKUP_ENCRYPTION_KEY or encryption.keyFile)');
  }
  if (flags.prune || config.autoPrune) {
    const report = await withLock(config, `${ctx.commandLine} (prune)`, (m) => ctx.output.warn(m), () =>
      pruneTargets(config, { targets: flags.target ?? [], dryRun: false, signal: ctx.signal }),
    );
    if (!ctx.output.json) ctx.output.info(renderPruneReport(ctx.output, report).join('\n'));
  }
  return partial ? 1 : 0;
}
