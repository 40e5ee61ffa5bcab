// The archive rewriter (src/archive/rewrite.ts) and the oplog replay decisions (src/pitr/oplog.ts):
// what reaches mongorestore when a point-in-time restore filters, renames, splices and cuts.
// Every rewritten archive is checked by the independent inspector (structure and CRC-64 of every
// namespace, the oplog's included), as mongorestore would check it.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BSON, Timestamp } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { inspectArchive } from '../../src/archive/inspector.js';
import { readArchive } from '../../src/archive/reader.js';
import { documentsOf, rewriteArchive, type ArchiveRewrite } from '../../src/archive/rewrite.js';
import { BackupError, ErrorCodes } from '../../src/errors.js';
import { namespaceSelector, type NamespaceOptions } from '../../src/archive/namespaces.js';
import { replayDecider, viewOplogEntry } from '../../src/pitr/oplog.js';
import { buildArchive, realArchivesDir, splitIntoChunks, type FixtureNamespace } from './archive-fixtures.js';

async function* chunksOf(buf: Buffer, size = 997): AsyncGenerator<Buffer> {
  yield* splitIntoChunks(buf, size);
}

async function rewrite(archive: Buffer, options: ArchiveRewrite): Promise<{ bytes: Buffer; oplogEntries: number; cut: boolean }> {
  const { chunks, summary } = rewriteArchive(chunksOf(archive), options);
  const out: Buffer[] = [];
  for await (const chunk of chunks) out.push(chunk);
  return { bytes: Buffer.concat(out), oplogEntries: summary.oplogEntries, cut: summary.cut };
}

async function collect(source: AsyncIterable<Buffer[]>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const batch of source) out.push(...batch);
  return out;
}

const selection = (options: Partial<NamespaceOptions>) => namespaceSelector({ include: [], exclude: [], ...options });

let tsCounter = 0;
/** An oplog entry written `second` seconds after the epoch (wall clock = the same second + ms). */
function entry(fields: Record<string, unknown>, second: number, ms = 0): Buffer {
  tsCounter++;
  return Buffer.from(
    BSON.serialize({ ts: new Timestamp({ t: second, i: tsCounter }), t: 1, v: 2, wall: new Date(second * 1000 + ms), ...fields }),
  );
}

function decoded(doc: Buffer): Record<string, unknown> {
  return BSON.deserialize(doc) as Record<string, unknown>;
}

/** A full backup of `shop` (orders, users) and `crm.leads` whose own oplog holds `oplog`. */
function fullBackup(oplog: Buffer[]): Buffer {
  const docs = (n: number, tag: string) => Array.from({ length: n }, (_, i) => Buffer.from(BSON.serialize({ _id: i, tag })));
  const namespaces: FixtureNamespace[] = [
    { db: 'shop', collection: 'orders', docs: docs(30, 'o') },
    { db: 'shop', collection: 'users', docs: docs(5, 'u') },
    { db: 'crm', collection: 'leads', docs: docs(7, 'l') },
    { db: '', collection: 'oplog', docs: oplog, metadata: '' },
  ];
  return buildArchive(namespaces, { blockDocuments: 4 });
}

