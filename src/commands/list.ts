/**
 * `list`: backups on the chosen targets, newest first (read from the targets themselves), each with
 * its place in a point-in-time chain, and per target the moments its chains can restore (docs/PITR.md).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { buildCatalog, chainsOnTarget, closeTargets, openTargets, type Catalog, type TargetChains } from '../engine/catalog.js';
import { copyLocks, targetWithLock, type CopyLock } from '../engine/object-lock.js';
import { newestDrillPerBackup } from '../engine/drills.js';
import { backupView, formatTime, renderBackupTable, renderRestoreWindows } from '../output/render.js';
import { describeDrill } from './show.js';
import { readRuns } from '../state/journal.js';
import { formatDuration } from '../duration.js';
import { collect, parseSince, positiveInt } from './shared.js';

interface ListFlags {
  target?: string[];
  type?: 'FULL' | 'INCREMENTAL';
  status?: 'COMPLETED' | 'FAILED';
  since?: string;
  limit?: number;
}

export function registerListCommand(program: Command): void {
  program
    .command('list')
    .description('list backups, newest first')
    .option('--target <name>', 'only backups on this target (repeatable)', collect)
    .addOption(new Option('--type <type>', 'only this type').choices(['FULL', 'INCREMENTAL']).argParser(upperChoice('--type', ['FULL', 'INCREMENTAL'])))
    .addOption(new Option('--status <status>', 'only this status').choices(['COMPLETED', 'FAILED']).argParser(upperChoice('--status', ['COMPLETED', 'FAILED'])))
    .option('--since <date>', 'only backups started at or after this date (ISO date or an age like 7d)')
    .option('--limit <n>', 'at most n backups', positiveInt)
    .addHelpText('after', '\nExamples:\n  $ mongo-backup list --limit 5\n  $ mongo-backup list --target offsite --since 7d --json')
    .action(defineAction(runList));
}

async function runList(ctx: CommandContext, flags: ListFlags): Promise<ExitCodeValue> {
  const config = await ctx.config();
  const targets = openTargets(config, flags.target ?? []);
  try {
    const catalog = await buildCatalog(targets);
    for (const u of catalog.unreachable) ctx.output.warn(`target ${u.target} could not be listed: ${u.error.message}`);
    const since = flags.since ? parseSince(flags.since) : undefined;
    let backups = catalog.backups.filter(
      (b) =>
        (!flags.type || b.manifest.type === flags.type) &&
        (!flags.status || b.manifest.status === flags.status) &&
        (!since || Date.parse(b.manifest.startTime) >= since.getTime()),
    );
    const failed = flags.status === 'COMPLETED' || flags.type === 'INCREMENTAL' ? [] : await failedRuns(config.stateDir, since, (m) => ctx.output.debug(m));
    type Row = { time: string; completed?: (typeof backups)[number]; failed?: FailedRun };
    let rows: Row[] = [
      ...(flags.status === 'FAILED' ? [] : backups.map((b) => ({ time: b.manifest.startTime, completed: b }))),
      ...failed.map((f) => ({ time: f.startTime, failed: f })),
    ].sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
    if (flags.limit) rows = rows.slice(0, flags.limit);
    const drills = await newestDrillPerBackup(targets, catalog.byTarget);
    const views = rows
      .filter((r) => r.completed)
      .map((r) => {
        const drill = drills.get(r.completed!.id);
        return { ...withLocks(backupView(r.completed!.manifest, r.completed!.targets), catalog), ...(drill ? { drill } : {}) };
      });
    const failedViews = rows.filter((r) => r.failed).map((r) => r.failed!);
    const chains = chainsPerTarget(catalog);
    const orphaned = new Set(chains.flatMap((t) => t.orphans.map((o) => o.member.id)));
    const pitr = { pitr: pitrWindows(chains), ...(orphaned.size > 0 ? { orphans: orphansOf(chains) } : {}) };
    ctx.output.result({ success: true, count: views.length, backups: views, ...pitr, ...(failedViews.length > 0 ? { failedRuns: failedViews } : {}) }, () => {
      if (rows.length === 0) {
        return catalog.unreachable.length > 0 ? 'no backups found on the reachable targets' : 'no backups yet (run "mongo-backup create")';
      }
      const completedRows = rows
        .filter((r) => r.completed)
        .map((r) => ({ manifest: r.completed!.manifest, targets: targetsWithLocks(r.completed!.id, r.completed!.targets, catalog), orphaned: orphaned.has(r.completed!.id) }));
      const lines = completedRows.length > 0 ? [renderBackupTable(ctx.output, completedRows)] : [];
      const drilled = views.filter((v) => v.drill);
      if (drilled.length > 0) lines.push('', 'drills (newest per backup):', ...drilled.map((v) => `  ${v.id}  ${describeDrill(v.drill!)}`));
      const failedRows = rows.filter((r) => r.failed);
      if (failedRows.length > 0) {
        lines.push('', `failed runs (from this host's journal, ${config.stateDir}):`);
        for (const { failed: f } of failedRows) {
          lines.push(`  ${ctx.output.c.red(f!.status)}  ${formatTime(f!.startTime)}  ${f!.id}  ${(f!.error?.message ?? '').split('\n')[0]}`);
        }
      }
      lines.push(...renderRestoreWindows(ctx.output, chains));
      return lines;
    });
    if (catalog.incomplete.length > 0 && !flags.status) {
      ctx.output.info(
        `(${catalog.incomplete.length} incomplete backup folder(s) without a valid manifest not shown; "prune" removes them after ${formatDuration(config.incompleteGraceMs)})`,
      );
    }
    return catalog.unreachable.length > 0 && catalog.unreachable.length === targets.length ? ExitCode.FAILED : ExitCode.OK;
  } finally {
    await closeTargets(targets);
  }
}

/**
 * A backup's view with its copies' Object Locks (`locks`, per target, docs/REFERENCE.md#json-output)
 * instead of the one copy's lock the merged manifest happens to carry.
 */
