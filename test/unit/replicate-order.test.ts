// The order in which `replicate` copies backups (src/engine/replicate.ts, docs/REFERENCE.md#replicate):
// chains whole, every missing earlier link before the link that needs it, never a link before its
// parent, and no incremental whose chain has a link on no target. Pure: catalog entries built here.
import { describe, expect, it } from 'vitest';
import type { CatalogEntry } from '../../src/engine/catalog.js';
import type { Manifest } from '../../src/engine/manifest.js';
import { replicationOrder, type ReplicationStep } from '../../src/engine/replicate.js';

function entry(id: string, targets: string[], parent?: string, base?: string): CatalogEntry {
  const manifest = { id, type: parent ? 'INCREMENTAL' : 'FULL', ...(parent ? { parent, base } : {}) } as Manifest;
  return { id, manifest, targets };
}

function describeSteps(steps: ReplicationStep[]): string[] {
  return steps.map((s) => ('entry' in s ? s.entry.id : `blocked ${s.blockedEntry.id}: ${s.blocked}`));
}

// A chain on `local`: full f, incrementals i1 .. i3; a second full g with i4.
const f = entry('backup-1-f', ['local']);
const i1 = entry('backup-2-i1', ['local'], f.id, f.id);
const i2 = entry('backup-3-i2', ['local'], i1.id, f.id);
const i3 = entry('backup-4-i3', ['local'], i2.id, f.id);
const g = entry('backup-5-g', ['local']);
const i4 = entry('backup-6-i4', ['local'], g.id, g.id);

describe('replicationOrder', () => {
  it('copies an incremental after every earlier link of its chain, oldest first', () => {
    expect(describeSteps(replicationOrder([f, i1, i2, i3, g, i4], [i3], 'offsite'))).toEqual([f.id, i1.id, i2.id, i3.id]);
  });

  it('copies only the links the destination lacks, a hole in the middle included', () => {
    const onBoth = (e: CatalogEntry) => ({ ...e, targets: ['local', 'offsite'] });
    expect(describeSteps(replicationOrder([onBoth(f), i1, onBoth(i2), i3], [i3], 'offsite'))).toEqual([i1.id, i3.id]);
  });

  it('--all-missing: never a link before its parent, whatever order the selection comes in', () => {
    const steps = describeSteps(replicationOrder([i4, i3, g, i2, i1, f], [i4, i3, i2, g, i1, f], 'offsite'));
    expect(steps).toEqual([f.id, i1.id, i2.id, i3.id, g.id, i4.id]);
  });

  it('refuses an incremental whose chain has a link on no target, and the links after it', () => {
    const after = entry('backup-7-after', ['local'], i3.id, f.id);
    const steps = describeSteps(replicationOrder([f, i1, i3, after], [f, i1, i3, after], 'offsite'));
    expect(steps).toEqual([
      f.id,
      i1.id,
      `blocked ${i3.id}: its chain is broken: link ${i2.id} is on no target, so ${i3.id} was not replicated`,
      `blocked ${after.id}: its chain is broken: link ${i2.id} is on no target, so ${after.id} was not replicated`,
    ]);
  });
});
