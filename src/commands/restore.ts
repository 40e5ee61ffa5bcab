/** `restore`: verify, decrypt, decompress, feed mongorestore, then check per-namespace counts. */
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { restoreRun } from '../engine/operations.js';
import type { ReplaySummary } from '../engine/restore-pitr.js';
import { formatTable } from '../output/output.js';
import { ProgressReporter } from '../output/progress.js';
import * as readline from 'node:readline/promises';
import { BackupError, ErrorCodes, usageError, ExitCode, type ExitCodeValue } from '../errors.js';
import { acceptUriFlag, backupIdArgument, collect, parseToTime, positiveInt } from './shared.js';

interface RestoreFlags {
  from?: string;
  uri?: string;
  drop?: boolean;
  nsInclude?: string[];
  nsExclude?: string[];
  nsFrom?: string;
  nsTo?: string;
  dryRun?: boolean;
  force?: boolean;
  verify: boolean;
  parallel?: number;
  parallelCollections?: number;
  insertionWorkers?: number;
  yes?: boolean;
  toTime?: string;
}

export function registerRestoreCommand(program: Command): void {
  program
    .command('restore')
    .description('verify a backup, then stream it into mongorestore and check document counts')
    .argument('[id]', 'backup id, or "latest" (an incremental restores its chain up to it)')
    .option('--to-time <time>', 'restore to this moment (ISO 8601, e.g. 2026-12-06T03:14:15Z) or "latest": a chain\'s full backup, then its oplog replayed up to it')
    .option('--from <target>', 'read from this target (default: the first that holds the backup)')
    .option('--uri <uri>', 'restore into this server (default: MONGODB_URI / mongodb.uri)')
    .option('--drop', 'drop each collection before restoring it')
    .option('--ns-include <pattern>', 'restore only matching namespaces, e.g. "shop.*" (repeatable)', collect)
    .option('--ns-exclude <pattern>', 'skip matching namespaces (repeatable)', collect)
    .option('--ns-from <pattern>', 'rename namespaces: source pattern with $var$, e.g. "shop.$c$"')
    .option('--ns-to <pattern>', 'rename namespaces: destination pattern, e.g. "shop_copy.$c$"')
    .option('--dry-run', 'verify and show what would be restored; change nothing')
    .option('--force', 'restore into namespaces that already hold documents (without dropping them)')
    .option('--no-verify', 'skip the checksum pass before restoring (encrypted chunks are still authenticated)')
    .option('--parallel-collections <n>', 'collections restored in parallel (mongorestore --numParallelCollections; default mongodb.restoreParallelCollections)', positiveInt)
    .option('--insertion-workers <n>', 'insertion workers per collection (mongorestore --numInsertionWorkersPerCollection; default mongodb.restoreInsertionWorkers)', positiveInt)
    .option('--parallel <n>', 'the same as --parallel-collections (kept for existing scripts)', positiveInt)
    .option('--yes', 'confirm --drop of the configured source\'s own collections (asked on a terminal)')
    .addHelpText(
      'after',
      `
Examples:
  $ mongo-backup restore latest --dry-run
  $ mongo-backup restore latest --ns-from 'shop.$c$' --ns-to 'shop_check.$c$'
  $ mongo-backup restore backup-2026-02-18-103000-a1b2c3 --from offsite --uri mongodb://db2:27017 --drop
  $ mongo-backup restore latest --drop --yes      # replace the source's own collections (asks on a terminal)
  $ mongo-backup restore --to-time 2026-12-06T03:14:15Z --dry-run   # which chain, links and last operation`,
    )
    .action(defineAction(runRestore));
}

