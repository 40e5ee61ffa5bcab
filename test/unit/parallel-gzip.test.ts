import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCompressor, createDecompressor } from '../../src/engine/compression.js';
import { ParallelGzipCompress } from '../../src/engine/gzip-members.js';
import { FRAME_BYTES } from '../../src/engine/parallel-frames.js';
import { BufferPool } from '../../src/streams.js';
import { seededRandom } from './archive-fixtures.js';
import { KiB, MiB, SIZES, chunksOf, collector, endlessSource, expectAbortedMidway, failingSink, failingSource, lazyData, mixed, pacedSource, peakBufferedBeforeSlowSink, pooledRoundTrip, rejection, sha256, slowFrameFirst, text, through, tinyChunks, watchPool } from './frame-fixtures.js';


// ---------------------------------------------------------------------------------------------
// node:zlib's one-shot gzip, observed and steered: ParallelGzipCompress calls it once per member.
// Unless a test sets `delay` or `failCall`, calls go straight to the real zlib.gzip.

interface GzipHooks {
  /** Milliseconds to hold back each member's result: members then finish out of order. */
  delay: (() => number) | undefined;
  /** The call (0-based) that fails with `error` instead of compressing. */
  failCall: { at: number; error: Error } | undefined;
  calls: number;
  running: number;
  maxRunning: number;
}

const hooks = vi.hoisted(
  (): GzipHooks => ({ delay: undefined, failCall: undefined, calls: 0, running: 0, maxRunning: 0 }),
);

vi.mock('node:zlib', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:zlib')>();
  function gzip(input: zlib.InputType, options: zlib.ZlibOptions, callback: zlib.CompressCallback): void {
    const call = hooks.calls++;
    hooks.running++;
    hooks.maxRunning = Math.max(hooks.maxRunning, hooks.running);
    const deliver = (error: Error | null, result: NonSharedBuffer): void => {
      const after = hooks.delay?.() ?? 0;
      const finish = (): void => {
        hooks.running--;
        callback(error, result);
      };
      if (after > 0) setTimeout(finish, after);
      else finish();
    };
    const failure = hooks.failCall;
    if (failure && failure.at === call) {
      setImmediate(() => deliver(failure.error, Buffer.alloc(0)));
      return;
    }
    actual.gzip(input, options, deliver);
  }
  return { ...actual, gzip };
});

afterEach(() => {
  hooks.delay = undefined;
  hooks.failCall = undefined;
  hooks.calls = 0;
  hooks.maxRunning = 0;
});

// ---------------------------------------------------------------------------------------------
// Deterministic data (frame-fixtures.ts): 30% noise, 70% JSON-like text.

let bigInput: Buffer | undefined;
/** 3.5 frames of mixed data; the smaller test inputs are its prefixes. */
function input(bytes: number): Buffer {
  bigInput ??= mixed(Math.round(3.5 * FRAME_BYTES), 1, 0.3);
  return bigInput.subarray(0, bytes);
}

type Chunking = number | 'whole' | 'tiny';

/** `data` cut into chunks of `size` bytes, 1..3 bytes ('tiny', seeded), or one chunk ('whole'). */
function chunked(data: Buffer, size: Chunking, seed = 1): Generator<Buffer> {
  return size === 'tiny' ? tinyChunks(data, seed) : chunksOf(data, size);
}

async function compress(data: Buffer, options: { lanes: number; level?: number; chunk?: Chunking }): Promise<Buffer> {
  return through([new ParallelGzipCompress({ level: options.level ?? 6, lanes: options.lanes })], chunked(data, options.chunk ?? 'whole'));
}

/**
 * What ParallelGzipCompress must write: one member per FRAME_BYTES slice (one empty member for no
 * input), each exactly what zlib makes of that slice alone (deflate output depends only on the
 * bytes and the level, not on how they were fed).
 */
function expectedMembers(data: Buffer, level = 6): Buffer[] {
  const members: Buffer[] = [];
  for (let at = 0; at < data.length || members.length === 0; at += FRAME_BYTES) {
    members.push(zlib.gzipSync(data.subarray(at, at + FRAME_BYTES), { level }));
  }
  return members;
}

function gzipCliAvailable(): boolean {
  return spawnSync('gzip', ['--version']).status === 0;
}

/** Frames waiting for a free lane inside a ParallelGzipCompress (its private queue). */
function waitingFrames(compressor: Transform): unknown[] {
  return Reflect.get(compressor, 'waiting') as unknown[];
}

