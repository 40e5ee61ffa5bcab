import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createDecompressor } from '../../src/engine/compression.js';
import { FRAME_BYTES } from '../../src/engine/parallel-frames.js';
import { ParallelZstdCompress, ParallelZstdDecompress, ZstdFrameSplitter, type FramePiece } from '../../src/engine/zstd-frames.js';
import { BackupError, ErrorCodes } from '../../src/errors.js';
import { BufferPool } from '../../src/streams.js';
import { seededRandom } from './archive-fixtures.js';
import { KiB, MiB, SIZES, chunksOf, collector, endlessSource, expectAbortedMidway, failingSink, failingSource, lazyData, mixed, noise, pacedSource, peakBufferedBeforeSlowSink, pooledRoundTrip, rejection, sha256, slowFrameFirst, text, through, tinyChunks, watchPool } from './frame-fixtures.js';

// ---------------------------------------------------------------------------------------------
// Deterministic data (frame-fixtures.ts): 40% noise, 60% JSON-like text.

let bigInput: Buffer | undefined;
/** 3.5 frames of mixed data; the smaller test inputs are its prefixes. */
function big(): Buffer {
  bigInput ??= mixed(Math.round(3.5 * FRAME_BYTES), 1, 0.4);
  return bigInput;
}

function input(bytes: number): Buffer {
  return big().subarray(0, bytes);
}

// ---------------------------------------------------------------------------------------------
// Streams.

async function compress(data: Buffer, options: { lanes: number; level?: number; chunk?: number | 'whole' }): Promise<Buffer> {
  return through([new ParallelZstdCompress({ level: options.level ?? 3, lanes: options.lanes })], chunksOf(data, options.chunk ?? 'whole'));
}

function expectCorrupt(error: unknown, what?: string): void {
  expect(error, what).toBeInstanceOf(BackupError);
  expect((error as BackupError).code, what).toBe(ErrorCodes.ARCHIVE_CORRUPT);
}

/**
 * The zstd streams behind a ParallelZstd* (its private lanes): to check that none is left
 * running — compressing or decoding for nobody — once the stream has ended or failed.
 */
function laneStreams(stream: Transform): Transform[] {
  const lanes = Reflect.get(stream, 'lanes') as object[];
  return lanes.map((lane) => Reflect.get(lane, 'stream') as Transform);
}

// ---------------------------------------------------------------------------------------------
// zstd format helpers (RFC 8878).

/** The frames of a zstd stream, as found by ZstdFrameSplitter (pieces up to each frameEnd). */
function framesOf(stream: Buffer): Buffer[] {
  const splitter = new ZstdFrameSplitter();
  const frames: Buffer[] = [];
  let current: Buffer[] = [];
  for (const piece of splitter.feed(stream)) {
    current.push(piece.data);
    if (piece.frameEnd) {
      frames.push(Buffer.concat(current));
      current = [];
    }
  }
  expect(splitter.atFrameBoundary()).toBe(true);
  return frames;
}

function skippableFrame(magicNibble: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0x184d2a50 + magicNibble, 0);
  header.writeUInt32LE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Whether a frame's header gives the content size (RFC 8878 §3.1.1.1.1). */
function hasContentSize(frame: Buffer): boolean {
  const descriptor = frame[4]!;
  return descriptor >> 6 !== 0 || ((descriptor >> 5) & 1) === 1;
}

function hasChecksum(frame: Buffer): boolean {
  return ((frame[4]! >> 2) & 1) === 1;
}

/** Header size after the magic (descriptor, window, dictionary id, content size). */
function frameHeaderBytes(descriptor: number): number {
  const singleSegment = (descriptor >> 5) & 1;
  const fcsFlag = descriptor >> 6;
  return 1 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][descriptor & 3]! + (fcsFlag === 0 ? singleSegment : 1 << fcsFlag);
}

/** The block types of one frame (0 raw, 1 RLE, 2 compressed): checks what a fixture contains. */
function blockTypes(frame: Buffer): number[] {
  const types: number[] = [];
  let at = 4 + frameHeaderBytes(frame[4]!);
  for (;;) {
    const header = frame.readUIntLE(at, 3);
    const type = (header >> 1) & 3;
    types.push(type);
    at += 3 + (type === 1 ? 1 : header >>> 3);
    if (header & 1) return types;
  }
}

