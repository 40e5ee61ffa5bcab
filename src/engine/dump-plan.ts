/**
 * What a `create` dumps, and where the result sits in a point-in-time chain (docs/PITR.md):
 * - a full backup of a replica-set member runs `mongodump --oplog`, so the dump is consistent at
 *   its last oplog entry (its restore point) and can start a chain; elsewhere the manifest says
 *   why it is not point-in-time;
 * - an incremental dumps `local.oplog.rs` after the newest restore point of the chains on the
 *   selected targets, up to the newest entry when it starts, and proves that it continues that
 *   point without a gap: the entry there must still be in the oplog before and after the dump.
 */
import { BackupError, ErrorCodes } from '../errors.js';
import { buildChains, lastLink, type OplogRange } from '../pitr/chain.js';
import { compareTimestamps, formatTimestamp, type OplogEntryView, type OplogRecorder } from '../pitr/oplog.js';
import type { Target } from '../targets/types.js';
import { manifestsOn } from './catalog.js';
import type { CreateOptions } from './create.js';
import type { Manifest } from './manifest.js';
import { oplogBounds, oplogUnavailableReason, sliceQuery } from './oplog-source.js';

/** The archive namespace that carries a full dump's oplog, and the collection an incremental dumps. */
const FULL_OPLOG = 'oplog';
const OPLOG_COLLECTION = 'local.oplog.rs';

export interface DumpPlan {
  type: 'FULL' | 'INCREMENTAL';
  /** mongodump arguments beyond the archive and the user's own. */
  args: string[];
  /** The archive namespace whose entries bound the backup's oplog range. */
  watch?: string;
  /** A full backup that cannot start a chain, and why. */
  pointInTimeReason?: string;
  /** Incrementals: the link continued, and the newest oplog entry when the dump started. */
  parent?: Manifest & { oplog: OplogRange };
  base?: string;
  upTo?: OplogEntryView;
}

/** The manifest fields that place a backup in (or outside) a chain. */
export type ChainFields = Pick<Manifest, 'parent' | 'base' | 'oplog' | 'pointInTime' | 'pointInTimeReason'>;

export async function planDump(uri: string, options: CreateOptions, targets: Target[]): Promise<DumpPlan> {
  if (options.type === 'FULL') {
    const reason = options.db || options.collection ? 'a dump of one database or collection cannot carry the oplog (mongodump refuses --oplog with --db/--collection)' : await oplogUnavailableReason(uri);
    return reason ? { type: 'FULL', args: [], pointInTimeReason: reason } : { type: 'FULL', args: ['--oplog'], watch: FULL_OPLOG };
  }
  const tip = await newestRestorePoint(targets);
  const bounds = await oplogBounds(uri, tip.link.oplog.to);
  if (!bounds.holds || !bounds.newest) throw rolledOver(tip.link, bounds.oldest);
  return {
    type: 'INCREMENTAL',
    args: ['--db=local', '--collection=oplog.rs', `--query=${sliceQuery(tip.link.oplog.to, bounds.newest.ts)}`],
    watch: OPLOG_COLLECTION,
    parent: tip.link,
    base: tip.base,
    upTo: bounds.newest,
  };
}

export function describePlan(plan: DumpPlan, host: string, mongodumpVersion: string): string {
  if (plan.type === 'INCREMENTAL') {
    return `dumping the oplog of ${host} after ${plan.parent!.oplog.toTime} (continuing ${plan.parent!.id}) with mongodump ${mongodumpVersion}`;
  }
  return `dumping ${host}${plan.watch ? ' with its oplog' : ''} with mongodump ${mongodumpVersion}`;
}

/** The newest restore point among the chains on the targets: the link an incremental continues. */
async function newestRestorePoint(targets: Target[]): Promise<{ link: Manifest & { oplog: OplogRange }; base: string }> {
  let best: { link: Manifest & { oplog: OplogRange }; base: string } | undefined;
  for (const target of targets) {
    const manifests = await manifestsOn(target);
    for (const chain of buildChains(manifests).chains) {
      const link = lastLink(chain) as Manifest & { oplog: OplogRange };
      if (!best || compareTimestamps(link.oplog.to, best.link.oplog.to) > 0) best = { link, base: chain.base.id };
    }
  }
  if (!best) {
    throw new BackupError(ErrorCodes.NO_CHAIN, `no point-in-time chain to continue on ${targets.map((t) => t.name).join(', ')}`, {
      hint: 'take a full backup of a replica-set member first (`mongo-backup create`); incrementals continue it',
    });
  }
  return best;
}

function rolledOver(parent: Manifest & { oplog: OplogRange }, oldest: OplogEntryView | undefined): BackupError {
  const since = oldest ? `its oldest entry is now from ${new Date(oldest.timeMs).toISOString()} (${formatTimestamp(oldest.ts)})` : 'it is empty';
  return new BackupError(
    ErrorCodes.OPLOG_ROLLED_OVER,
    `the oplog no longer holds ${formatTimestamp(parent.oplog.to)} (${parent.oplog.toTime}), where ${parent.id} ends: it rolled over, so the writes after that moment are lost to this chain; ${since}`,
    { hint: 'take a full backup now to start a new chain, and make the oplog larger or run incrementals more often' },
  );
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The chain fields of the manifest, from the entries the dump held. An incremental is checked
 * again: its entries must lie after the parent's last and end at the newest entry read at the
 * start, and the parent's last entry must still be in the oplog (else entries went missing while
 * the dump ran). Throws before any manifest is written.
 */
export async function chainFieldsOf(plan: DumpPlan, recorder: OplogRecorder, uri: string): Promise<ChainFields> {
  if (recorder.disorder) {
    throw new BackupError(ErrorCodes.ARCHIVE_CORRUPT, `the dumped oplog is out of order: ${recorder.disorder}`);
  }
  const recorded = recorder.recorded();
  if (plan.type === 'FULL') {
    if (plan.pointInTimeReason) return { pointInTime: false, pointInTimeReason: plan.pointInTimeReason };
    if (!recorded) return { pointInTime: false, pointInTimeReason: 'the dump captured no oplog entry' };
    const oplog = { from: recorded.first.ts, to: recorded.last.ts, fromTime: iso(recorded.first.timeMs), toTime: iso(recorded.last.timeMs), entries: recorded.entries };
    return { pointInTime: true, oplog };
  }
  const parent = plan.parent!;
  const upTo = plan.upTo!;
  const startsAfterParent = !recorded || compareTimestamps(recorded.first.ts, parent.oplog.to) > 0;
  const endsAtNewest = recorded ? compareTimestamps(recorded.last.ts, upTo.ts) === 0 : compareTimestamps(upTo.ts, parent.oplog.to) === 0;
  if (!startsAfterParent || !endsAtNewest) {
    throw new BackupError(
      ErrorCodes.ARCHIVE_CORRUPT,
      `the dumped oplog slice does not span ${formatTimestamp(parent.oplog.to)} – ${formatTimestamp(upTo.ts)}: ${recorded ? `it holds ${formatTimestamp(recorded.first.ts)} – ${formatTimestamp(recorded.last.ts)}` : 'it is empty'}`,
    );
  }
  const after = await oplogBounds(uri, parent.oplog.to);
  if (!after.holds) throw rolledOver(parent, after.oldest);
  return {
    parent: parent.id,
    base: plan.base!,
    pointInTime: true,
    oplog: { from: parent.oplog.to, to: upTo.ts, fromTime: parent.oplog.toTime, toTime: iso(upTo.timeMs), entries: recorded?.entries ?? 0 },
  };
}