/** Resolves once no member is on the thread pool any more (calls already started may finish late). */
async function poolSettled(): Promise<void> {
  for (let i = 0; i < 200 && hooks.running > 0; i++) await sleep(10);
  expect(hooks.running).toBe(0);
}

// ---------------------------------------------------------------------------------------------

describe('ParallelGzipCompress → createDecompressor("gzip") round trip', () => {
  const cases: { size: (typeof SIZES)[number]; chunk: Chunking; chunks: string }[] = [];
  for (const size of SIZES) {
    const chunkings: Chunking[] =
      size.bytes <= 40_000 ? ['tiny', 7, 65536, 'whole'] : [7, 65536, FRAME_BYTES, FRAME_BYTES + 12_345, 'whole'];
    for (const chunk of chunkings) {
      const chunks = chunk === 'whole' ? 'one chunk' : chunk === 'tiny' ? '1..3-byte chunks' : chunk === FRAME_BYTES ? 'chunks of exactly FRAME_BYTES' : `${chunk}-byte chunks`;
      cases.push({ size, chunk, chunks });
    }
  }

  describe.each([1, 2, 3])('%i lane(s)', (lanes) => {
    it.each(cases)('$size.name in $chunks is byte-identical', async ({ size, chunk }) => {
      const data = input(size.bytes);
      const compressor = new ParallelGzipCompress({ level: 6, lanes });
      const compressed = await through([compressor], chunked(data, chunk));
      // Restore's decoder (one createGunzip). It takes every write to the thread pool, so
      // megabytes in 7-byte writes would only be slow: small inputs are fed as they were chunked,
      // larger ones in 64 KiB reads (member ends split across writes are tested below).
      const plain = await through([createDecompressor('gzip')], chunked(compressed, size.bytes <= 40_000 ? chunk : 65536));
      expect(plain.length).toBe(data.length);
      expect(sha256(plain)).toBe(sha256(data));
      expect(compressed.equals(Buffer.concat(expectedMembers(data))), 'one member per frame, in order').toBe(true);
      // Done means done: nothing is left waiting for a lane.
      expect(waitingFrames(compressor)).toHaveLength(0);
    });
  });
});