interface CraftedBlock {
  type: 0 | 1 | 2;
  size: number;
}

/**
 * A frame built byte by byte, for the splitter only (its blocks hold filler, not valid zstd):
 * every header layout RFC 8878 allows.
 */
function craftFrame(options: { fcsFlag: number; singleSegment: boolean; dictFlag: number; checksum: boolean; blocks: CraftedBlock[] }): Buffer {
  const descriptor = (options.fcsFlag << 6) | (options.singleSegment ? 0x20 : 0) | (options.checksum ? 0x04 : 0) | options.dictFlag;
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, descriptor])];
  parts.push(Buffer.alloc(frameHeaderBytes(descriptor) - 1, 0x11));
  options.blocks.forEach((block, i) => {
    const last = i === options.blocks.length - 1 ? 1 : 0;
    const header = Buffer.alloc(3);
    header.writeUIntLE((block.size << 3) | (block.type << 1) | last, 0, 3);
    parts.push(header, Buffer.alloc(block.type === 1 ? 1 : block.size, 0x22 + i));
  });
  if (options.checksum) parts.push(Buffer.from([0xc1, 0xc2, 0xc3, 0xc4]));
  return Buffer.concat(parts);
}

function zstdCliAvailable(): boolean {
  return spawnSync('zstd', ['--version']).status === 0;
}

// ---------------------------------------------------------------------------------------------

describe('ParallelZstdCompress → ParallelZstdDecompress round trip', () => {
  const cases: { size: (typeof SIZES)[number]; chunk: number | 'whole'; chunks: string }[] = [];
  for (const size of SIZES) {
    const chunkSizes: (number | 'whole')[] = size.bytes <= 40_000 ? [1, 7, 65536, 'whole'] : [7, 65536, 'whole'];
    for (const chunk of chunkSizes) cases.push({ size, chunk, chunks: chunk === 'whole' ? 'one chunk' : `${chunk}-byte chunks` });
  }

  describe.each([1, 2, 3])('%i lane(s)', (lanes) => {
    it.each(cases)('$size.name in $chunks is byte-identical', async ({ size, chunk }) => {
      const data = input(size.bytes);
      const compressor = new ParallelZstdCompress({ level: 3, lanes });
      const compressed = await through([compressor], chunksOf(data, chunk));
      const decompressor = new ParallelZstdDecompress({ lanes });
      const plain = await through([decompressor], chunksOf(compressed, chunk));
      expect(plain.length).toBe(data.length);
      expect(sha256(plain)).toBe(sha256(data));
      if (size.bytes > 40_000) expect(compressed.length).toBeLessThan(data.length);
      // Done means done: no zstd stream is left behind.
      for (const lane of [...laneStreams(compressor), ...laneStreams(decompressor)]) expect(lane.destroyed).toBe(true);
    });
  });
});

describe('ParallelZstdCompress writes standard zstd', () => {
  it.each(SIZES)('$name: node:zlib decodes it, in frames of FRAME_BYTES plain bytes', async ({ bytes }) => {
    const data = input(bytes);
    const compressed = await compress(data, { lanes: 3 });
    expect(sha256(zlib.zstdDecompressSync(compressed))).toBe(sha256(data));

    // ceil(n / FRAME_BYTES) frames; an empty input still gives one (empty) frame, since an empty
    // file is not a zstd stream: `zstd -d` and node:zlib both reject it.
    const frames = framesOf(compressed);
    expect(frames.length).toBe(Math.max(1, Math.ceil(bytes / FRAME_BYTES)));
    expect(Buffer.concat(frames).equals(compressed)).toBe(true);
    frames.forEach((frame, i) => {
      // Independent frames: each decodes on its own to its slice of the input.
      const expected = data.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES);
      expect(sha256(zlib.zstdDecompressSync(frame))).toBe(sha256(expected));
      // Each frame carries a checksum, so damage is caught.
      expect(hasChecksum(frame)).toBe(true);
    });
  });

  it.skipIf(!zstdCliAvailable() && process.env['CI'] !== 'true')('the zstd command decodes it', async () => {
    for (const { bytes } of SIZES) {
      const data = input(bytes);
      const compressed = await compress(data, { lanes: 3 });
      const decoded = execFileSync('zstd', ['-d', '-c', '-q'], { input: compressed, maxBuffer: 64 * MiB });
      expect(decoded.length, `${bytes} bytes`).toBe(data.length);
      expect(sha256(decoded), `${bytes} bytes`).toBe(sha256(data));
    }
  });
});

