import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { BSON, ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { BackupError, ErrorCodes } from '../../src/errors.js';
import { ArchiveInspector, inspectArchive, type ArchiveSummary, type InspectorOptions } from '../../src/archive/inspector.js';
import {
  buildArchive,
  makeDocumentOfSize,
  makeDocuments,
  realArchivesDir,
  seededRandom,
  splitIntoChunks,
  TERMINATOR_BYTES,
  type FixtureNamespace,
} from './archive-fixtures.js';

const REAL_ARCHIVES = {
  'test.bar.archive': {
    namespaces: { 'admin.system.version': 1, 'test.bar': 1 },
    declared: ['test.bar', 'admin.system.version'],
    serverVersion: '3.4.3',
  },
  'dump-w-oplog.archive': {
    namespaces: { 'admin.system.version': 1, 'test.foo': 25, oplog: 18 },
    declared: ['test.foo', 'oplog', 'admin.system.version'],
    serverVersion: '4.0.2',
  },
  'timeseries_tests-dump.archive': {
    namespaces: { 'admin.system.version': 1, 'admin.system.views': 0, 'timeseries_test.system.buckets.foo_ts': 10 },
    declared: ['admin.system.views', 'timeseries_test.system.buckets.foo_ts', 'admin.system.version'],
    serverVersion: '5.0.0-rc0',
  },
} as const;
type RealArchiveName = keyof typeof REAL_ARCHIVES;
const realArchiveNames = Object.keys(REAL_ARCHIVES) as RealArchiveName[];

function readReal(name: RealArchiveName): Buffer {
  return readFileSync(path.join(realArchivesDir, name));
}

async function inspectChunks(chunks: Buffer[], options?: InspectorOptions): Promise<ArchiveSummary> {
  return inspectArchive(Readable.from(chunks, { objectMode: false }), options);
}

/** Runs chunks through the Transform and returns what came out, plus the summary. */
async function throughInspector(chunks: Buffer[], options?: InspectorOptions): Promise<{ out: Buffer[]; summary: ArchiveSummary }> {
  const inspector = new ArchiveInspector(options);
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    inspector,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        out.push(chunk);
        callback();
      },
    }),
  );
  return { out, summary: inspector.summary() };
}

async function expectCorrupt(promise: Promise<unknown>, messagePattern: RegExp): Promise<BackupError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected the archive to be rejected').toBeInstanceOf(BackupError);
  const backupError = error as BackupError;
  expect(backupError.code).toBe(ErrorCodes.ARCHIVE_CORRUPT);
  expect(backupError.exitCode).toBe(3);
  expect(backupError.message).toMatch(messagePattern);
  return backupError;
}