describe('ParallelGzipCompress writes standard gzip', () => {
  it.each(SIZES)('$name: zlib.gunzipSync reads every member; each member alone is its slice', async ({ bytes }) => {
    const data = input(bytes);
    const compressed = await compress(data, { lanes: 3, chunk: 65536 });
    expect(sha256(zlib.gunzipSync(compressed))).toBe(sha256(data));
    const members = expectedMembers(data);
    expect(members.length).toBe(Math.max(1, Math.ceil(bytes / FRAME_BYTES)));
    let at = 0;
    members.forEach((member, i) => {
      // RFC 1952: magic 1f 8b, deflate; ISIZE (the member's plain length) closes the member.
      expect(compressed.subarray(at, at + 2).equals(Buffer.from([0x1f, 0x8b])), `member ${i} magic`).toBe(true);
      expect(compressed.subarray(at, at + member.length).equals(member), `member ${i}`).toBe(true);
      at += member.length;
      const plainLength = compressed.readUInt32LE(at - 4);
      expect(plainLength, `member ${i} ISIZE`).toBe(Math.min(FRAME_BYTES, bytes - i * FRAME_BYTES));
      expect(sha256(zlib.gunzipSync(member))).toBe(sha256(data.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES)));
    });
    expect(at).toBe(compressed.length);
  });

  it('empty input is one valid empty member (restore decompresses whatever was stored)', async () => {
    const compressed = await compress(Buffer.alloc(0), { lanes: 2 });
    expect(compressed.length).toBe(20); // 10-byte header, an empty final deflate block, CRC-32 and ISIZE
    expect(zlib.gunzipSync(compressed).length).toBe(0);
    expect((await through([createDecompressor('gzip')], [compressed])).length).toBe(0);
    // Through the factory create uses, with no chunk at all written.
    expect(zlib.gunzipSync(await through([createCompressor('gzip', 6)], [])).length).toBe(0);
  });

  it('createGunzip reads members split anywhere: 1..3-byte chunks across member ends, chunks ending exactly at them', async () => {
    const data = input(Math.round(3.5 * FRAME_BYTES));
    const compressed = await compress(data, { lanes: 2 });
    const members = expectedMembers(data);
    expect(compressed.equals(Buffer.concat(members)), 'the members split below are what the compressor wrote').toBe(true);
    /** Each member: its bulk in one chunk, its last and the next member's first 64 bytes in 1..3-byte chunks. */
    const tinyAcrossEnds = members.flatMap((member, i) => {
      const head = i === 0 ? 0 : 64;
      return [...chunked(member.subarray(0, head), 'tiny', i), member.subarray(head, -64), ...chunked(member.subarray(-64), 'tiny', 10 + i)];
    });
    const splits: { name: string; chunks: Iterable<Buffer> }[] = [
      { name: '1..3-byte chunks around every member end', chunks: tinyAcrossEnds },
      { name: 'one chunk per member', chunks: members },
      { name: 'each member cut 1 byte before its end', chunks: members.flatMap((m) => [m.subarray(0, -1), m.subarray(-1)]) },
    ];
    for (const { name, chunks } of splits) {
      const plain = await through([zlib.createGunzip()], chunks);
      expect(sha256(plain), name).toBe(sha256(data));
    }
    // Runs compress to a few KiB per member: small enough to feed whole in 1..3-byte chunks.
    const runs = Buffer.concat([Buffer.alloc(FRAME_BYTES, 'ab'), Buffer.alloc(FRAME_BYTES, '{"status":"ok"}\n'), Buffer.alloc(FRAME_BYTES / 2, 'xyz')]);
    const runsCompressed = await compress(runs, { lanes: 2 });
    expect(runsCompressed.length).toBeLessThan(64 * KiB);
    const plain = await through([zlib.createGunzip()], chunked(runsCompressed, 'tiny', 9));
    expect(sha256(plain), '1..3-byte chunks throughout').toBe(sha256(runs));
  });

  it.skipIf(!gzipCliAvailable() && process.env['CI'] !== 'true')('the gzip command (gzip -d) reads it, and gzip -t finds it intact', async () => {
    for (const { bytes } of SIZES) {
      const data = input(bytes);
      const compressed = await compress(data, { lanes: 3 });
      const decoded = execFileSync('gzip', ['-d', '-c'], { input: compressed, maxBuffer: 64 * MiB });
      expect(decoded.length, `${bytes} bytes`).toBe(data.length);
      expect(sha256(decoded), `${bytes} bytes`).toBe(sha256(data));
      execFileSync('gzip', ['-t'], { input: compressed }); // throws on a non-zero exit
    }
  });

  it('a single-member gzip stream (backups made before members) still restores', async () => {
    const data = input(Math.round(3.5 * FRAME_BYTES));
    const legacy = await through([zlib.createGzip({ level: 6, chunkSize: 256 * KiB })], chunksOf(data, 65536));
    const plain = await through([createDecompressor('gzip')], chunksOf(legacy, 65536));
    expect(sha256(plain)).toBe(sha256(data));
  });

  it('members cost little in size: text stores within 1% of one member', async () => {
    const random = seededRandom(21);
    const data = text(8 * FRAME_BYTES, random);
    const members = await compress(data, { lanes: 2, chunk: 65536 });
    const single = zlib.gzipSync(data, { level: 6 });
    expect(members.length / single.length).toBeLessThan(1.01);
  });
});

describe('order', () => {
  it('members that finish in random order come out in input order', async () => {
    const random = seededRandom(42);
    hooks.delay = () => Math.floor(random() * 40);
    const data = mixed(9 * FRAME_BYTES + 1234, 7, 0.3);
    for (const lanes of [2, 3]) {
      const compressed = await compress(data, { lanes, chunk: 100_000 });
      expect(compressed.equals(Buffer.concat(expectedMembers(data))), `${lanes} lanes`).toBe(true);
      expect(sha256(zlib.gunzipSync(compressed))).toBe(sha256(data));
    }
  });

  it('a slow member (noise at level 9) does not let the quick ones after it overtake', async () => {
    const random = seededRandom(43);
    const data = Buffer.concat([...slowFrameFirst(random), Buffer.alloc(FRAME_BYTES / 2, 0x63)]);
    for (const lanes of [2, 3]) {
      const compressed = await compress(data, { lanes, level: 9, chunk: 65536 });
      expect(compressed.equals(Buffer.concat(expectedMembers(data, 9))), `${lanes} lanes`).toBe(true);
    }
  });
});