describe('ParallelZstdDecompress reads zstd it did not write', () => {
  const payloadA = mixed(200_000, 11);
  const payloadB = mixed(150_000, 12);
  const payloadC = mixed(100_000, 13);

  /** One frame without a content size, as node:zlib's stream (and mongo-backup before frames) writes. */
  async function streamFrame(data: Buffer): Promise<Buffer> {
    return through([zlib.createZstdCompress()], chunksOf(data, 10_000));
  }

  it('one frame from zstdCompressSync (content size in the header), in 1..3-byte chunks', async () => {
    const frame = zlib.zstdCompressSync(payloadA);
    expect(hasContentSize(frame)).toBe(true);
    for (const lanes of [1, 3]) {
      const plain = await through([new ParallelZstdDecompress({ lanes })], tinyChunks(frame, lanes));
      expect(sha256(plain)).toBe(sha256(payloadA));
    }
  });

  it('one frame from a createZstdCompress stream (no content size), in 1..3-byte chunks', async () => {
    const frame = await streamFrame(payloadB);
    expect(framesOf(frame)).toHaveLength(1);
    expect(hasContentSize(frame)).toBe(false);
    for (const lanes of [1, 3]) {
      const plain = await through([new ParallelZstdDecompress({ lanes })], tinyChunks(frame, 10 + lanes));
      expect(sha256(plain)).toBe(sha256(payloadB));
    }
  });

  it('concatenated frames with skippable frames between them, in 1..3-byte chunks', async () => {
    const a = zlib.zstdCompressSync(payloadA, { params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 } });
    const b = await streamFrame(payloadB);
    const c = zlib.zstdCompressSync(payloadC, { params: { [zlib.constants.ZSTD_c_checksumFlag]: 0 } });
    const stream = Buffer.concat([
      skippableFrame(0x0, Buffer.from('written by some other tool')),
      a,
      skippableFrame(0xf, noise(3000, seededRandom(5))),
      b,
      skippableFrame(0x7, Buffer.alloc(0)),
      c,
      skippableFrame(0xa, Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), // a zstd magic inside a payload is still payload
    ]);
    const expected = sha256(Buffer.concat([payloadA, payloadB, payloadC]));
    for (const lanes of [1, 2, 3]) {
      const plain = await through([new ParallelZstdDecompress({ lanes })], tinyChunks(stream, 20 + lanes));
      expect(sha256(plain), `${lanes} lanes`).toBe(expected);
    }
    const whole = await through([new ParallelZstdDecompress({ lanes: 3 })], [stream]);
    expect(sha256(whole)).toBe(expected);
  });

  it('one big frame (a backup made before frames) is streamed through, whatever the chunks', async () => {
    const data = big();
    const frame = await through(
      [zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 } })],
      chunksOf(data, 256 * KiB),
    );
    expect(framesOf(frame)).toHaveLength(1);
    expect(frame.length).toBeGreaterThan(2 * MiB); // decoded in several pieces
    for (const chunk of [7, 65536, 'whole'] as const) {
      const plain = await through([new ParallelZstdDecompress({ lanes: 3 })], chunksOf(frame, chunk));
      expect(sha256(plain), `chunks of ${chunk}`).toBe(sha256(data));
    }
  });
});

