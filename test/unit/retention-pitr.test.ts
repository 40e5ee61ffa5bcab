// Retention over point-in-time chains (src/retention/policy.ts, docs/REFERENCE.md#retention): count
// rules count full backups, incrementals live by pitrWindow and by being needed by a kept link,
// broken chains are removed with their reason, and no prune ever leaves a link whose chain is broken.
// Pure logic with fake time: the manifests are built here, the clock is a parameter.
import { describe, expect, it } from 'vitest';
import { buildChains, lastLink, planPointInTime, type Chain, type ChainMember } from '../../src/pitr/chain.js';
import { applyRetention, describePolicy, policyFromConfig, type RetentionCandidate, type RetentionDecision, type RetentionPolicy } from '../../src/retention/policy.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const START = Date.parse('2026-11-02T00:00:00Z'); // a Monday

type Link = RetentionCandidate & ChainMember;

function idAt(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-02T01:00:00.000Z
  return `backup-${iso.slice(0, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}-000000`;
}

const ts = (ms: number) => ({ t: Math.floor(ms / 1000), i: 1 });

/** A point-in-time full backup started at `ms`, consistent at ms + 5 minutes. */
function fullAt(ms: number): Link {
  const end = ms + 5 * MINUTE;
  return {
    id: idAt(ms),
    time: new Date(ms),
    type: 'FULL',
    status: 'COMPLETED',
    pointInTime: true,
    oplog: { from: ts(ms), to: ts(end), fromTime: new Date(ms).toISOString(), toTime: new Date(end).toISOString(), entries: 10 },
  };
}

/** An incremental started at `ms`, continuing `parent` up to the second before. */
function incrementalAt(ms: number, parent: Link, base: string): Link {
  const end = ms - 1000;
  return {
    id: idAt(ms),
    time: new Date(ms),
    type: 'INCREMENTAL',
    status: 'COMPLETED',
    parent: parent.id,
    base,
    oplog: { from: parent.oplog!.to, to: ts(end), fromTime: parent.oplog!.toTime, toTime: new Date(end).toISOString(), entries: 100 },
  };
}

function decisionOf(decisions: RetentionDecision[], id: string): RetentionDecision {
  const decision = decisions.find((d) => d.id === id);
  if (!decision) throw new Error(`no decision for ${id}`);
  return decision;
}

function keptIds(decisions: RetentionDecision[]): string[] {
  return decisions.filter((d) => d.action === 'keep').map((d) => d.id).sort();
}

/** A day of history: a full at 00:00 of `day` (days after START) and incrementals at 01:00 .. `lastHour`:00. */
function dayOfChain(day: number, lastHour = 23): Link[] {
  const full = fullAt(START + day * DAY);
  const links: Link[] = [full];
  for (let hour = 1; hour <= lastHour; hour++) links.push(incrementalAt(START + day * DAY + hour * HOUR, links[links.length - 1]!, full.id));
  return links;
}