function sha256(parts: Buffer[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

describe('real mongodump archives', () => {
  for (const name of realArchiveNames) {
    const expected = REAL_ARCHIVES[name];

    it(`${name}: counts every namespace, checks every CRC`, async () => {
      const archive = readReal(name);
      const summary = await inspectChunks([archive]);
      expect(summary.namespaces).toEqual(expected.namespaces);
      expect(summary.declared).toEqual(expected.declared);
      expect(summary.header.serverVersion).toBe(expected.serverVersion);
      expect(summary.header.archiveVersion).toBe('0.1');
      expect(summary.bytes).toBe(archive.length);
      for (const [ns, detail] of Object.entries(summary.details)) {
        expect(detail.crcChecked, ns).toBe(true);
        expect(detail.documents).toBe(summary.namespaces[ns]);
      }
    });

    it(`${name}: same result fed 1 byte at a time and in random chunk sizes`, async () => {
      const archive = readReal(name);
      const oneByte = await inspectChunks(splitIntoChunks(archive, 1));
      expect(oneByte.namespaces).toEqual(expected.namespaces);
      const random = seededRandom(archive.length);
      for (let round = 0; round < 5; round++) {
        const summary = await inspectChunks(splitIntoChunks(archive, () => 1 + Math.floor(random() * 700)));
        expect(summary.namespaces).toEqual(expected.namespaces);
        expect(Object.values(summary.details).every((d) => d.crcChecked)).toBe(true);
      }
    });
  }

  it('document bytes per namespace add up to what the archive holds', async () => {
    const summary = await inspectChunks([readReal('dump-w-oplog.archive')]);
    // test.foo: 25 documents of {_id: ObjectId, a: int32} = 29 bytes each
    expect(summary.details['test.foo']!.bytes).toBe(25 * 29);
  });

  it('passes the bytes through unchanged, the same Buffer objects, in order', async () => {
    const archive = readReal('timeseries_tests-dump.archive');
    const random = seededRandom(3);
    const chunks = splitIntoChunks(archive, () => 1 + Math.floor(random() * 5000));
    const { out, summary } = await throughInspector(chunks);
    expect(sha256(out)).toBe(sha256([archive]));
    expect(out.length).toBe(chunks.length);
    out.forEach((chunk, i) => expect(chunk).toBe(chunks[i]));
    expect(summary.namespaces).toEqual(REAL_ARCHIVES['timeseries_tests-dump.archive'].namespaces);
  });
});

describe('corruption is reported as ARCHIVE_CORRUPT (exit 3)', () => {
  /** Where a document of the real oplog archive sits, found by its bytes. */
  function locate(archive: Buffer, doc: Record<string, unknown>): { start: number; end: number } {
    const bytes = Buffer.from(BSON.serialize(doc));
    const start = archive.indexOf(bytes);
    expect(start).toBeGreaterThan(0);
    return { start, end: start + bytes.length };
  }

  it('a flipped bit inside a document fails the CRC check, naming the namespace', async () => {
    const archive = readReal('dump-w-oplog.archive');
    const doc = locate(archive, { _id: new ObjectId('5bb4fd165a4e400df5a4594d'), a: 8 });
    // every byte strictly inside the document, past its length prefix, before its final NUL
    for (let at = doc.start + 4; at < doc.end - 1; at++) {
      const damaged = Buffer.from(archive);
      damaged[at]! ^= 0x10;
      await expectCorrupt(inspectChunks([damaged]), /CRC-64 mismatch in namespace test\.foo/);
    }
  });

  it('a flipped byte in the oplog is reported against the oplog', async () => {
    const archive = readReal('dump-w-oplog.archive');
    const at = archive.indexOf(Buffer.from('config.system.sessions'));
    const damaged = Buffer.from(archive);
    damaged[at + 3]! ^= 0x01;
    await expectCorrupt(inspectChunks(splitIntoChunks(damaged, 7)), /namespace oplog\b/);
  });

  it('any damaged byte of a namespace\'s documents is caught, whatever it hits', async () => {
    const archive = readReal('test.bar.archive');
    const doc = locate(archive, { _id: new ObjectId('58ffb124b721bc6c3234333c'), foo: 'bar' });
    for (let at = doc.start; at < doc.end; at++) {
      const damaged = Buffer.from(archive);
      damaged[at]! ^= 0xff;
      await expectCorrupt(inspectChunks([damaged]), /test\.bar|malformed|truncated/);
    }
  });

  it('without CRC verification the counts still come out and crcChecked says so', async () => {
    const archive = readReal('dump-w-oplog.archive');
    const doc = locate(archive, { _id: new ObjectId('5bb4fd165a4e400df5a4594d'), a: 8 });
    const damaged = Buffer.from(archive);
    damaged[doc.end - 2]! ^= 0x01;
    const summary = await inspectChunks([damaged], { verifyCrc: false });
    expect(summary.namespaces['test.foo']).toBe(25);
    expect(summary.details['test.foo']!.crcChecked).toBe(false);
  });

  for (const name of realArchiveNames) {
    it(`${name}: truncated anywhere → "truncated archive"`, async () => {
      const archive = readReal(name);
      // every cut for the small archives, a sample (plus block boundaries) for the larger one
      const step = archive.length > 5000 ? 97 : 1;
      const cuts = new Set<number>();
      for (let cut = 0; cut < archive.length; cut += step) cuts.add(cut);
      for (let at = archive.indexOf(TERMINATOR_BYTES); at >= 0; at = archive.indexOf(TERMINATOR_BYTES, at + 1)) cuts.add(at + 4);
      cuts.delete(archive.length);
      for (const cut of cuts) {
        await expectCorrupt(inspectChunks([archive.subarray(0, cut)]), /^truncated archive/);
      }
    });
  }

  it('a cut right after a complete namespace names the namespaces still missing', async () => {
    const archive = readReal('dump-w-oplog.archive');
    // the header's fields up to and including EOF:true (the stored one continues with CRC)
    const eofFields = Buffer.from(BSON.serialize({ db: 'test', collection: 'foo', EOF: true }));
    const eofOfTestFoo = archive.indexOf(eofFields.subarray(4, eofFields.length - 1));
    expect(eofOfTestFoo).toBeGreaterThan(0);
    const cut = archive.indexOf(TERMINATOR_BYTES, eofOfTestFoo) + 4;
    const error = await expectCorrupt(inspectChunks([archive.subarray(0, cut)]), /truncated archive: no EOF header for oplog/);
    expect(error.message).not.toContain('test.foo');
  });

  it('truncation is reported by the Transform too, at the end of the stream', async () => {
    const archive = readReal('test.bar.archive');
    await expectCorrupt(throughInspector([archive.subarray(0, 700)]), /truncated archive/);
  });

  it('bad magic: not an archive at all', async () => {
    await expectCorrupt(inspectChunks([Buffer.from('{"hello": "world"}\n')]), /not a mongodump archive/);
    await expectCorrupt(inspectChunks([Buffer.alloc(0)]), /truncated archive: the archive is empty/);
  });

  it('bad magic on a still-compressed archive says to decompress it', async () => {
    const error = await expectCorrupt(inspectChunks([gzipSync(readReal('test.bar.archive'))]), /not a mongodump archive/);
    expect(error.hint).toMatch(/gzip/);
  });

  it('the Transform errors and forwards nothing of a chunk it rejects', async () => {
    const archive = readReal('dump-w-oplog.archive');
    const damaged = Buffer.from(archive);
    damaged[4] = 0x02; // header length now 2: not a BSON length
    const inspector = new ArchiveInspector();
    const out: Buffer[] = [];
    const done = pipeline(
      Readable.from([damaged]),
      inspector,
      new Writable({
        write(chunk: Buffer, _e, cb) {
          out.push(chunk);
          cb();
        },
      }),
    );
    await expectCorrupt(done, /neither a BSON document length nor a terminator/);
    expect(out).toEqual([]);
  });
});

describe('synthetic archives (buildArchive)', () => {
  const ns = (db: string, collection: string, docs: Buffer[], extra: Partial<FixtureNamespace> = {}): FixtureNamespace => ({
    db,
    collection,
    docs,
    ...extra,
  });

  it('interleaved blocks of several namespaces, an empty one and the oplog', async () => {
    const namespaces = [
      ns('shop', 'orders', makeDocuments(250, { seed: 1, size: 300 })),
      ns('shop', 'empty', []),
      ns('shop', 'customers', makeDocuments(77, { seed: 2, size: 1200 })),
      ns('', 'oplog', makeDocuments(31, { seed: 3 })),
    ];
    const archive = buildArchive(namespaces, { blockDocuments: 10 });
    const random = seededRandom(11);
    const summary = await inspectChunks(splitIntoChunks(archive, () => 1 + Math.floor(random() * 3000)));
    expect(summary.namespaces).toEqual({ 'shop.orders': 250, 'shop.empty': 0, 'shop.customers': 77, oplog: 31 });
    expect(summary.declared).toEqual(['shop.orders', 'shop.empty', 'shop.customers', 'oplog']);
    expect(Object.values(summary.details).every((d) => d.crcChecked)).toBe(true);
    const orderBytes = namespaces[0]!.docs.reduce((sum, d) => sum + d.length, 0);
    expect(summary.details['shop.orders']!.bytes).toBe(orderBytes);
  });

  it('a time-series collection is declared under its name and counted under system.buckets', async () => {
    const archive = buildArchive([ns('metrics', 'cpu', makeDocuments(5), { type: 'timeseries' })]);
    const summary = await inspectChunks([archive]);
    expect(summary.declared).toEqual(['metrics.system.buckets.cpu']);
    expect(summary.namespaces).toEqual({ 'metrics.system.buckets.cpu': 5 });
  });

  it('a 16 MB document, split over many chunks and fed whole', async () => {
    const big = makeDocumentOfSize(16 * 1024 * 1024);
    const archive = buildArchive([ns('files', 'blobs', [makeDocuments(1)[0]!, big, makeDocuments(1, { seed: 9 })[0]!])]);
    for (const chunks of [splitIntoChunks(archive, 65536), splitIntoChunks(archive, 1_000_003), [archive]]) {
      const summary = await inspectChunks(chunks);
      expect(summary.namespaces).toEqual({ 'files.blobs': 3 });
      expect(summary.details['files.blobs']!.crcChecked).toBe(true);
    }
  });

  it('a document larger than 16 MB (which mongorestore refuses) is corrupt', async () => {
    const archive = buildArchive([ns('files', 'blobs', [makeDocumentOfSize(16 * 1024 * 1024 + 1)])]);
    await expectCorrupt(inspectChunks(splitIntoChunks(archive, 65536)), /neither a BSON document length/);
  });

  it('a declared namespace that never appears makes the archive incomplete', async () => {
    const afterPrelude = (archive: Buffer) => archive.indexOf(TERMINATOR_BYTES) + 4;
    const declaresBoth = buildArchive([ns('a', 'one', makeDocuments(3)), ns('a', 'two', makeDocuments(2))]);
    const onlyOne = buildArchive([ns('a', 'one', makeDocuments(3))]);
    // the prelude declaring a.one and a.two, followed by the blocks of a.one alone
    const missingTwo = [declaresBoth.subarray(0, afterPrelude(declaresBoth)), onlyOne.subarray(afterPrelude(onlyOne))];
    await expectCorrupt(inspectChunks(missingTwo), /truncated archive: no EOF header for a\.two/);
  });

  it('a namespace that is not declared in the prelude is still counted (mongorestore accepts it)', async () => {
    const archive = buildArchive([ns('a', 'one', makeDocuments(3)), ns('a', 'extra', makeDocuments(4), { declared: false })]);
    const summary = await inspectChunks([archive]);
    expect(summary.declared).toEqual(['a.one']);
    expect(summary.namespaces).toEqual({ 'a.one': 3, 'a.extra': 4 });
  });

  it('blocks after a namespace\'s EOF header are rejected', async () => {
    const docs = makeDocuments(2);
    const archive = buildArchive([ns('a', 'one', docs)]);
    const reopened = Buffer.concat([
      archive,
      Buffer.from(BSON.serialize({ db: 'a', collection: 'one', EOF: false, CRC: 0 })),
      docs[0]!,
      TERMINATOR_BYTES,
    ]);
    await expectCorrupt(inspectChunks([reopened]), /namespace a\.one continues after its EOF header/);
  });

  it('a document right after an EOF header and two terminators in a row are rejected', async () => {
    const docs = makeDocuments(1);
    const archive = buildArchive([ns('a', 'one', docs)]);
    const withoutLastTerminator = archive.subarray(0, archive.length - 4);
    await expectCorrupt(inspectChunks([withoutLastTerminator, docs[0]!, TERMINATOR_BYTES]), /document after an EOF header/);
    await expectCorrupt(inspectChunks([archive, TERMINATOR_BYTES]), /two consecutive terminators/);
  });

  it('a wrong CRC in an EOF header names the namespace', async () => {
    const docs = makeDocuments(3);
    const archive = buildArchive([ns('a', 'one', docs)]);
    const eofHeader = Buffer.from(BSON.serialize({ db: 'a', collection: 'one', EOF: true, CRC: BSON.Long.fromBigInt(12345n) }));
    const tampered = Buffer.concat([archive.subarray(0, archive.length - 4 - eofHeader.length), eofHeader, TERMINATOR_BYTES]);
    expect(tampered.length).toBe(archive.length);
    await expectCorrupt(inspectChunks([tampered]), /CRC-64 mismatch in namespace a\.one: .* says 12345/);
  });

  it('a dump of nothing (prelude only) is a valid, empty archive', async () => {
    const summary = await inspectChunks([buildArchive([])]);
    expect(summary.declared).toEqual([]);
    expect(summary.namespaces).toEqual({});
  });

  it('is a pure function of its inputs', () => {
    const input = () => [ns('x', 'y', makeDocuments(20, { seed: 5 })), ns('x', 'z', makeDocuments(3, { seed: 6 }))];
    expect(buildArchive(input(), { blockDocuments: 4 }).equals(buildArchive(input(), { blockDocuments: 4 }))).toBe(true);
  });
});