describe('order', () => {
  it('frames that compress at very different speeds come out in input order', async () => {
    const random = seededRandom(42);
    // An incompressible frame is slow to compress at level 9; the runs after it finish far sooner.
    const data = Buffer.concat([...slowFrameFirst(random), Buffer.alloc(FRAME_BYTES, 0x63), noise(FRAME_BYTES / 2, random)]);
    for (const lanes of [2, 3]) {
      const compressed = await compress(data, { lanes, level: 9, chunk: 65536 });
      const frames = framesOf(compressed);
      expect(frames).toHaveLength(6);
      frames.forEach((frame, i) => {
        expect(sha256(zlib.zstdDecompressSync(frame)), `frame ${i}`).toBe(sha256(data.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES)));
      });
      // Decoding: the noise frame is several decode jobs, the runs one small job each.
      const plain = await through([new ParallelZstdDecompress({ lanes })], chunksOf(compressed, 65536));
      expect(sha256(plain)).toBe(sha256(data));
    }
  });
});

describe('damaged data', () => {
  let compressedBig: Buffer | undefined;
  async function damaged(): Promise<{ stream: Buffer; frameStarts: number[]; frameEnds: number[] }> {
    compressedBig ??= await compress(big(), { lanes: 3 });
    const frameStarts: number[] = [];
    const frameEnds: number[] = [];
    let at = 0;
    for (const frame of framesOf(compressedBig)) {
      frameStarts.push(at);
      at += frame.length;
      frameEnds.push(at);
    }
    return { stream: compressedBig, frameStarts, frameEnds };
  }

  it.each([
    { name: 'inside the first magic', cut: (s: number[]) => s[0]! + 2 },
    { name: 'inside a later magic', cut: (s: number[]) => s[2]! + 3 },
    { name: 'after a magic, before the frame header', cut: (s: number[]) => s[1]! + 4 },
    { name: 'inside a frame header', cut: (s: number[]) => s[1]! + 5 },
    { name: 'inside the first block header', cut: (s: number[]) => s[1]! + 7 },
    { name: 'inside a frame, mid-block', cut: (s: number[]) => s[1]! + 500_000 },
    { name: 'inside the checksum of the last frame', cut: (_s: number[], e: number[]) => e[e.length - 1]! - 2 },
  ])('a stream cut $name fails with ARCHIVE_CORRUPT', async ({ cut }) => {
    const { stream, frameStarts, frameEnds } = await damaged();
    // Our frames have a window descriptor byte: the header is 2 bytes, the first block header follows.
    expect(frameHeaderBytes(stream[frameStarts[1]! + 4]!)).toBe(2);
    const truncated = stream.subarray(0, cut(frameStarts, frameEnds));
    for (const chunk of [65536, 'whole'] as const) {
      const decompressor = new ParallelZstdDecompress({ lanes: 2 });
      expectCorrupt(await rejection(through([decompressor], chunksOf(truncated, chunk))));
      for (const lane of laneStreams(decompressor)) expect(lane.destroyed).toBe(true);
    }
  });

  it('createDecompressor("zstd"): a flipped byte in compressed data fails with ARCHIVE_CORRUPT, passing on only good data', async () => {
    const { stream, frameStarts } = await damaged();
    const data = big();
    const firstBlockBody = frameStarts[1]! + 4 + 2 + 3;
    const places = [
      { name: 'early in a block', at: firstBlockBody + 50 },
      { name: 'deep in a frame', at: frameStarts[1]! + 300_000 },
      { name: 'in the last frame', at: frameStarts[3]! + 40_000 },
      { name: 'in a block header', at: firstBlockBody - 3 },
      { name: 'in a checksum', at: frameStarts[2]! - 1 },
    ];
    for (const place of places) {
      const copy = Buffer.from(stream);
      copy[place.at] = copy[place.at]! ^ 0x10;
      const out: Buffer[] = [];
      const error = await rejection(pipeline(Readable.from(chunksOf(copy, 65536)), createDecompressor('zstd'), collector(out)));
      expectCorrupt(error, place.name);
      // What came out before the failure is the input's beginning, and not all of it.
      const plain = Buffer.concat(out);
      expect(plain.length, place.name).toBeLessThan(data.length);
      const damagedFrame = frameStarts.findLastIndex((start) => start <= place.at);
      const trusted = Math.min(plain.length, damagedFrame * FRAME_BYTES);
      expect(plain.subarray(0, trusted).equals(data.subarray(0, trusted)), place.name).toBe(true);
    }
  });

  it('data that is not zstd fails with ARCHIVE_CORRUPT', async () => {
    const notZstd = [
      { name: 'text', data: Buffer.from('{"this": "is not zstd at all"}\n'.repeat(100)) },
      { name: 'gzip', data: zlib.gzipSync(Buffer.from('hello')) },
      { name: 'two stray bytes', data: Buffer.from([0x28, 0xb5]) },
      { name: 'garbage after good frames', data: Buffer.concat([zlib.zstdCompressSync(Buffer.from('hello')), Buffer.from('trailing junk')]) },
      { name: 'a reserved block type', data: craftFrame({ fcsFlag: 0, singleSegment: false, dictFlag: 0, checksum: false, blocks: [{ type: 0, size: 4 }] }) },
    ];
    // Block type 3 is reserved: patch the crafted frame's block header.
    const reserved = notZstd[4]!.data;
    reserved[4 + 2] = reserved[4 + 2]! | 0x06;
    notZstd.push({ name: 'a reserved bit in the frame header', data: Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x08, 0x00, 0x01, 0x00, 0x00]) });
    for (const { name, data } of notZstd) {
      expectCorrupt(await rejection(through([new ParallelZstdDecompress({ lanes: 2 })], [data])), name);
      expectCorrupt(await rejection(through([createDecompressor('zstd')], tinyChunks(data, 3))), name);
    }
  });
});

