// Chains of backups (src/pitr/chain.ts): which moments a target can restore, which links a
// restore to a moment needs, and what the pitrWindow retention rule keeps.
import { describe, expect, it } from 'vitest';
import { BackupError, ErrorCodes } from '../../src/errors.js';
import { buildChains, chainWindow, keptForWindow, planPointInTime, type ChainMember } from '../../src/pitr/chain.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-12-01T00:00:00Z');

/** Oplog position at `hours` after T0 (one entry per second, increment 1). */
const pos = (hours: number) => ({ t: Math.round((T0 + hours * HOUR) / 1000), i: 1 });
const iso = (hours: number) => new Date(T0 + hours * HOUR).toISOString();

function full(id: string, endHours: number, extra: Partial<ChainMember> = {}): ChainMember {
  return {
    id,
    type: 'FULL',
    status: 'COMPLETED',
    pointInTime: true,
    oplog: { from: pos(endHours - 0.1), to: pos(endHours), fromTime: iso(endHours - 0.1), toTime: iso(endHours), entries: 10 },
    ...extra,
  };
}

function incremental(id: string, parent: ChainMember, base: string, endHours: number, extra: Partial<ChainMember> = {}): ChainMember {
  return {
    id,
    type: 'INCREMENTAL',
    status: 'COMPLETED',
    parent: parent.id,
    base,
    oplog: { from: parent.oplog!.to, to: pos(endHours), fromTime: parent.oplog!.toTime, toTime: iso(endHours), entries: 100 },
    ...extra,
  };
}

describe('chains', () => {
  const f1 = full('backup-a-f1', 0);
  const i1 = incremental('backup-b-i1', f1, f1.id, 1);
  const i2 = incremental('backup-c-i2', i1, f1.id, 2);
  const f2 = full('backup-d-f2', 24);
  const i3 = incremental('backup-e-i3', f2, f2.id, 25);

  it('links each full backup with the incrementals that continue it, and gives each chain its window', () => {
    const { chains, orphans } = buildChains([i3, f2, i2, f1, i1]);
    expect(orphans).toEqual([]);
    expect(chains.map((c) => [c.base.id, ...c.increments.map((l) => l.id)])).toEqual([
      [f1.id, i1.id, i2.id],
      [f2.id, i3.id],
    ]);
    expect(chains.map(chainWindow)).toEqual([
      { base: f1.id, from: iso(0), to: iso(2) },
      { base: f2.id, from: iso(24), to: iso(25) },
    ]);
  });

  it('reports an incremental that leaves a gap in the oplog, and ends the chain before it', () => {
    const gap = incremental('backup-c-gap', i1, f1.id, 3, { oplog: { from: pos(1.5), to: pos(3), fromTime: iso(1.5), toTime: iso(3), entries: 1 } });
    const after = incremental('backup-d-after', gap, f1.id, 4);
    const { chains, orphans } = buildChains([f1, i1, gap, after]);
    expect(chains[0]!.increments.map((l) => l.id)).toEqual([i1.id]);
    expect(orphans.map((o) => o.member.id).sort()).toEqual([gap.id, after.id].sort());
    expect(orphans.find((o) => o.member.id === gap.id)!.reason).toMatch(/gap in the oplog/);
  });

  it('ignores failed links and fulls without an oplog: an incremental after a failed one is an orphan', () => {
    const failed = { ...i1, status: 'FAILED' };
    const notPit = full('backup-x-standalone', 5, { pointInTime: false });
    const { chains, orphans } = buildChains([f1, failed, i2, notPit]);
    expect(chains.map((c) => c.base.id)).toEqual([f1.id]);
    expect(chains[0]!.increments).toEqual([]);
    expect(orphans.map((o) => o.member.id)).toEqual([i2.id]);
  });

  it('keeps the first of two incrementals that continue the same parent and reports the second', () => {
    const twin = incremental('backup-b-twin', f1, f1.id, 1.5); // sorts after backup-b-i1: the later of the two
    const { chains, orphans } = buildChains([f1, i1, twin]);
    expect(chains[0]!.increments.map((l) => l.id)).toEqual([i1.id]);
    expect(orphans.map((o) => o.reason)).toEqual([expect.stringMatching(/already continues/)]);
  });
});

describe('planning a restore to a moment', () => {
  const f1 = full('backup-a-f1', 0);
  const i1 = incremental('backup-b-i1', f1, f1.id, 1);
  const i2 = incremental('backup-c-i2', i1, f1.id, 2);
  const f2 = full('backup-d-f2', 1.5);
  const i3 = incremental('backup-e-i3', f2, f2.id, 3);
  const { chains } = buildChains([f1, i1, i2, f2, i3]);

  const ids = (moment: number | 'latest') => {
    const plan = planPointInTime(chains, moment);
    return [plan.base.id, ...plan.increments.map((l) => l.id)];
  };

  it('needs only the base at its own restore point, and each incremental up to the one covering the moment', () => {
    expect(ids(T0)).toEqual([f1.id]);
    expect(ids(T0 + 0.5 * HOUR)).toEqual([f1.id, i1.id]);
    expect(ids(T0 + 1 * HOUR)).toEqual([f1.id, i1.id]);
    expect(ids(T0 + 1 * HOUR + 1)).toEqual([f1.id, i1.id, i2.id]);
    expect(planPointInTime(chains, T0 + HOUR).notAfterMs).toBe(T0 + HOUR);
  });

  it('prefers the newest base whose window holds the moment (the shortest replay)', () => {
    expect(ids(T0 + 1.75 * HOUR)).toEqual([f2.id, i3.id]);
  });

  it('restores latest from the chain that reaches furthest, with no cut', () => {
    expect(ids('latest')).toEqual([f2.id, i3.id]);
    expect(planPointInTime(chains, 'latest').notAfterMs).toBeUndefined();
  });

  it('refuses a moment outside every window, listing the windows', () => {
    for (const moment of [T0 - 1, T0 + 3 * HOUR + 1]) {
      try {
        planPointInTime(chains, moment);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(BackupError);
        expect((error as BackupError).code).toBe(ErrorCodes.NOT_FOUND);
        expect((error as BackupError).hint).toContain(`${iso(0)} – ${iso(2)}`);
      }
    }
  });
});

describe('the pitrWindow retention rule', () => {
  it('keeps every link of the chains that reach into the window, and nothing of older chains', () => {
    const f1 = full('backup-a-f1', 0);
    const i1 = incremental('backup-b-i1', f1, f1.id, 10);
    const f2 = full('backup-c-f2', 24);
    const i2 = incremental('backup-d-i2', f2, f2.id, 30);
    const i3 = incremental('backup-e-i3', i2, f2.id, 48);
    const { chains } = buildChains([f1, i1, f2, i2, i3]);
    expect([...keptForWindow(chains, T0 + 48 * HOUR, 24 * HOUR)].sort()).toEqual([f2.id, i2.id, i3.id]);
    expect([...keptForWindow(chains, T0 + 48 * HOUR, 40 * HOUR)].sort()).toEqual([f1.id, i1.id, f2.id, i2.id, i3.id]);
  });
});