describe('bounded work and back-pressure', () => {
  it('a slow consumer holds ParallelGzipCompress back: 48 MiB never buffer more than a few frames', async () => {
    const lanes = 2;
    const compressor = new ParallelGzipCompress({ level: 1, lanes });
    let peakWaiting = 0;
    let outBytes = 0;
    const sourceHash = createHash('sha256');
    const gunzip = zlib.createGunzip();
    const plainHash = createHash('sha256');
    gunzip.on('data', (chunk: Buffer) => plainHash.update(chunk));
    const peak = await peakBufferedBeforeSlowSink(
      pacedSource(lazyData(48 * MiB, 128 * KiB, 1, { textShare: 0.5, hash: sourceHash })),
      compressor,
      12 * KiB,
      (chunk) => {
        outBytes += chunk.length;
        gunzip.write(chunk);
      },
      () => {
        peakWaiting = Math.max(peakWaiting, waitingFrames(compressor).length);
      },
    );
    const ended = new Promise((resolve) => gunzip.on('end', resolve));
    gunzip.end();
    await ended;
    expect(plainHash.digest('hex')).toBe(sourceHash.digest('hex'));
    expect(outBytes).toBeGreaterThan(24 * MiB);
    expect(peak).toBeGreaterThan(0);
    // Stream buffers: at most a frame of output and a frame of input, plus one push's overshoot.
    expect(peak).toBeLessThanOrEqual(6 * FRAME_BYTES);
    // At most `lanes` members on the thread pool, and at most one frame waiting for a lane
    // (lanes + 1 in flight).
    expect(hooks.maxRunning).toBe(lanes);
    expect(peakWaiting).toBeLessThanOrEqual(1);
  });

  it('Batcher(FRAME_BYTES, pool) → ParallelGzipCompress({pool}): a few buffers reused, every one given back, exact round trip', async () => {
    const lanes = 2;
    const pool = new BufferPool(FRAME_BYTES);
    const { distinct, outstanding, peakOutstanding } = watchPool(pool);
    const total = 64 * MiB;
    const { plainBytes, sourceSha, plainSha } = await pooledRoundTrip(pool, total, [new ParallelGzipCompress({ level: 1, pool, lanes }), createDecompressor('gzip')]);
    expect(plainBytes).toBe(total);
    expect(plainSha).toBe(sourceSha);
    expect(outstanding.size, 'every buffer lent came back').toBe(0);
    expect(distinct.size).toBeGreaterThan(1);
    expect(distinct.size).toBeLessThanOrEqual(total / FRAME_BYTES / 3);
    // Lent at once: lanes + 1 in the compressor, one in its write buffer, one in the Batcher's
    // output buffer and the one the Batcher is filling.
    expect(peakOutstanding()).toBeLessThanOrEqual(lanes + 4);
  });
});

describe('failures stop everything', () => {
  it('aborting midway rejects, and no member starts afterwards', async () => {
    const compressor = new ParallelGzipCompress({ level: 6, lanes: 3 });
    await expectAbortedMidway(endlessSource(4), compressor, 3 * FRAME_BYTES);
    expect(waitingFrames(compressor)).toHaveLength(0);
    const callsAtAbort = hooks.calls;
    await poolSettled();
    await sleep(50);
    expect(hooks.calls, 'no member started after the abort').toBe(callsAtAbort);
    expect(compressor.readableLength, 'members finishing late are dropped').toBe(0);
  });

  it('a member that fails to compress fails the stream with its error, passing on only earlier members', async () => {
    const failure = Object.assign(new Error('out of memory in deflate'), { code: 'Z_MEM_ERROR' });
    hooks.failCall = { at: 2, error: failure };
    const data = input(Math.round(3.5 * FRAME_BYTES));
    const compressor = new ParallelGzipCompress({ level: 6, lanes: 2 });
    const out: Buffer[] = [];
    const error = await rejection(pipeline(Readable.from(chunksOf(data, 65536)), compressor, collector(out)));
    expect(error).toBe(failure);
    expect(compressor.destroyed).toBe(true);
    // Only whole members before the failed one may have come out, in order.
    const passed = Buffer.concat(out);
    const before = Buffer.concat(expectedMembers(data).slice(0, 2));
    expect(passed.length).toBeLessThanOrEqual(before.length);
    expect(before.subarray(0, passed.length).equals(passed)).toBe(true);
    await poolSettled();
  });

  it('a failing source or consumer rejects the pipeline with its error', async () => {
    const compressor = new ParallelGzipCompress({ level: 6, lanes: 2 });
    await expect(pipeline(failingSource(2 * FRAME_BYTES, 'disk gone', 6), compressor, collector([]))).rejects.toThrow('disk gone');
    expect(waitingFrames(compressor)).toHaveLength(0);

    const data = input(Math.round(3.5 * FRAME_BYTES));
    const second = new ParallelGzipCompress({ level: 6, lanes: 2 });
    await expect(pipeline(Readable.from(chunksOf(data, 64 * KiB)), second, failingSink(FRAME_BYTES / 2, 'upload refused'))).rejects.toThrow('upload refused');
    expect(second.destroyed).toBe(true);
    await poolSettled();
  });
});