describe('ZstdFrameSplitter', () => {
  interface Expected {
    /** The stream, skippable frames included. */
    stream: Buffer;
    /** The non-skippable frames, in order. */
    frames: Buffer[];
    /** Offsets in `stream` between frames (skippable ones included), 0 and the end too. */
    boundaries: Set<number>;
  }

  function assemble(parts: { frame: Buffer; skippable?: boolean }[]): Expected {
    const boundaries = new Set<number>([0]);
    let at = 0;
    for (const part of parts) {
      at += part.frame.length;
      boundaries.add(at);
    }
    return {
      stream: Buffer.concat(parts.map((p) => p.frame)),
      frames: parts.filter((p) => !p.skippable).map((p) => p.frame),
      boundaries,
    };
  }

  /** Feeds the chunks and checks everything the splitter promises; returns the pieces. */
  function checkSplit(expected: Expected, chunks: Iterable<Buffer>): FramePiece[] {
    // Plain checks in the loop (expect() per byte fed would dominate the run time).
    const check = (condition: boolean, message: () => string): void => {
      if (!condition) expect.fail(message());
    };
    const splitter = new ZstdFrameSplitter();
    const all: FramePiece[] = [];
    let fed = 0;
    let inFrame = false;
    let frameIndex = -1;
    let frameBytes = 0;
    check(splitter.atFrameBoundary(), () => 'at a frame boundary before any input');
    for (const chunk of chunks) {
      const pieces = splitter.feed(chunk);
      fed += chunk.length;
      for (const piece of pieces) {
        // A view of the chunk, except a frame's first bytes when its magic began in an earlier chunk.
        const isView =
          piece.data.buffer === chunk.buffer &&
          piece.data.byteOffset >= chunk.byteOffset &&
          piece.data.byteOffset + piece.data.length <= chunk.byteOffset + chunk.length;
        check(isView || (piece.frameStart && piece.data.length < 4), () => `a piece after ${fed} bytes is not a view of its chunk`);
        if (piece.frameStart) {
          check(!inFrame, () => `frame ${frameIndex + 1} starts before frame ${frameIndex} ended`);
          inFrame = true;
          frameIndex += 1;
          frameBytes = 0;
        } else {
          check(inFrame, () => `bytes outside any frame after ${fed} bytes`);
        }
        const frame = expected.frames[frameIndex];
        check(frame !== undefined, () => `more frames than the ${expected.frames.length} expected`);
        check(piece.data.equals(frame!.subarray(frameBytes, frameBytes + piece.data.length)), () => `frame ${frameIndex}: wrong bytes at ${frameBytes}`);
        frameBytes += piece.data.length;
        if (piece.frameEnd) {
          check(frameBytes === frame!.length, () => `frame ${frameIndex} ends after ${frameBytes} bytes, not at its last byte (${frame!.length})`);
          inFrame = false;
        }
        all.push(piece);
      }
      check(splitter.atFrameBoundary() === expected.boundaries.has(fed), () => `atFrameBoundary() is ${splitter.atFrameBoundary()} after ${fed} bytes`);
    }
    expect(inFrame).toBe(false);
    expect(frameIndex + 1).toBe(expected.frames.length);
    expect(all.filter((p) => p.frameStart)).toHaveLength(expected.frames.length);
    expect(all.filter((p) => p.frameEnd)).toHaveLength(expected.frames.length);
    expect(Buffer.concat(all.map((p) => p.data)).equals(Buffer.concat(expected.frames))).toBe(true);
    return all;
  }

  function checkAllChunkings(expected: Expected, seed: number): void {
    checkSplit(expected, [expected.stream]);
    checkSplit(expected, chunksOf(expected.stream, 1));
    checkSplit(expected, tinyChunks(expected.stream, seed));
    checkSplit(expected, chunksOf(expected.stream, 7));
    checkSplit(expected, chunksOf(expected.stream, 4096));
  }

  it('fed whole, pieces are views of the input, one per frame', () => {
    const a = zlib.zstdCompressSync(mixed(50_000, 7));
    const b = zlib.zstdCompressSync(mixed(60_000, 8));
    const expected = assemble([{ frame: a }, { frame: skippableFrame(1, Buffer.from('meta')), skippable: true }, { frame: b }]);
    const pieces = checkSplit(expected, [expected.stream]);
    expect(pieces).toHaveLength(2);
    expect(pieces.every((p) => p.frameStart && p.frameEnd && p.data.buffer === expected.stream.buffer)).toBe(true);
  });

  it('frames with and without a checksum, raw and RLE blocks, skippable frames, in every chunking', () => {
    const random = seededRandom(99);
    const run = Buffer.alloc(1 * MiB, 0x41);
    const withChecksum = zlib.zstdCompressSync(run, { params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 } });
    const withoutChecksum = zlib.zstdCompressSync(run, { params: { [zlib.constants.ZSTD_c_checksumFlag]: 0 } });
    const raw = zlib.zstdCompressSync(noise(150_000, random), { params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 } });
    const compressedText = zlib.zstdCompressSync(text(200_000, random), { params: { [zlib.constants.ZSTD_c_checksumFlag]: 0 } });
    const empty = zlib.zstdCompressSync(Buffer.alloc(0));
    // The fixtures hold what they claim.
    expect(hasChecksum(withChecksum)).toBe(true);
    expect(hasChecksum(withoutChecksum)).toBe(false);
    expect(withChecksum.length).toBe(withoutChecksum.length + 4);
    expect(blockTypes(withChecksum)).toContain(1);
    expect(blockTypes(withoutChecksum)).toContain(1);
    expect(blockTypes(raw)).toContain(0);
    expect(blockTypes(compressedText)).toContain(2);
    expect(blockTypes(empty)).toEqual([0]);

    const expected = assemble([
      { frame: withChecksum },
      { frame: withoutChecksum },
      { frame: skippableFrame(0x5, Buffer.from('between')), skippable: true },
      { frame: raw },
      { frame: empty },
      { frame: skippableFrame(0x0, Buffer.alloc(0)), skippable: true },
      { frame: compressedText },
      { frame: withoutChecksum },
    ]);
    checkAllChunkings(expected, 1);
    // A skippable frame first and last too.
    const framed = assemble([
      { frame: skippableFrame(0x9, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0])), skippable: true },
      { frame: withoutChecksum },
      { frame: skippableFrame(0xe, Buffer.from('the end')), skippable: true },
    ]);
    checkAllChunkings(framed, 2);
  });

  it('every frame header layout: content size 0/1/2/4/8 bytes, window or single segment, dictionary id 0/1/2/4 bytes', () => {
    const parts: { frame: Buffer }[] = [];
    for (const fcsFlag of [0, 1, 2, 3]) {
      for (const singleSegment of [false, true]) {
        for (const dictFlag of [0, 1, 2, 3]) {
          for (const checksum of [false, true]) {
            const blocks: CraftedBlock[] = [
              { type: 2, size: 5 },
              { type: 1, size: 100_000 },
              { type: 0, size: 3 },
              { type: 0, size: 0 },
            ];
            parts.push({ frame: craftFrame({ fcsFlag, singleSegment, dictFlag, checksum, blocks: blocks.slice(dictFlag) }) });
          }
        }
      }
    }
    // Header sizes (after the magic) range from 2 bytes to 14 (descriptor, window, 4-byte id, 8-byte size).
    const headerSizes = new Set(parts.map((p) => frameHeaderBytes(p.frame[4]!)));
    expect(Math.min(...headerSizes)).toBe(2);
    expect(Math.max(...headerSizes)).toBe(14);
    checkAllChunkings(assemble(parts), 3);
  });

  it('is not at a frame boundary inside a skippable frame, or after a partial magic', () => {
    const splitter = new ZstdFrameSplitter();
    expect(splitter.feed(Buffer.from([0x50, 0x2a]))).toEqual([]);
    expect(splitter.atFrameBoundary()).toBe(false);
    expect(splitter.feed(Buffer.from([0x4d, 0x18, 0x02, 0x00, 0x00, 0x00, 0x01]))).toEqual([]);
    expect(splitter.atFrameBoundary()).toBe(false);
    expect(splitter.feed(Buffer.from([0x02]))).toEqual([]);
    expect(splitter.atFrameBoundary()).toBe(true);
  });

  it('throws ARCHIVE_CORRUPT where a frame should begin but no magic is', () => {
    const splitter = new ZstdFrameSplitter();
    let error: unknown;
    try {
      splitter.feed(Buffer.from('PK\x03\x04'));
    } catch (caught) {
      error = caught;
    }
    expectCorrupt(error);
  });
});

