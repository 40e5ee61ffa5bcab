// A valid mongodump archive of any size, streamed from a real one (the seed): the seed's prelude,
// then its real namespace blocks (header + documents + terminator) over and over until the size
// is reached, then one EOF header per namespace whose CRC-64 covers every repeated document.
// Memory: the seed only (≈ 50 MB), whatever the size.
//
// CRCs are not recomputed byte by byte per repetition: CRC-64 is linear, so the CRC of "A then
// B" follows from crc(A), crc(B) and len(B) (zlib's crc32_combine, for the 64-bit polynomial).
import { readFileSync } from 'node:fs';
import { BSON, Long } from 'mongodb';
import { Crc64 } from '../../dist/archive/crc64.js';

const TERMINATOR = Buffer.from([0xff, 0xff, 0xff, 0xff]);
/** CRC-64/XZ reflected polynomial. */
const POLY = 0xc96c5795d7870f42n;

function matrixTimes(matrix, vector) {
  let sum = 0n;
  for (let i = 0; vector !== 0n; i++, vector >>= 1n) if (vector & 1n) sum ^= matrix[i];
  return sum;
}

function matrixSquare(matrix) {
  return matrix.map((row) => matrixTimes(matrix, row));
}

/** CRC-64/XZ of A‖B from crc(A), crc(B) and B's length (all CRCs unsigned, as Crc64.digest()). */
export function crc64Combine(crcA, crcB, lengthB) {
  if (lengthB === 0) return crcA;
  let odd = [POLY];
  for (let n = 1, row = 1n; n < 64; n++, row <<= 1n) odd.push(row);
  let even = matrixSquare(odd); // two zero bits
  odd = matrixSquare(even); // four zero bits
  let crc = crcA;
  let length = BigInt(lengthB);
  do {
    even = matrixSquare(odd);
    if (length & 1n) crc = matrixTimes(even, crc);
    length >>= 1n;
    if (length === 0n) break;
    odd = matrixSquare(even);
    if (length & 1n) crc = matrixTimes(odd, crc);
    length >>= 1n;
  } while (length !== 0n);
  return crc ^ crcB;
}

function readInt32(buf, at) {
  return buf.readInt32LE(at);
}

/** Splits a real archive into its prelude, its data blocks and the order of its EOF headers. */
export function parseSeed(seed) {
  if (seed.readUInt32LE(0) !== 0x8199e26d) throw new Error('the seed is not a mongodump archive');
  let at = 4;
  while (readInt32(seed, at) !== -1) at += readInt32(seed, at);
  at += 4;
  const prelude = seed.subarray(0, at);
  const blocks = [];
  const eofOrder = [];
  while (at < seed.length) {
    const headerLength = readInt32(seed, at);
    const headerBytes = seed.subarray(at, at + headerLength);
    const header = BSON.deserialize(headerBytes);
    at += headerLength;
    const docsStart = at;
    let documents = 0;
    while (readInt32(seed, at) !== -1) {
      at += readInt32(seed, at);
      documents++;
    }
    const docs = seed.subarray(docsStart, at);
    at += 4;
    const ns = `${header.db}.${header.collection}`;
    if (header.EOF) eofOrder.push({ ns, db: header.db, collection: header.collection });
    else blocks.push({ ns, headerBytes, docs, documents });
  }
  return { prelude, blocks: interleave(blocks.map(splitBlock)), eofOrder };
}

/**
 * mongodump interleaves the collections it dumps concurrently, switching namespace (a new block
 * header) every buffer or so; a small test dump may hold each collection in one block. Splitting
 * blocks at document boundaries and taking turns gives the interleaved layout of a big dump (and
 * a size granularity of one piece).
 */
const PIECE_BYTES = 4 * 1024 * 1024;

function splitBlock(block) {
  const pieces = [];
  let start = 0;
  let at = 0;
  let documents = 0;
  const { docs } = block;
  while (at < docs.length) {
    const length = readInt32(docs, at);
    if (at + length - start > PIECE_BYTES && at > start) {
      pieces.push({ ...block, docs: docs.subarray(start, at), documents });
      start = at;
      documents = 0;
    }
    at += length;
    documents++;
  }
  if (at > start || pieces.length === 0) pieces.push({ ...block, docs: docs.subarray(start, at), documents });
  return pieces;
}

function interleave(lists) {
  const out = [];
  for (let i = 0; lists.some((list) => i < list.length); i++) for (const list of lists) if (i < list.length) out.push(list[i]);
  return out;
}

/** One pass over the seed's blocks: per namespace, the CRC and length of its documents. */
function segmentCrcs(blocks) {
  const perNamespace = new Map();
  for (const block of blocks) {
    let entry = perNamespace.get(block.ns);
    if (!entry) perNamespace.set(block.ns, (entry = { crc: new Crc64(), length: 0 }));
    entry.crc.update(block.docs);
    entry.length += block.docs.length;
  }
  return new Map([...perNamespace].map(([ns, { crc, length }]) => [ns, { crc: crc.digest(), length }]));
}

const INITIAL_CRC = 0n; // CRC-64/XZ of no bytes

export class ArchiveSource {
  constructor(seedPath) {
    this.seed = readFileSync(seedPath);
    const { prelude, blocks, eofOrder } = parseSeed(this.seed);
    this.prelude = prelude;
    this.blocks = blocks;
    this.eofOrder = eofOrder;
    this.segment = segmentCrcs(blocks);
    this.segmentBytes = blocks.reduce((sum, b) => sum + b.headerBytes.length + b.docs.length + 4, 0);
    this.seedDocuments = blocks.reduce((sum, b) => sum + b.documents, 0);
  }

  eofBytes(crcs) {
    return this.eofOrder.map(({ ns, db, collection }) => {
      const crc = BigInt.asIntN(64, crcs.get(ns) ?? INITIAL_CRC);
      return Buffer.concat([Buffer.from(BSON.serialize({ db, collection, EOF: true, CRC: Long.fromBigInt(crc) })), TERMINATOR]);
    });
  }

  /**
   * The archive as a sequence of Buffers (views of the seed, never copies), about `targetBytes`
   * long: whole repetitions of the seed's blocks, then whole blocks, then the EOF headers.
   */
  *chunks(targetBytes) {
    const crcs = new Map([...this.segment.keys()].map((ns) => [ns, INITIAL_CRC]));
    const trailerBytes = this.eofBytes(crcs).reduce((sum, b) => sum + b.length, 0);
    let written = this.prelude.length;
    yield this.prelude;
    while (written + this.segmentBytes + trailerBytes <= targetBytes) {
      for (const block of this.blocks) {
        yield block.headerBytes;
        if (block.docs.length > 0) yield block.docs;
        yield TERMINATOR;
      }
      written += this.segmentBytes;
      for (const [ns, { crc, length }] of this.segment) crcs.set(ns, crc64Combine(crcs.get(ns), crc, length));
    }
    // The rest: whole blocks, each block's CRC computed directly (at most one segment's worth).
    for (const block of this.blocks) {
      const size = block.headerBytes.length + block.docs.length + 4;
      if (written + size + trailerBytes > targetBytes) break;
      yield block.headerBytes;
      if (block.docs.length > 0) yield block.docs;
      yield TERMINATOR;
      written += size;
      const crc = new Crc64();
      crc.update(block.docs);
      crcs.set(block.ns, crc64Combine(crcs.get(block.ns), crc.digest(), block.docs.length));
    }
    yield* this.eofBytes(crcs);
  }
}