describe('retention of point-in-time chains', () => {
  it('counts full backups only: keepLast 2 keeps two fulls, and a kept full keeps none of its incrementals', () => {
    const [day0, day1, day2] = [dayOfChain(0, 3), dayOfChain(1, 3), dayOfChain(2, 0)];
    const decisions = applyRetention([...day0, ...day1, ...day2], { keepLast: 2 }, new Date(START + 2 * DAY + HOUR));
    expect(keptIds(decisions)).toEqual([day1[0]!.id, day2[0]!.id].sort());
    expect(decisionOf(decisions, day1[0]!.id).reasons).toEqual(['last 2 (#2)']);
    expect(decisionOf(decisions, day1[3]!.id).reasons).toEqual(['incremental: count rules keep full backups only, and no pitrWindow is set']);
  });

  it('keeps the chain of the newest backup whole: a full the count rules would delete stays when its incremental is kept', () => {
    const day0 = dayOfChain(0, 3);
    const newest = day0[3]!;
    // keepLast 1 keeps only the newest full; maxAge 1h would delete the full and the first links.
    const decisions = applyRetention(day0, { keepLast: 1, maxAgeMs: HOUR }, new Date(START + 3 * HOUR + 30 * MINUTE));
    expect(keptIds(decisions)).toEqual(day0.map((l) => l.id).sort());
    expect(decisionOf(decisions, newest.id).reasons).toEqual(['newest completed backup (always kept)']);
    expect(decisionOf(decisions, day0[0]!.id).reasons).toEqual(expect.arrayContaining([`needed by ${day0[1]!.id}`, `needed by ${newest.id}`]));
    expect(decisionOf(decisions, day0[0]!.id).reasons.every((r) => r.startsWith('needed by'))).toBe(true);
  });

  it('keeps the base of a kept incremental even where its parent chain is broken (a minAge-protected orphan)', () => {
    const day0 = dayOfChain(0, 3);
    const nextFull = fullAt(START + 4 * HOUR);
    const history = [...day0.filter((l) => l !== day0[1]), nextFull];
    const decisions = applyRetention(history, { keepLast: 1, minAgeMs: 90 * MINUTE }, new Date(START + 4 * HOUR + 10 * MINUTE));
    expect(decisionOf(decisions, day0[3]!.id)).toMatchObject({ action: 'keep', reasons: ['within minAge 1h 30m'] });
    // Its parent and its base stay with it, so copying the missing link back repairs the chain.
    expect(decisionOf(decisions, day0[2]!.id)).toMatchObject({ action: 'keep', reasons: [`needed by ${day0[3]!.id}`] });
    expect(decisionOf(decisions, day0[0]!.id)).toMatchObject({ action: 'keep', reasons: [`needed by ${day0[3]!.id}`, `needed by ${day0[2]!.id}`] });
  });

  it('removes incrementals whose chain is broken, newest included, and says why', () => {
    const day0 = dayOfChain(0, 4);
    const missing = day0[2]!;
    const history = day0.filter((l) => l !== missing);
    const decisions = applyRetention(history, { keepLast: 5 }, new Date(START + 5 * HOUR));
    for (const orphan of [day0[3]!, day0[4]!]) {
      const decision = decisionOf(decisions, orphan.id);
      expect(decision.action).toBe('delete');
      expect(decision.reasons).toEqual([expect.stringMatching(/^broken chain: its parent .* is not a completed link of a chain on this target$/)]);
    }
    expect(decisionOf(decisions, day0[3]!.id).reasons[0]).toContain(missing.id);
    // The newest backup that can restore something is what "always kept" protects now.
    expect(decisionOf(decisions, day0[1]!.id).reasons).toEqual(['newest completed backup (always kept)']);
    expect(keptIds(decisions)).toEqual([day0[0]!.id, day0[1]!.id].sort());
  });

  it('keeps the newest restore point and its chain when a newer backup starts no chain', () => {
    const day0 = dayOfChain(0, 3);
    const partial: Link = { ...fullAt(START + 4 * HOUR), pointInTime: false };
    delete partial.oplog;
    const decisions = applyRetention([...day0, partial], { keepLast: 1 }, new Date(START + 5 * HOUR));
    expect(decisionOf(decisions, partial.id).reasons).toEqual(['last 1 (#1)', 'newest completed backup (always kept)']);
    expect(decisionOf(decisions, day0[3]!.id).reasons).toEqual(['newest restore point (always kept)']);
    expect(keptIds(decisions)).toEqual([...day0, partial].map((l) => l.id).sort());
  });

  it('an empty policy still removes broken chains; minAge still protects them', () => {
    const day0 = dayOfChain(0, 3);
    const history = day0.filter((l) => l !== day0[1]);
    const now = new Date(START + 4 * HOUR);
    expect(keptIds(applyRetention(history, {}, now))).toEqual([day0[0]!.id]);
    const protectedByMinAge = applyRetention(history, { minAgeMs: 2 * HOUR }, now);
    expect(decisionOf(protectedByMinAge, day0[3]!.id)).toMatchObject({ action: 'keep', reasons: ['within minAge 2h'] });
  });

  it('pitrWindow keeps every link of the chains reaching into the window, naming the rule', () => {
    const history = [...dayOfChain(0), ...dayOfChain(1), ...dayOfChain(2, 6)];
    const now = new Date(START + 2 * DAY + 6 * HOUR + 10 * MINUTE);
    const decisions = applyRetention(history, { keepLast: 1, pitrWindowMs: 12 * HOUR }, now);
    // 12h back is 18:10 of day 1: day 1's whole chain and day 2's are needed, day 0's is not.
    const expected = [...dayOfChain(1), ...dayOfChain(2, 6)].map((l) => l.id).sort();
    expect(keptIds(decisions)).toEqual(expected);
    expect(decisionOf(decisions, dayOfChain(1)[5]!.id).reasons[0]).toBe('pitrWindow 12h');
    expect(decisionOf(decisions, dayOfChain(2)[0]!.id).reasons.slice(0, 2)).toEqual(['last 1 (#1)', 'pitrWindow 12h']);
    expect(decisionOf(decisions, dayOfChain(0)[5]!.id).reasons).toEqual(['incremental not needed for the pitrWindow 12h']);
    expect(decisionOf(decisions, dayOfChain(0)[0]!.id).reasons).toEqual(['not kept by any keep rule']);
  });

  it('reads pitrWindow from the configuration as a rule of its own, and describes it', () => {
    const policy = policyFromConfig({ pitrWindow: '7d' }, { maxBackups: 10, retentionDays: 30 });
    expect(policy).toEqual({ pitrWindowMs: 7 * DAY });
    expect(describePolicy({ keepDaily: 7, pitrWindowMs: 7 * DAY })).toBe('keep 7 daily, every restore point of the last 7d');
    expect(() => policyFromConfig({ pitrWindow: 'a week' }, {}, 'targets.local.retention')).toThrow(/targets\.local\.retention\.pitrWindow/);
  });
});

// ---------------------------------------------------------------------------------------------
// Two weeks of hourly incrementals and daily fulls, pruned every hour as `create --prune` would.
// Each new incremental continues the newest restore point on the target (as `create` does); on
// day 9 an operator deletes a middle link and one incremental run is killed (a folder without a
// manifest). After every prune: no survivor belongs to a broken chain, and every moment of the
// pitrWindow that was restorable before the prune is still restorable, from links that survived.