describe('back-pressure', () => {
  it('a slow consumer holds ParallelZstdCompress back: 64 MiB never buffer more than a few frames', async () => {
    const compressor = new ParallelZstdCompress({ level: 3, lanes: 2 });
    let outBytes = 0;
    const peak = await peakBufferedBeforeSlowSink(pacedSource(lazyData(64 * MiB, 128 * KiB, 1, { textShare: 0.25 })), compressor, 16 * KiB, (chunk) => {
      outBytes += chunk.length;
    });
    expect(outBytes).toBeGreaterThan(32 * MiB);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(6 * FRAME_BYTES);
  });

  /**
   * Decodes `source` with ParallelZstdDecompress (2 lanes) into a sink that reads `sinkBytesPerMs`
   * (slowSink); returns the SHA-256 of the output and the most the decoder buffered meanwhile.
   */
  async function decodeSlowly(source: Readable, sinkBytesPerMs: number): Promise<{ sha: string; peak: number }> {
    const hash = createHash('sha256');
    const peak = await peakBufferedBeforeSlowSink(source, new ParallelZstdDecompress({ lanes: 2 }), sinkBytesPerMs, (chunk) => hash.update(chunk));
    return { sha: hash.digest('hex'), peak };
  }

  it('a slow consumer holds ParallelZstdDecompress back too', async () => {
    // ~4× compressible: decoding multiplies what it reads.
    const random = seededRandom(3);
    const plain = Buffer.concat(Array.from({ length: 12 }, () => text(FRAME_BYTES, random)));
    const compressed = await compress(plain, { lanes: 3 });
    const { sha, peak } = await decodeSlowly(pacedSource(chunksOf(compressed, 32 * KiB)), 32 * KiB);
    expect(sha).toBe(sha256(plain));
    expect(peak).toBeLessThanOrEqual(6 * FRAME_BYTES);
  });

  it('ParallelZstdDecompress does not decode every frame of a big input chunk at once', async () => {
    // 16 frames of very repetitive data compress to a few KiB: one 1 MiB read (a decrypted
    // segment, a file read) holds them all, yet decoding must still wait for the consumer.
    const frames = Array.from({ length: 16 }, (_, i) => Buffer.alloc(FRAME_BYTES, `{"_id":${i},"status":"ok"}\n`));
    const compressed = await compress(Buffer.concat(frames), { lanes: 3 });
    expect(compressed.length).toBeLessThan(1 * MiB);
    const { sha, peak } = await decodeSlowly(Readable.from([compressed]), 256 * KiB);
    expect(sha).toBe(sha256(Buffer.concat(frames)));
    expect(peak).toBeLessThanOrEqual(6 * FRAME_BYTES);
  });
});

