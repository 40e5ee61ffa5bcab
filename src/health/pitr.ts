/**
 * The point-in-time checks of `health` (docs/REFERENCE.md#health-checks, docs/PITR.md): the age of the
 * newest restore point against the RPO, incrementals that continue no chain, and the source's oplog
 * window against the incremental interval. Pure: inputs are the manifests the targets listed.
 */
import { buildChains, chainWindow, lastLink, type Chain, type ChainMember, type OplogRange, type Orphan } from '../pitr/chain.js';
import { compareTimestamps } from '../pitr/oplog.js';

/** The manifest fields the point-in-time checks read (structurally the catalog's manifest). */
export interface HealthChainFields {
  type?: 'FULL' | 'INCREMENTAL' | string;
  status?: string;
  parent?: string;
  base?: string;
  oplog?: OplogRange;
  pointInTime?: boolean;
}

/** The source's oplog, oldest to newest entry (ms), or why it could not be read. */
export type SourceOplog = { oldestMs: number; newestMs: number } | { error: string };

export interface TargetChainState {
  target: string;
  chains: Chain[];
  orphans: Orphan[];
  /** The newest chain tip's restore point on this target. */
  newest?: { backupId: string; base: string; time: string; to: OplogRange['to'] };
  /** Seconds of restorable time: the union of the chains' windows. */
  restorableSeconds: number;
  /** Whether any backup here is point-in-time (a chain's base or an incremental). */
  hasPointInTime: boolean;
}

export function chainMembers(backups: Array<{ id: string; status: string; manifest?: HealthChainFields }>): ChainMember[] {
  return backups.flatMap((b) => {
    const m = b.manifest;
    if (b.status !== 'COMPLETED' || !m || (m.type !== 'FULL' && m.type !== 'INCREMENTAL')) return [];
    return [{ id: b.id, type: m.type, status: 'COMPLETED', ...pick(m) }];
  });
}

function pick(m: HealthChainFields): Omit<ChainMember, 'id' | 'type' | 'status'> {
  return {
    ...(m.parent !== undefined ? { parent: m.parent } : {}),
    ...(m.base !== undefined ? { base: m.base } : {}),
    ...(m.oplog !== undefined ? { oplog: m.oplog } : {}),
    ...(m.pointInTime !== undefined ? { pointInTime: m.pointInTime } : {}),
  };
}

export function targetChainState(target: string, members: ChainMember[]): TargetChainState {
  const { chains, orphans } = buildChains(members);
  let newest: TargetChainState['newest'];
  for (const chain of chains) {
    const tip = lastLink(chain);
    if (!newest || compareTimestamps(tip.oplog!.to, newest.to) > 0) newest = { backupId: tip.id, base: chain.base.id, time: tip.oplog!.toTime, to: tip.oplog!.to };
  }
  return {
    target,
    chains,
    orphans,
    ...(newest ? { newest } : {}),
    restorableSeconds: unionSeconds(chains.map(chainWindow).map((w) => [Date.parse(w.from), Date.parse(w.to)] as const)),
    hasPointInTime: members.some((m) => m.type === 'INCREMENTAL' || m.pointInTime === true),
  };
}

/** The length of the union of [from, to] intervals (ms), in seconds. */
function unionSeconds(intervals: ReadonlyArray<readonly [number, number]>): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let current: [number, number] | undefined;
  for (const [from, to] of sorted) {
    if (current && from <= current[1]) current[1] = Math.max(current[1], to);
    else {
      if (current) total += current[1] - current[0];
      current = [from, to];
    }
  }
  if (current) total += current[1] - current[0];
  return Math.round(total / 1000);
}

/** Orphans newer than the target's newest chain tip: the newest incrementals restore nothing. */
export function breakingOrphans(state: TargetChainState): Orphan[] {
  return state.orphans.filter((o) => o.member.oplog !== undefined && (!state.newest || compareTimestamps(o.member.oplog.to, state.newest.to) > 0));
}