describe('rewriting an archive', () => {
  it('changes nothing when nothing is asked: the real mongodump --oplog archive comes out byte for byte', async () => {
    const original = await readFile(path.join(realArchivesDir, 'dump-w-oplog.archive'));
    const { bytes, oplogEntries } = await rewrite(original, {});
    expect(oplogEntries).toBe(18);
    expect(bytes.equals(original)).toBe(true);
  });

  it('leaves out and renames collections in the prelude, the blocks and the EOF headers; the result passes every CRC check', async () => {
    const archive = fullBackup([entry({ op: 'i', ns: 'shop.orders', o: { _id: 99 } }, 100)]);
    const selector = selection({ include: ['shop.*'], from: 'shop.$c$', to: 'copy.$c$' });
    const { bytes } = await rewrite(archive, { mapNamespace: (ns) => selector.map(ns), oplogEntry: replayDecider({ selector }) });
    const summary = await inspectArchive(chunksOf(bytes));
    expect(summary.namespaces).toEqual({ 'copy.orders': 30, 'copy.users': 5, oplog: 1 });
    expect(summary.declared.sort()).toEqual(['copy.orders', 'copy.users', 'oplog']);
    const [replayed] = await collect(documentsOf(chunksOf(bytes), 'oplog'));
    expect(decoded(replayed!)['ns']).toBe('copy.orders');
  });

  it('appends the later links of a chain after the archive own oplog, with one CRC over all of them', async () => {
    const own = [entry({ op: 'i', ns: 'shop.orders', o: { _id: 100 } }, 200), entry({ op: 'i', ns: 'shop.orders', o: { _id: 101 } }, 201)];
    const later = Array.from({ length: 500 }, (_, i) => entry({ op: 'u', ns: 'shop.orders', o2: { _id: i }, o: { _id: i, tag: 'x' } }, 300 + i));
    const { bytes, oplogEntries } = await rewrite(fullBackup(own), { appendOplog: chunksAsDocs(later) });
    expect(oplogEntries).toBe(502);
    const summary = await inspectArchive(chunksOf(bytes));
    expect(summary.namespaces['oplog']).toBe(502);
    expect(summary.details['oplog']!.crcChecked).toBe(true);
    const replayed = await collect(documentsOf(chunksOf(bytes), 'oplog'));
    expect(replayed.map((d) => viewOplogEntry(d).ts.t)).toEqual([200, 201, ...later.map((_, i) => 300 + i)]);
  });

  it('stops the replay at the first entry after the chosen moment, to the millisecond, and stops reading the later links', async () => {
    const own = [entry({ op: 'i', ns: 'shop.orders', o: { _id: 100 } }, 200, 100)];
    const later = [
      entry({ op: 'i', ns: 'shop.orders', o: { _id: 101 } }, 210, 0),
      entry({ op: 'i', ns: 'shop.orders', o: { _id: 102 } }, 210, 500),
      entry({ op: 'i', ns: 'shop.orders', o: { _id: 103 } }, 210, 501),
      entry({ op: 'i', ns: 'shop.orders', o: { _id: 104 } }, 220, 0),
    ];
    let pulled = 0;
    let released = false;
    async function* slice(): AsyncGenerator<Buffer[]> {
      try {
        for (const e of later) {
          pulled++;
          yield [e];
        }
      } finally {
        released = true;
      }
    }
    const selector = selection({});
    const { bytes, oplogEntries, cut } = await rewrite(fullBackup(own), {
      appendOplog: slice(),
      oplogEntry: replayDecider({ selector, notAfterMs: 210_500 }),
    });
    expect(cut).toBe(true);
    expect(oplogEntries).toBe(3);
    expect(pulled).toBe(3);
    expect(released).toBe(true);
    const ids = (await collect(documentsOf(chunksOf(bytes), 'oplog'))).map((d) => (decoded(d)['o'] as { _id: number })._id);
    expect(ids).toEqual([100, 101, 102]);
    expect((await inspectArchive(chunksOf(bytes))).details['oplog']!.crcChecked).toBe(true);
  });

  it('refuses to splice later links onto a full backup that has no oplog', async () => {
    const archive = buildArchive([{ db: 'shop', collection: 'orders', docs: [Buffer.from(BSON.serialize({ _id: 1 }))] }]);
    await expect(rewrite(archive, { appendOplog: chunksAsDocs([]) })).rejects.toThrow(/holds no oplog/);
  });

  it('renames a time-series collection together with its system.buckets data', async () => {
    const original = await readFile(path.join(realArchivesDir, 'timeseries_tests-dump.archive'));
    const selector = selection({ from: 'timeseries_test.$c$', to: 'ts_copy.$c$' });
    const { bytes } = await rewrite(original, { mapNamespace: (ns) => selector.map(ns) });
    const summary = await inspectArchive(chunksOf(bytes));
    expect(summary.namespaces['ts_copy.system.buckets.foo_ts']).toBe(10);
    expect(Object.keys(summary.namespaces).some((ns) => ns.startsWith('timeseries_test.'))).toBe(false);
  });

  it('reports a truncated archive as corrupt, naming the namespace it stopped in', async () => {
    const archive = fullBackup([]);
    const truncated = archive.subarray(0, archive.length - 40);
    const events = async () => {
      for await (const _ of readArchive(chunksOf(truncated))) void _;
    };
    const error = await events().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BackupError);
    expect((error as BackupError).code).toBe(ErrorCodes.ARCHIVE_CORRUPT);
    expect((error as BackupError).message).toMatch(/truncated archive/);
  });
});