/** The link a new incremental continues: the last link of the chain reaching furthest. */
function newestRestorePoint(store: Map<string, Link>): { parent: Link; base: string } | undefined {
  const { chains } = buildChains([...store.values()]);
  const newest = [...chains].sort((a, b) => Date.parse(lastLink(b).oplog!.toTime) - Date.parse(lastLink(a).oplog!.toTime))[0];
  return newest ? { parent: lastLink(newest) as Link, base: newest.base.id } : undefined;
}

/** Moments to probe in [from, to]: every 10 minutes, and each link's restore point exactly. */
function probeMoments(store: Map<string, Link>, from: number, to: number): number[] {
  const moments = new Set<number>();
  for (let m = from; m <= to; m += 10 * MINUTE) moments.add(m);
  for (const link of store.values()) {
    const point = link.oplog ? Date.parse(link.oplog.toTime) : NaN;
    if (point >= from && point <= to) moments.add(point);
  }
  return [...moments];
}

function restorable(chains: Chain[], moment: number): string[] | undefined {
  try {
    const plan = planPointInTime(chains, moment);
    return [plan.base.id, ...plan.increments.map((l) => l.id)];
  } catch {
    return undefined;
  }
}

describe('prune over two weeks of hourly incrementals and daily fulls', () => {
  const POLICIES: Array<[string, RetentionPolicy]> = [
    ['keepDaily 7 + pitrWindow 2d', { keepDaily: 7, pitrWindowMs: 2 * DAY }],
    ['keepLast 3 + pitrWindow 36h + maxAge 5d', { keepLast: 3, pitrWindowMs: 36 * HOUR, maxAgeMs: 5 * DAY }],
    ['keepLast 1, no pitrWindow', { keepLast: 1 }],
  ];

  it.each(POLICIES)('%s: never leaves a broken chain, keeps the window restorable', (_name, policy) => {
    const store = new Map<string, Link>();
    const windowMs = policy.pitrWindowMs ?? 0;
    let probed = 0;
    let brokenRemoved = 0;
    const lost: string[] = [];
    for (let hour = 0; hour < 14 * 24; hour++) {
      const now = START + hour * HOUR;
      if (hour === 9 * 24 + 12) store.delete(idAt(now - 4 * HOUR)); // `delete <id>` of a middle link
      if (hour % 24 === 0) {
        const full = fullAt(now);
        store.set(full.id, full);
      } else if (hour === 9 * 24 + 15) {
        const killed: Link = { id: idAt(now), time: new Date(now), type: 'INCREMENTAL', status: 'INCOMPLETE' };
        store.set(killed.id, killed);
      } else {
        const tip = newestRestorePoint(store)!;
        const link = incrementalAt(now, tip.parent, tip.base);
        store.set(link.id, link);
      }
      const pruneAt = now + 10 * MINUTE;
      const before = buildChains([...store.values()]).chains;
      const decisions = applyRetention([...store.values()], policy, new Date(pruneAt));
      for (const d of decisions) {
        if (d.reasons.some((r) => r.startsWith('broken chain'))) brokenRemoved++;
        if (d.action === 'delete') store.delete(d.id);
      }
      const after = buildChains([...store.values()]);

      expect(after.orphans.map((o) => `${o.member.id}: ${o.reason}`), `after the prune at hour ${hour}`).toEqual([]);
      if (windowMs > 0) {
        for (const moment of probeMoments(store, pruneAt - windowMs, pruneAt)) {
          const planBefore = restorable(before, moment);
          if (!planBefore) continue;
          probed++;
          const planAfter = restorable(after.chains, moment);
          if (planAfter?.join() !== planBefore.join()) lost.push(`${new Date(moment).toISOString()} after the prune at hour ${hour}`);
        }
      }
    }

    expect(lost, 'moments of the window that were restorable and no longer are').toEqual([]);
    expect(brokenRemoved, 'the deleted middle link orphans the 3 links after it').toBe(3);
    const survivors = [...store.values()];
    const incrementals = survivors.filter((l) => l.type === 'INCREMENTAL' && l.status === 'COMPLETED');
    const end = START + 14 * DAY - HOUR + 10 * MINUTE;
    if (windowMs > 0) {
      expect(probed).toBeGreaterThan(1000);
      // Nothing is kept for the window beyond the chain that holds its start (a chain spans a day).
      const oldest = Math.min(...incrementals.map((l) => l.time.getTime()));
      expect(oldest).toBeGreaterThanOrEqual(end - windowMs - DAY);
    } else {
      // Without a window only the newest chain keeps its incrementals: today's 23 links.
      expect(incrementals.map((l) => l.base)).toEqual(Array(23).fill(idAt(START + 13 * DAY)));
    }
    const fulls = survivors.filter((l) => l.type === 'FULL').length;
    expect(fulls).toBe(policy.keepDaily ?? Math.max(policy.keepLast ?? 0, windowMs > 0 ? Math.ceil(windowMs / DAY) + 1 : 0));
  });
});
