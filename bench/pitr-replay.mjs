#!/usr/bin/env node
// The point-in-time replay benchmark (on demand; never part of npm test). See docs/PERFORMANCE.md.
//
//   node bench/pitr-replay.mjs [--entries 1000000] [--runs 2]
//
// An incremental's slice of N oplog entries (synthetic, about 200 bytes each, as a mongodump
// archive of local.oplog.rs compressed with Debian's `zstd -3 -T2`) is replayed the way
// `restore --to-time` feeds mongorestore: decompressed (node:zlib, in parallel frames), its entries
// read out, decided (kept, renamed, cut) and appended to a full backup's oplog by the archive
// rewriter, the result written to /dev/null. The limit is `zstd -d` of the same file to /dev/null,
// measured in the same run; figures are MB/s of plain slice bytes, best of --runs.
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { BSON, Long, Timestamp } from 'mongodb';
import { repoRoot } from './lib/paths.mjs';

const { values: args } = parseArgs({
  options: { entries: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '2' } },
});
const ENTRIES = Number(args.entries);
const RUNS = Number(args.runs);

const dist = (path) => import(join(repoRoot, 'dist', path));
if (!existsSync(join(repoRoot, 'dist/archive/rewrite.js'))) throw new Error('build first: npm run build');
const { rewriteArchive, documentsOf } = await dist('archive/rewrite.js');
const { ArchiveWriter, crcAsLong } = await dist('archive/writer.js');
const { Crc64 } = await dist('archive/crc64.js');
const { replayDecider } = await dist('pitr/oplog.js');
const { namespaceSelector } = await dist('archive/namespaces.js');
const { createDecompressor } = await dist('engine/compression.js');

/** A mongodump archive whose only namespace is `db.coll`, holding `docs()` (written in chunks). */
async function* archiveOf(db, coll, count, docAt) {
  const writer = new ArchiveWriter();
  const header = Buffer.from(BSON.serialize({ concurrent_collections: 4, version: '0.1', server_version: '7.0.0', tool_version: 'bench' }));
  const meta = Buffer.from(BSON.serialize({ db, collection: coll, metadata: '', size: 0 }));
  writer.prelude(header, [meta]);
  const crc = new Crc64();
  writer.openBlock(db, coll);
  for (let i = 0; i < count; i++) {
    const doc = docAt(i);
    crc.update(doc);
    writer.document(doc);
    const full = writer.takeFull();
    if (full) yield full;
  }
  writer.closeBlock();
  writer.endNamespace(db, coll, crcAsLong(crc));
  yield writer.takeRest();
}

const T0 = 1_796_500_000;
function entry(i) {
  return Buffer.from(
    BSON.serialize({
      ts: new Timestamp({ t: T0 + Math.floor(i / 100), i: (i % 100) + 1 }),
      t: Long.fromNumber(1),
      v: Long.fromNumber(2),
      op: 'u',
      ns: 'shop.orders',
      ui: new BSON.UUID('0123456789abcdef0123456789abcdef'),
      o2: { _id: i % 50_000 },
      o: { _id: i % 50_000, n: i, status: i % 3 === 0 ? 'paid' : 'open', note: 'x'.repeat(60) },
      wall: new Date((T0 + Math.floor(i / 100)) * 1000 + (i % 100) * 10),
    }),
  );
}

const dir = await mkdtemp(join(tmpdir(), 'mongo-backup-bench-pitr-'));
try {
  const plain = join(dir, 'slice.archive');
  await pipeline(Readable.from(archiveOf('local', 'oplog.rs', ENTRIES, entry)), createWriteStream(plain));
  const plainBytes = statSync(plain).size;
  const zstdFile = `${plain}.zst`;
  const zstd = spawnSync('zstd', ['-3', '-T2', '-q', '-f', plain, '-o', zstdFile]);
  if (zstd.status !== 0) throw new Error(`zstd failed: ${zstd.stderr}`);
  // The full backup the slice is appended to: one collection and a one-entry oplog.
  const baseChunks = [];
  for await (const chunk of archiveOf('', 'oplog', 1, () => entry(0))) baseChunks.push(chunk);
  const base = Buffer.concat(baseChunks);

  const best = async (fn) => {
    let min = Infinity;
    for (let r = 0; r < RUNS; r++) {
      const started = process.hrtime.bigint();
      await fn();
      min = Math.min(min, Number(process.hrtime.bigint() - started) / 1e9);
    }
    return min;
  };
  const limit = await best(async () => {
    const run = spawnSync('sh', ['-c', `zstd -d -c -q ${zstdFile} > /dev/null`]);
    if (run.status !== 0) throw new Error('zstd -d failed');
  });
  const replay = (options) => async () => {
    const slice = (async function* () {
      yield* documentsOf(createReadStream(zstdFile).pipe(createDecompressor('zstd')), 'local.oplog.rs');
    })();
    const { chunks, summary } = rewriteArchive(Readable.from([base]), { appendOplog: slice, oplogEntry: replayDecider(options) });
    let out = 0;
    await pipeline(Readable.from(chunks), new Writable({ write(chunk, _enc, done) { out += chunk.length; done(); } }));
    if (summary.oplogEntries !== ENTRIES + 1) throw new Error(`replayed ${summary.oplogEntries} entries, expected ${ENTRIES + 1}`);
  };
  const identity = await best(replay({ selector: namespaceSelector({ include: [], exclude: [] }) }));
  const renamed = await best(replay({ selector: namespaceSelector({ include: ['shop.*'], exclude: [], from: 'shop.$c$', to: 'copy.$c$' }) }));

  const mbps = (seconds) => (plainBytes / 1e6 / seconds).toFixed(0);
  const rows = [
    ['zstd -d → /dev/null (limit)', limit, '1.00'],
    ['replay, no selection', identity, (limit / identity).toFixed(2)],
    ['replay, --ns-include + rename', renamed, (limit / renamed).toFixed(2)],
  ];
  console.log(`slice: ${ENTRIES.toLocaleString('en')} oplog entries, ${(plainBytes / 1e6).toFixed(0)} MB plain, ${(statSync(zstdFile).size / 1e6).toFixed(1)} MB zstd; best of ${RUNS}; load ${loadavg()[0].toFixed(1)}`);
  for (const [what, seconds, ratio] of rows) {
    console.log(`${what.padEnd(32)} ${seconds.toFixed(2).padStart(6)} s  ${mbps(seconds).padStart(5)} MB/s  ${(ENTRIES / seconds / 1e3).toFixed(0).padStart(5)}k entries/s  ${ratio} of the limit`);
  }
} finally {
  if (!process.env.KEEP) await rm(dir, { recursive: true, force: true }); else console.log(dir);
}