/** Entries in batches of 7, as a slice's archive reader hands them over. */
async function* chunksAsDocs(docs: Buffer[]): AsyncGenerator<Buffer[]> {
  for (let i = 0; i < docs.length; i += 7) yield docs.slice(i, i + 7);
}

describe('oplog entries under a namespace selection', () => {
  const decide = (options: Partial<NamespaceOptions>) => replayDecider({ selector: selection(options) });

  it('keeps an entry byte for byte when nothing is filtered', () => {
    const e = entry({ op: 'u', ns: 'shop.orders', ui: new BSON.UUID(), o2: { _id: 1 }, o: { _id: 1, n: new BSON.Int32(3) } }, 10);
    expect(decide({})(e)).toEqual({ keep: e });
  });

  it('drops entries of collections left out and renames the others, without the source UUID and with BSON types intact', () => {
    const d = decide({ include: ['shop.orders'], from: 'shop.$c$', to: 'copy.$c$' });
    expect(d(entry({ op: 'i', ns: 'shop.users', o: { _id: 1 } }, 10))).toBe('drop');
    const result = d(entry({ op: 'i', ns: 'shop.orders', ui: new BSON.UUID(), o: { _id: 1, big: BSON.Long.fromNumber(5), x: new BSON.Double(1) } }, 10));
    expect(result).not.toBe('drop');
    const out = BSON.deserialize((result as { keep: Buffer }).keep, { promoteValues: false });
    expect(out['ns']).toBe('copy.orders');
    expect(out['ui']).toBeUndefined();
    expect(out['o'].big).toBeInstanceOf(BSON.Long);
    expect(out['o'].x).toBeInstanceOf(BSON.Double);
  });

  it('renames collection commands (create, createIndexes, drop) into the destination database', () => {
    const d = decide({ from: 'shop.$c$', to: 'copy.$c$' });
    for (const command of ['create', 'createIndexes', 'drop']) {
      const result = d(entry({ op: 'c', ns: 'shop.$cmd', o: { [command]: 'orders', extra: 1 } }, 10)) as { keep: Buffer };
      expect(decoded(result.keep)['ns']).toBe('copy.$cmd');
      expect(decoded(result.keep)['o']).toEqual({ [command]: 'orders', extra: 1 });
    }
  });

  it('keeps a rename inside the selection, drops one outside it, and refuses one across its edge (exit 2)', () => {
    const d = decide({ include: ['shop.*'] });
    const inside = entry({ op: 'c', ns: 'shop.$cmd', o: { renameCollection: 'shop.a', to: 'shop.b' } }, 10);
    expect(d(inside)).toEqual({ keep: inside });
    expect(d(entry({ op: 'c', ns: 'crm.$cmd', o: { renameCollection: 'crm.a', to: 'crm.b' } }, 10))).toBe('drop');
    const across = entry({ op: 'c', ns: 'shop.$cmd', o: { renameCollection: 'shop.a', to: 'crm.a' } }, 10);
    expect(() => d(across)).toThrow(BackupError);
    try {
      d(across);
    } catch (error) {
      expect((error as BackupError).code).toBe(ErrorCodes.USAGE);
      expect((error as BackupError).message).toMatch(/renames shop\.a to crm\.a across the edge/);
    }
  });

  it('drops a dropDatabase of a database outside the selection and refuses one inside it', () => {
    const d = decide({ include: ['shop.orders'] });
    expect(d(entry({ op: 'c', ns: 'crm.$cmd', o: { dropDatabase: 1 } }, 10))).toBe('drop');
    expect(() => d(entry({ op: 'c', ns: 'shop.$cmd', o: { dropDatabase: 1 } }, 10))).toThrow(/drops the database shop/);
  });

  it('keeps no-op entries and refuses a nested applyOps under a filter', () => {
    const d = decide({ include: ['shop.*'] });
    const noop = entry({ op: 'n', ns: '', o: { msg: 'periodic noop' } }, 10);
    expect(d(noop)).toEqual({ keep: noop });
    expect(() => d(entry({ op: 'c', ns: 'admin.$cmd', o: { applyOps: [] } }, 10))).toThrow(/applyOps/);
  });
});