describe('BufferPool', () => {
  it('lends buffers of its size, and reuses one given back', () => {
    const pool = new BufferPool(1000);
    const a = pool.take();
    const b = pool.take();
    expect(a.length).toBe(1000);
    expect(b.length).toBe(1000);
    expect(a).not.toBe(b);
    pool.give(a);
    expect(pool.take()).toBe(a);
    expect(pool.take()).not.toBe(b);
  });

  it('ignores a buffer it did not lend, a view of one it lent, and a buffer given back twice', () => {
    const pool = new BufferPool(64);
    const foreign = Buffer.alloc(64);
    pool.give(foreign);
    const taken = pool.take();
    expect(taken).not.toBe(foreign);
    pool.give(taken.subarray(0, 64));
    expect(pool.take()).not.toBe(taken);

    pool.give(taken);
    pool.give(taken); // twice
    const first = pool.take();
    const second = pool.take();
    expect(first).toBe(taken);
    expect(second).not.toBe(first);
    // Lent again, it may be given back again.
    pool.give(first);
    expect(pool.take()).toBe(first);
  });

  it('keeps at most maxFree buffers', () => {
    const pool = new BufferPool(16, 2);
    const lent = Array.from({ length: 5 }, () => pool.take());
    for (const buffer of lent) pool.give(buffer);
    const again = Array.from({ length: 5 }, () => pool.take());
    expect(again.filter((buffer) => lent.includes(buffer))).toHaveLength(2);
    expect(new Set(again).size).toBe(5);
  });

  it('Batcher(FRAME_BYTES, pool) → ParallelZstdCompress({pool}) reuses a few buffers and round-trips exactly', async () => {
    const pool = new BufferPool(FRAME_BYTES);
    const { distinct, outstanding } = watchPool(pool);
    const total = 96 * MiB;
    const { plainBytes, sourceSha, plainSha } = await pooledRoundTrip(pool, total, [
      new ParallelZstdCompress({ level: 3, pool, lanes: 2 }),
      new ParallelZstdDecompress({ lanes: 2 }),
    ]);
    expect(plainBytes).toBe(total);
    expect(plainSha).toBe(sourceSha);
    const frames = total / FRAME_BYTES;
    expect(distinct.size).toBeGreaterThan(1);
    expect(distinct.size).toBeLessThanOrEqual(frames / 3);
    expect(outstanding.size, 'every buffer lent came back').toBe(0);
  });
});

