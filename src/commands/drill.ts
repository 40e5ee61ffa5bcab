/** `drill`: restore a backup somewhere harmless, count it, drop it, and leave a record beside it (docs/REFERENCE.md#drill). */
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { drillRun } from '../engine/operations.js';
import type { DrillOutcome } from '../engine/drill.js';
import { usageError, ExitCode, type ExitCodeValue } from '../errors.js';
import { formatBytes, formatTable } from '../output/output.js';
import { ProgressReporter } from '../output/progress.js';
import { formatDurationMs } from '../output/render.js';
import { acceptUriFlag, backupIdArgument, parseToTime, positiveInt } from './shared.js';

interface DrillFlags {
  toTime?: string;
  uri?: string;
  prefix?: string;
  keep?: boolean;
  from?: string;
  parallelCollections?: number;
  insertionWorkers?: number;
}

export function registerDrillCommand(program: Command): void {
  program
    .command('drill')
    .description('restore test: restore a backup into a scratch server or under prefixed names, check counts, drop it, and record the result beside the backup')
    .argument('[id]', 'backup id, or "latest" (default)')
    .option('--to-time <time>', 'drill a point-in-time restore to this moment (ISO 8601 with a zone) or "latest"')
    .option('--uri <uri>', 'restore into this scratch server')
    .option('--prefix <prefix>', 'restore beside the data on the configured server: database x becomes <prefix>x')
    .option('--keep', 'keep what was restored (default: drop it after the counts)')
    .option('--from <target>', 'read the backup from (and record the drill on) this target (default: the first that holds it)')
    .option('--parallel-collections <n>', 'collections restored in parallel (mongorestore --numParallelCollections)', positiveInt)
    .option('--insertion-workers <n>', 'insertion workers per collection (mongorestore --numInsertionWorkersPerCollection)', positiveInt)
    .addHelpText(
      'after',
      `
Examples:
  $ mongo-backup drill latest --uri mongodb://scratch:27017
  $ mongo-backup drill latest --prefix drill_          # shop → drill_shop on the configured server
  $ mongo-backup drill --to-time latest --uri mongodb://scratch:27017 --json`,
    )
    .action(defineAction(runDrill));
}

async function runDrill(ctx: CommandContext, ref: string | undefined, flags: DrillFlags): Promise<ExitCodeValue> {
  if (ref !== undefined) backupIdArgument(ref, { latest: true });
  if (flags.toTime !== undefined && ref !== undefined) throw usageError('give a backup id or --to-time, not both');
  if (flags.uri === undefined && flags.prefix === undefined) {
    throw usageError('drill needs somewhere harmless to restore: --uri SCRATCH or --prefix P', 'e.g. drill latest --uri mongodb://scratch:27017, or drill latest --prefix drill_');
  }
  if (flags.uri) {
    if (acceptUriFlag(flags.uri).hasPassword) {
      ctx.output.warn('the password in --uri is visible in the process list and shell history; prefer a scratch server without one, or a config file (mongodb.uri / uriFile)');
    }
  }
  const toTime = flags.toTime === undefined ? undefined : parseToTime(flags.toTime);
  const config = await ctx.config();
  const outcome = await drillRun(
    config,
    {
      ref: ref ?? 'latest',
      ...(toTime !== undefined ? { toTime } : {}),
      ...(flags.uri ? { uri: flags.uri } : {}),
      ...(flags.prefix !== undefined ? { prefix: flags.prefix } : {}),
      keep: Boolean(flags.keep),
      ...(flags.from ? { target: flags.from } : {}),
      parallelCollections: flags.parallelCollections ?? config.mongodb.restoreParallelCollections,
      insertionWorkers: flags.insertionWorkers ?? config.mongodb.restoreInsertionWorkers,
      signal: ctx.signal,
      events: new ProgressReporter(ctx.output),
    },
    ctx.booking,
  );
  if (outcome.recordError) ctx.output.warn(outcome.recordError);
  render(ctx, outcome);
  return outcome.recordError ? ExitCode.FAILED : ExitCode.OK;
}

function render(ctx: CommandContext, outcome: DrillOutcome): void {
  const r = outcome.record;
  const message = `backup ${r.backupId} proven restorable from ${r.target}: ${formatDurationMs(r.duration)} for ${formatBytes(r.bytes)}`;
  ctx.output.result({ success: true, message, drill: { ...r, ...(outcome.recordKey ? { recordKey: outcome.recordKey } : {}) } }, () => [
    `${ctx.output.c.green('✔')} ${message}`,
    `  into ${r.destination.hosts}${r.destination.prefix !== undefined ? ` under prefix ${r.destination.prefix}` : ''}${r.kept ? ' (kept)' : ', dropped again'}; mongorestore ${r.parallelism.collections} collections × ${r.parallelism.insertionWorkers} insertion workers`,
    `  phases: check ${formatDurationMs(r.phases.checkMs)}, verify ${formatDurationMs(r.phases.verifyMs)}, restore ${formatDurationMs(r.phases.restoreMs)}${r.phases.indexesMs !== undefined ? ` (indexes ${formatDurationMs(r.phases.indexesMs)})` : ''}, count ${formatDurationMs(r.phases.countMs)}, drop ${formatDurationMs(r.phases.dropMs)}`,
    ...(outcome.recordKey ? [`  recorded as ${outcome.recordKey} on ${r.target}`] : []),
    formatTable(
      ['  NAMESPACE', 'RESTORED AS', 'EXPECTED', 'COUNTED'],
      r.namespaces.map((n) => [`  ${n.source}`, n.destination, r.toTime ? '-' : String(n.expected), n.restored === undefined ? '-' : String(n.restored)]),
    ),
  ]);
}

