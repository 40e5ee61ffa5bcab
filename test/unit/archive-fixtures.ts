/**
 * Synthetic mongodump archives for tests and benchmarks. Everything here is a pure function of
 * its inputs: the same arguments always give the same bytes.
 *
 * Layout written (as mongo-tools' multiplexer does): magic, prelude (header doc, one metadata doc
 * per declared namespace, terminator), then blocks `{db, collection, EOF:false, CRC:0}` +
 * documents + terminator, the namespaces taking turns; when a namespace has written its last
 * document it gets `{db, collection, EOF:true, CRC}` + terminator. A namespace without documents
 * gets one empty block and then its EOF header, like mongodump writes for empty collections.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BSON, Long } from 'mongodb';
import { Crc64 } from '../../src/archive/crc64.js';

export interface FixtureNamespace {
  db: string;
  collection: string;
  docs: Buffer[];
  /** prelude metadata `type` (e.g. "timeseries": the data then lives in system.buckets.<collection>) */
  type?: string;
  /** prelude metadata JSON string (default: minimal options + _id index) */
  metadata?: string;
  /** list it in the prelude (default true) */
  declared?: boolean;
}

export interface BuildArchiveOptions {
  header?: { concurrent_collections?: number; version?: string; server_version?: string; tool_version?: string };
  /** Documents per block before the next namespace takes its turn (round robin). Default: all in one block. */
  blockDocuments?: number;
}

export const MAGIC_BYTES = Buffer.from([0x6d, 0xe2, 0x99, 0x81]);
export const TERMINATOR_BYTES = Buffer.from([0xff, 0xff, 0xff, 0xff]);

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Data files of the tests, inside the repository so that a clone alone passes its tests. */
export const fixturesDir = path.join(repoRoot, 'test', 'fixtures');
/** The real archives made by mongodump (origin and licence: the README.md beside them). */
export const realArchivesDir = path.join(fixturesDir, 'mongodump-archives');

function serialize(doc: Record<string, unknown>): Buffer {
  return Buffer.from(BSON.serialize(doc));
}

function dataCollection(ns: FixtureNamespace): string {
  return ns.type === 'timeseries' ? `system.buckets.${ns.collection}` : ns.collection;
}

function blockHeader(ns: FixtureNamespace, eof: boolean, crc: bigint): Buffer {
  return serialize({ db: ns.db, collection: dataCollection(ns), EOF: eof, CRC: Long.fromBigInt(crc) });
}

/** The archive as a list of parts (no concatenation: large archives can be streamed from it). */
export function buildArchiveParts(namespaces: FixtureNamespace[], options: BuildArchiveOptions = {}): Buffer[] {
  const parts: Buffer[] = [MAGIC_BYTES];
  parts.push(
    serialize({
      concurrent_collections: options.header?.concurrent_collections ?? 4,
      version: options.header?.version ?? '0.1',
      server_version: options.header?.server_version ?? '7.0.0',
      tool_version: options.header?.tool_version ?? '100.9.4',
    }),
  );
  for (const ns of namespaces) {
    if (ns.declared === false) continue;
    const metadata = ns.metadata ?? JSON.stringify({ options: {}, indexes: [{ v: 2, key: { _id: 1 }, name: '_id_' }] });
    parts.push(serialize({ db: ns.db, collection: ns.collection, metadata, size: 0, ...(ns.type ? { type: ns.type } : {}) }));
  }
  parts.push(TERMINATOR_BYTES);

  const perBlock = options.blockDocuments ?? Number.POSITIVE_INFINITY;
  const written = namespaces.map(() => 0);
  const crcs = namespaces.map(() => new Crc64());
  const open = new Set(namespaces.map((_, i) => i));
  while (open.size > 0) {
    for (const i of [...open]) {
      const ns = namespaces[i]!;
      const from = written[i]!;
      const to = Math.min(ns.docs.length, from + perBlock);
      if (from < to || ns.docs.length === 0) {
        parts.push(blockHeader(ns, false, 0n));
        for (let d = from; d < to; d++) {
          parts.push(ns.docs[d]!);
          crcs[i]!.update(ns.docs[d]!);
        }
        parts.push(TERMINATOR_BYTES);
        written[i] = to;
      }
      if (to === ns.docs.length) {
        parts.push(blockHeader(ns, true, crcs[i]!.digestSigned()), TERMINATOR_BYTES);
        open.delete(i);
      }
    }
  }
  return parts;
}

export function buildArchive(namespaces: FixtureNamespace[], options: BuildArchiveOptions = {}): Buffer {
  return Buffer.concat(buildArchiveParts(namespaces, options));
}

/** Deterministic PRNG (mulberry32): the same seed gives the same sequence in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** `count` BSON documents of about `size` bytes each ({_id, n, payload}) with seeded random content. */
export function makeDocuments(count: number, options: { size?: number; seed?: number } = {}): Buffer[] {
  const random = seededRandom(options.seed ?? 1);
  const payloadLength = Math.max(0, (options.size ?? 200) - 40);
  const docs: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    let payload = '';
    for (let c = 0; c < payloadLength; c++) payload += ALPHABET[Math.floor(random() * ALPHABET.length)];
    docs.push(serialize({ _id: i, n: Math.floor(random() * 1e9), payload }));
  }
  return docs;
}

/** One BSON document of exactly `totalBytes` bytes (a single binary field), e.g. a 16 MB document. */
export function makeDocumentOfSize(totalBytes: number, fill = 0x61): Buffer {
  // int32 length + (type 0x05, "b\0", int32 length, subtype) + data + trailing NUL
  const overhead = 4 + 1 + 2 + 4 + 1 + 1;
  const data = Buffer.alloc(totalBytes - overhead, fill);
  const doc = serialize({ b: new BSON.Binary(data) });
  if (doc.length !== totalBytes) throw new Error(`makeDocumentOfSize: got ${doc.length} bytes`);
  return doc;
}

/** Splits a buffer into consecutive chunks whose sizes come from `nextSize` (views, no copies). */
export function splitIntoChunks(buf: Buffer, nextSize: number | (() => number)): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < buf.length; ) {
    const size = Math.max(1, typeof nextSize === 'number' ? nextSize : nextSize());
    chunks.push(buf.subarray(at, at + size));
    at += size;
  }
  return chunks;
}
