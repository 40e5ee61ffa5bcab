/** `show <id|latest>`: one backup in full, with where its copies are and its chain on each (docs/PITR.md). */
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { ExitCode, type ExitCodeValue } from '../errors.js';
import { buildCatalog, chainPosition, closeTargets, openTargets, resolveInCatalog } from '../engine/catalog.js';
import { copyLocks, type CopyLock } from '../engine/object-lock.js';
import { describeLock } from '../targets/lock-policy.js';
import { drillsOfBackup, type DrillSummary } from '../engine/drills.js';
import { formatBytes } from '../output/output.js';
import { backupView, formatDurationMs, renderBackupDetail } from '../output/render.js';
import { backupIdArgument, collect } from './shared.js';

/** Each copy's Object Lock (docs/TARGETS.md#object-lock); copies without one are not named. */
function lockLines(locks: CopyLock[]): string[] {
  if (locks.length === 0) return [];
  const now = Date.now();
  return ['Object Lock:', ...locks.map((l) => `  ${l.target}: ${Date.parse(l.retainUntil) > now ? describeLock(l) : `lock ended ${l.retainUntil} (${l.mode})`}`)];
}

export function registerShowCommand(program: Command): void {
  program
    .command('show')
    .description('show one backup in full, with where its copies are')
    .argument('<id>', 'backup id, or "latest"')
    .option('--target <name>', 'look only on this target (repeatable)', collect)
    .addHelpText('after', '\nExamples:\n  $ mongo-backup show latest\n  $ mongo-backup show backup-2026-02-18-103000-a1b2c3 --json')
    .action(defineAction(runShow));
}

async function runShow(ctx: CommandContext, ref: string, flags: { target?: string[] }): Promise<ExitCodeValue> {
  backupIdArgument(ref, { latest: true });
  const config = await ctx.config();
  const targets = openTargets(config, flags.target ?? []);
  try {
    const catalog = await buildCatalog(targets);
    const resolved = resolveInCatalog(catalog, targets, ref);
    const names = resolved.holders.map((t) => t.name);
    const locations = Object.fromEntries(resolved.holders.map((t) => [t.name, t.describe()]));
    const { objectLock: _first, ...view } = backupView(resolved.manifest, names);
    const locks = copyLocks(catalog.byTarget, resolved.id).filter((l) => names.includes(l.target));
    const chains = catalog.byTarget
      .filter((t) => names.includes(t.target))
      .map(({ target, manifests }) => ({ target, position: chainPosition(manifests, resolved.id) }));
    const chainJson = chains.flatMap(({ target, position }) => (position ? [{ target, ...position }] : []));
    const { drills, unreadable } = await drillsOfBackup(resolved.holders, catalog.byTarget, resolved.id);
    for (const u of unreadable) ctx.output.warn(`drill record ${u.key} on ${u.target} cannot be read: ${u.error}`);
    ctx.output.result({ success: true, backup: { ...view, locations, ...(locks.length > 0 ? { locks } : {}), ...(chainJson.length > 0 ? { chains: chainJson } : {}), drills } }, () => [
      ...renderBackupDetail(ctx.output, view, locations, chains),
      ...lockLines(locks),
      ...renderDrills(drills),
    ]);
    return ExitCode.OK;
  } finally {
    await closeTargets(targets);
  }
}

function renderDrills(drills: DrillSummary[]): string[] {
  if (drills.length === 0) return ['Drills      none (mongo-backup drill proves a backup restores)'];
  return [`Drills      ${drills.length}`, ...drills.map((d) => `  ${describeDrill(d)}`)];
}

/** "proven restorable 2026-12-05 on local, 14m 2s for 38.0 GB", or why a drill proves nothing (docs/REFERENCE.md#drill). */
export function describeDrill(d: DrillSummary): string {
  const day = d.time.slice(0, 10);
  if (!d.trusted) return `drill of ${day} on ${d.target} NOT TRUSTED: ${d.distrust ?? 'its checksum does not match'}`;
  if (!d.passed) return `drill FAILED ${day} on ${d.target}${d.code ? ` (${d.code})` : ''}`;
  return `proven restorable ${day} on ${d.target}, ${formatDurationMs(d.durationMs)} for ${formatBytes(d.bytes)}`;
}
