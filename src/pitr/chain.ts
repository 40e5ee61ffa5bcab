/**
 * Chains of backups on one target (docs/PITR.md): a point-in-time full backup and the incrementals
 * that follow it without a gap. Pure logic over manifests: which chains exist, which moments they
 * can restore, which links a restore to a moment needs, and what retention must keep together.
 */
import { BackupError, ErrorCodes } from '../errors.js';
import { compareTimestamps, formatTimestamp, type OplogTimestamp } from './oplog.js';

/** The oplog a backup holds: after `from` (exclusive) up to `to` (inclusive), with their times. */
export interface OplogRange {
  from: OplogTimestamp;
  to: OplogTimestamp;
  fromTime: string;
  toTime: string;
  entries: number;
}

/** The manifest fields chains are built from. */
export interface ChainMember {
  id: string;
  type: 'FULL' | 'INCREMENTAL';
  status: string;
  parent?: string;
  base?: string;
  oplog?: OplogRange;
  pointInTime?: boolean;
}

export interface Chain<M extends ChainMember = ChainMember> {
  /** The full backup: its restore point is where the chain's window starts. */
  base: M;
  /** The incrementals, oldest first, each starting where the one before it ended. */
  increments: M[];
}

/** An incremental that belongs to no chain, and why. */
export interface Orphan<M extends ChainMember = ChainMember> {
  member: M;
  reason: string;
}

/** A window of restorable moments: from the base's restore point to the newest link's. */
export interface RestoreWindow {
  base: string;
  from: string;
  to: string;
}

export function lastLink<M extends ChainMember>(chain: Chain<M>): M {
  return chain.increments[chain.increments.length - 1] ?? chain.base;
}

export function chainWindow(chain: Chain): RestoreWindow {
  return { base: chain.base.id, from: chain.base.oplog!.toTime, to: lastLink(chain).oplog!.toTime };
}

function isRoot(member: ChainMember): boolean {
  return member.type === 'FULL' && member.status === 'COMPLETED' && member.pointInTime === true && member.oplog !== undefined;
}

/**
 * Every chain among one target's backups, oldest base first, and the completed incrementals that
 * continue none (parent gone or not completed, a gap in the oplog, a second child of one parent).
 */
export function buildChains<M extends ChainMember>(members: M[]): { chains: Chain<M>[]; orphans: Orphan<M>[] } {
  const completed = members.filter((m) => m.status === 'COMPLETED');
  const children = new Map<string, M[]>();
  for (const m of completed) {
    if (m.type !== 'INCREMENTAL') continue;
    const siblings = children.get(m.parent ?? '') ?? [];
    siblings.push(m);
    children.set(m.parent ?? '', siblings);
  }
  for (const siblings of children.values()) siblings.sort((a, b) => a.id.localeCompare(b.id));

  const placed = new Set<string>();
  const orphans: Orphan<M>[] = [];
  const chains: Chain<M>[] = [];
  for (const base of completed.filter(isRoot).sort((a, b) => a.id.localeCompare(b.id))) {
    const chain: Chain<M> = { base, increments: [] };
    let tip: M = base;
    for (;;) {
      const next = (children.get(tip.id) ?? []).filter((child) => !placed.has(child.id));
      const continuing = next.find((child) => continues(child, tip, base));
      for (const other of next) {
        if (other === continuing) continue;
        placed.add(other.id);
        orphans.push({ member: other, reason: whyNotContinuing(other, tip, base, continuing) });
      }
      if (!continuing) break;
      placed.add(continuing.id);
      chain.increments.push(continuing);
      tip = continuing;
    }
    chains.push(chain);
  }
  for (const m of completed) {
    if (m.type === 'INCREMENTAL' && !placed.has(m.id)) {
      orphans.push({ member: m, reason: `its parent ${m.parent ?? '(none)'} is not a completed link of a chain on this target` });
    }
  }
  return { chains, orphans };
}

function continues(child: ChainMember, parent: ChainMember, base: ChainMember): boolean {
  return child.oplog !== undefined && (child.base ?? base.id) === base.id && compareTimestamps(child.oplog.from, parent.oplog!.to) === 0;
}

function whyNotContinuing(child: ChainMember, parent: ChainMember, base: ChainMember, chosen: ChainMember | undefined): string {
  if (child.oplog === undefined) return 'its manifest records no oplog range';
  if ((child.base ?? base.id) !== base.id) return `it names ${child.base} as its base, but its parent belongs to the chain of ${base.id}`;
  if (compareTimestamps(child.oplog.from, parent.oplog!.to) !== 0) {
    return `gap in the oplog: it starts after ${formatTimestamp(child.oplog.from)}, its parent ${parent.id} ends at ${formatTimestamp(parent.oplog!.to)}`;
  }
  return `${chosen?.id ?? 'another incremental'} already continues ${parent.id}`;
}

/** What a restore to a moment needs: the base, the incrementals to replay, and where to stop. */
export interface RestorePlan<M extends ChainMember = ChainMember> {
  base: M;
  increments: M[];
  /** Replay entries written at or before this moment (ms); undefined = everything (`latest`). */
  notAfterMs?: number;
}

/**
 * The links that restore `moment` (ms since the epoch, or 'latest'): the chain whose window holds
 * it with the newest base (the shortest replay), and its incrementals up to the one that covers it.
 */
export function planPointInTime<M extends ChainMember>(chains: Chain<M>[], moment: number | 'latest'): RestorePlan<M> {
  if (chains.length === 0) {
    throw new BackupError(ErrorCodes.NOT_FOUND, 'no point-in-time backup on this target: no completed full backup with an oplog', {
      hint: 'take a full backup of a replica-set member (`mongo-backup create`), then incrementals (`create --type incremental`)',
    });
  }
  if (moment === 'latest') {
    const newest = [...chains].sort((a, b) => timeOf(lastLink(b)) - timeOf(lastLink(a)) || b.base.id.localeCompare(a.base.id))[0]!;
    return { base: newest.base, increments: newest.increments };
  }
  const holding = chains
    .filter((c) => timeOf(c.base) <= moment && moment <= timeOf(lastLink(c)))
    .sort((a, b) => timeOf(b.base) - timeOf(a.base))[0];
  if (!holding) {
    const windows = chains.map(chainWindow).map((w) => `${w.from} – ${w.to}`);
    throw new BackupError(ErrorCodes.NOT_FOUND, `no chain on this target can restore ${new Date(moment).toISOString()}`, {
      hint: `restorable windows: ${windows.join('; ')}`,
    });
  }
  const increments: M[] = [];
  let tip: M = holding.base;
  for (const link of holding.increments) {
    if (timeOf(tip) >= moment) break;
    increments.push(link);
    tip = link;
  }
  return { base: holding.base, increments, notAfterMs: moment };
}

/** A link's restore point in ms. */
function timeOf(member: ChainMember): number {
  return Date.parse(member.oplog!.toTime);
}

/**
 * The backups a point-in-time window of `windowMs` back from `nowMs` needs (the `pitrWindow`
 * retention rule): every link of each chain that reaches into the window, base included.
 */
export function keptForWindow(chains: Chain[], nowMs: number, windowMs: number): Set<string> {
  const start = nowMs - windowMs;
  const keep = new Set<string>();
  for (const chain of chains) {
    if (timeOf(lastLink(chain)) < start) continue;
    keep.add(chain.base.id);
    for (const link of chain.increments) keep.add(link.id);
  }
  return keep;
}