describe('failures stop everything', () => {
  it('aborting a compression midway rejects and stops its lanes', async () => {
    const compressor = new ParallelZstdCompress({ level: 3, lanes: 3 });
    await expectAbortedMidway(endlessSource(4), compressor, 3 * FRAME_BYTES);
    for (const lane of laneStreams(compressor)) expect(lane.destroyed).toBe(true);
  });

  it('aborting a decompression midway rejects and stops its lanes', async () => {
    const compressed = await compress(big(), { lanes: 3 });
    const decompressor = new ParallelZstdDecompress({ lanes: 3 });
    await expectAbortedMidway(Readable.from(chunksOf(compressed, 64 * KiB)), decompressor, FRAME_BYTES);
    for (const lane of laneStreams(decompressor)) expect(lane.destroyed).toBe(true);
  });

  it('a failing source or consumer rejects the pipeline with its error', async () => {
    const compressor = new ParallelZstdCompress({ level: 3, lanes: 2 });
    await expect(pipeline(failingSource(2 * FRAME_BYTES, 'disk gone', 6), compressor, collector([]))).rejects.toThrow('disk gone');
    for (const lane of laneStreams(compressor)) expect(lane.destroyed).toBe(true);

    const compressed = await compress(big(), { lanes: 2 });
    const decompressor = new ParallelZstdDecompress({ lanes: 2 });
    await expect(pipeline(Readable.from(chunksOf(compressed, 64 * KiB)), decompressor, failingSink(FRAME_BYTES, 'upload refused'))).rejects.toThrow('upload refused');
    for (const lane of laneStreams(decompressor)) expect(lane.destroyed).toBe(true);
  });
});