async function runRestore(ctx: CommandContext, ref: string | undefined, flags: RestoreFlags): Promise<ExitCodeValue> {
  if (ref !== undefined) backupIdArgument(ref, { latest: true });
  if ((flags.nsFrom === undefined) !== (flags.nsTo === undefined)) throw usageError('--ns-from and --ns-to go together');
  if ((ref === undefined) === (flags.toTime === undefined)) throw usageError('give a backup id (or "latest") or --to-time, not both', 'e.g. restore latest, or restore --to-time 2026-12-06T03:14:15Z');
  const toTime = flags.toTime === undefined ? undefined : parseToTime(flags.toTime);
  if (flags.uri) {
    if (acceptUriFlag(flags.uri).hasPassword) {
      ctx.output.warn('the password in --uri is visible in the process list and shell history; prefer MONGODB_URI or a config file (mongodb.uri / uriFile)');
    }
  }
  if (flags.drop && !flags.uri && flags.nsFrom === undefined && !flags.dryRun && !flags.yes) await confirmDropOfSource();
  const config = await ctx.config();
  const options = {
    ref: ref ?? 'latest',
    ...(toTime !== undefined ? { toTime } : {}),
    ...(flags.from ? { from: flags.from } : {}),
    ...(flags.uri ? { uri: flags.uri } : {}),
    drop: Boolean(flags.drop),
    force: Boolean(flags.force),
    dryRun: Boolean(flags.dryRun),
    verify: flags.verify,
    parallel: flags.parallelCollections ?? flags.parallel ?? config.mongodb.restoreParallelCollections,
    insertionWorkers: flags.insertionWorkers ?? config.mongodb.restoreInsertionWorkers,
    namespaces: {
      include: flags.nsInclude ?? [],
      exclude: flags.nsExclude ?? [],
      ...(flags.nsFrom !== undefined ? { from: flags.nsFrom } : {}),
      ...(flags.nsTo !== undefined ? { to: flags.nsTo } : {}),
    },
    signal: ctx.signal,
    events: new ProgressReporter(ctx.output),
  };
  const result = await restoreRun(config, options, ctx.booking);
  for (const w of result.warnings) ctx.output.warn(w);
  const message = result.dryRun
    ? `dry run: backup ${result.backupId} verified; nothing was restored`
    : `backup ${result.backupId} restored from ${result.from} into ${result.destination}`;
  const pointInTime = result.pointInTime;
  ctx.output.result({ success: true, message, result: { success: true, backupId: result.backupId, restoredAt: result.restoredAt, from: result.from, dryRun: result.dryRun, namespaces: result.namespaces, ...(pointInTime ? { pointInTime } : {}) } }, () => [
    `${ctx.output.c.green('✔')} ${message}`,
    ...(pointInTime ? describeReplay(pointInTime, result.dryRun) : []),
    formatTable(
      ['  NAMESPACE', 'DESTINATION', 'DOCUMENTS', result.dryRun ? '' : 'RESTORED'],
      result.namespaces.map((n) => [`  ${n.source}`, n.destination, String(n.documents), n.checked ? String(n.restored) : result.dryRun ? '' : '(not counted)']),
    ),
  ]);
  return ExitCode.OK;
}


function describeReplay(replay: ReplaySummary, dryRun: boolean): string[] {
  const verb = dryRun ? 'would replay' : 'replayed';
  return [
    `  full backup ${replay.base}, then ${replay.increments.length === 0 ? 'no incremental' : replay.increments.join(', ')}`,
    `  ${verb} the full backup's ${replay.baseEntries} oplog entries and ${replay.sliceEntries} more${replay.notAfter ? `, up to ${replay.notAfter}` : ' (to the newest restore point)'}`,
    ...(replay.lastApplied ? [`  last operation: ${replay.lastApplied.op} on ${replay.lastApplied.ns} at ${replay.lastApplied.time} (${replay.lastApplied.ts})`] : []),
  ];
}

/**
 * `--drop` without `--uri` or a rename replaces the configured source's own collections with the
 * backup's: the one restore that destroys live data. It needs a yes, typed or given as --yes.
 */
async function confirmDropOfSource(): Promise<void> {
  const refuse = (): never => {
    throw new BackupError(ErrorCodes.USAGE, 'restore --drop into the configured source (no --uri, no --ns-from/--ns-to) replaces its live collections', {
      hint: 'add --yes if that is what you want, or restore elsewhere with --uri or --ns-from/--ns-to',
    });
  };
  if (!process.stdin.isTTY) refuse();
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question('This drops and replaces collections on the configured source server. Continue? [y/N] ');
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) refuse();
}