function withLocks<V extends { id: string; objectLock?: unknown }>(view: V, catalog: Catalog): Omit<V, 'objectLock'> & { locks?: CopyLock[] } {
  const { objectLock: _first, ...rest } = view;
  const locks = copyLocks(catalog.byTarget, view.id);
  return locks.length > 0 ? { ...rest, locks } : rest;
}

/** The TARGETS cell: each copy with its lock end, when it has one. */
function targetsWithLocks(id: string, targets: string[], catalog: Catalog): string[] {
  const locks = copyLocks(catalog.byTarget, id);
  const now = new Date();
  return targets.map((t) => targetWithLock(t, locks, now));
}

/** Chains are per target: a restore reads one target's links (docs/PITR.md). */
function chainsPerTarget(catalog: Catalog): TargetChains[] {
  return catalog.byTarget.map(({ target, manifests }) => chainsOnTarget(target, manifests));
}

/** `list --json`'s `pitr`: one window per chain per target (docs/REFERENCE.md#json-output). */
function pitrWindows(chains: TargetChains[]): Array<{ target: string; from: string; to: string; base: string }> {
  return chains.flatMap(({ target, windows }) => windows.map((w) => ({ target, from: w.from, to: w.to, base: w.base })));
}

function orphansOf(chains: TargetChains[]): Array<{ target: string; id: string; reason: string }> {
  return chains.flatMap(({ target, orphans }) => orphans.map((o) => ({ target, id: o.member.id, reason: o.reason })));
}

/** Case-insensitive choice (commander's own check is bypassed by a custom parser). */
function upperChoice(flag: string, choices: string[]): (value: string) => string {
  return (value) => {
    const upper = value.toUpperCase();
    if (!choices.includes(upper)) throw new InvalidArgumentError(`${flag} must be one of ${choices.join(', ')}`);
    return upper;
  };
}

interface FailedRun {
  id: string;
  type: string;
  status: 'FAILED';
  startTime: string;
  endTime: string;
  duration: number;
  targets: string[];
  error?: { code: string; message: string };
}

/**
 * Failed and interrupted backups leave no manifest on any target (nothing to list there); this
 * host's run journal remembers them, so `list` shows them too, marked FAILED.
 */
async function failedRuns(stateDir: string, since: Date | undefined, debug: (m: string) => void): Promise<FailedRun[]> {
  try {
    const runs = await readRuns(stateDir, { command: 'create', ...(since ? { since } : {}) });
    return runs
      .filter((r) => r.status === 'FAILED' || r.status === 'INTERRUPTED')
      .map((r) => ({
        id: r.backupId ?? r.runId,
        type: r.type ?? 'FULL',
        status: 'FAILED' as const,
        startTime: r.startTime,
        endTime: r.endTime,
        duration: r.duration,
        targets: [],
        ...(r.error ? { error: r.error } : {}),
      }));
  } catch (error) {
    debug(`run journal not readable: ${(error as Error).message}`);
    return [];
  }
}
