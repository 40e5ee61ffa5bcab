// Pure parts of the point-in-time views (docs/PITR.md): where a backup sits in its target's chains
// (show, verify) and whether a parsed oplog covers exactly the range a manifest records (verify --deep).
import { describe, expect, it } from 'vitest';
import { BSON, Timestamp } from 'mongodb';
import { chainPosition, chainsOnTarget } from '../../src/engine/catalog.js';
import { compareOplog } from '../../src/engine/verify.js';
import type { Manifest } from '../../src/engine/manifest.js';
import { OplogRecorder } from '../../src/pitr/oplog.js';

const ts = (t: number, i = 1) => ({ t, i });
const iso = (t: number) => new Date(t * 1000).toISOString();

function manifest(id: string, type: 'FULL' | 'INCREMENTAL', from: number, to: number, extra: Partial<Manifest> = {}): Manifest {
  return {
    id,
    type,
    status: 'COMPLETED',
    pointInTime: true,
    oplog: { from: ts(from), to: ts(to), fromTime: iso(from), toTime: iso(to), entries: 2 },
    ...extra,
  } as Manifest;
}

const base = manifest('backup-2026-03-01-000000-aaaaaa', 'FULL', 100, 110);
const first = manifest('backup-2026-03-01-010000-bbbbbb', 'INCREMENTAL', 110, 200, { parent: base.id, base: base.id });
const second = manifest('backup-2026-03-01-020000-cccccc', 'INCREMENTAL', 200, 300, { parent: first.id, base: base.id });

describe('chainPosition', () => {
  it('gives the links from the base and the window of an intact chain', () => {
    expect(chainPosition([base, first, second], second.id)).toEqual({
      links: [base.id, first.id, second.id],
      intact: true,
      window: { base: base.id, from: iso(110), to: iso(300) },
    });
    expect(chainPosition([base, first, second], base.id)?.links).toEqual([base.id]);
  });

  it('names a missing parent and the moment where the chain stops', () => {
    const position = chainPosition([base, second], second.id)!;
    expect(position.intact).toBe(false);
    expect(position.links).toEqual([base.id, second.id]);
    expect(position.broken).toContain(`${first.id}, the parent of ${second.id}, is missing on this target`);
    expect(position.broken).toContain(`starts after ${iso(200)}`);
    expect(position.broken).toContain(`the chain of ${base.id} reaches only ${base.id} (${iso(110)})`);
    expect(chainsOnTarget('local', [base, second]).orphans.map((o) => o.reason)).toEqual([`its parent ${first.id} is missing on this target`]);
  });

  it('names a gap in the oplog between a present parent and its child', () => {
    const gapped = manifest(second.id, 'INCREMENTAL', 250, 300, { parent: first.id, base: base.id });
    const position = chainPosition([base, first, gapped], gapped.id)!;
    expect(position).toMatchObject({ intact: false, links: [base.id, first.id, gapped.id] });
    expect(position.broken).toMatch(/gap in the oplog: it starts after 250:1, its parent .* ends at 200:1/);
  });

  it('places a full backup that is not point-in-time in no chain', () => {
    expect(chainPosition([{ ...base, pointInTime: false, oplog: undefined } as Manifest], base.id)).toBeUndefined();
  });
});

function recorded(...stamps: Array<[number, number]>): OplogRecorder {
  const recorder = new OplogRecorder();
  for (const [t, i] of stamps) recorder.document(BSON.serialize({ ts: new Timestamp({ t, i }), op: 'n', ns: '', wall: new Date(t * 1000) }));
  return recorder;
}

describe('compareOplog', () => {
  it("accepts a full whose entries run exactly from oplog.from to oplog.to, and an incremental's after from up to to", () => {
    expect(compareOplog(base, recorded([100, 1], [110, 1]))).toEqual([]);
    expect(compareOplog(first, recorded([150, 1], [200, 1]))).toEqual([]);
  });

  it('names a wrong count, a wrong start, a wrong end and disorder', () => {
    expect(compareOplog(base, recorded([101, 1], [110, 1]))).toEqual([expect.stringContaining('its oplog starts at 101:1')]);
    expect(compareOplog(first, recorded([110, 1], [200, 1]))).toEqual([expect.stringContaining('its oplog starts at 110:1')]);
    expect(compareOplog(first, recorded([150, 1], [199, 1]))).toEqual([expect.stringContaining('its oplog ends at 199:1')]);
    expect(compareOplog(first, recorded([150, 1], [120, 1], [200, 1]))).toEqual([
      'the oplog is out of order: entry 2 (120:1) does not come after 150:1',
      'the archive holds 3 oplog entries, the manifest says 2',
    ]);
  });

  it('accepts an empty slice only where from equals to', () => {
    const idle = manifest('backup-2026-03-01-030000-dddddd', 'INCREMENTAL', 300, 300, { parent: second.id, base: base.id });
    expect(compareOplog({ ...idle, oplog: { ...idle.oplog!, entries: 0 } }, recorded())).toEqual([]);
    expect(compareOplog({ ...first, oplog: { ...first.oplog!, entries: 0 } }, recorded())).toEqual([expect.stringContaining('holds no oplog entry')]);
  });
});
