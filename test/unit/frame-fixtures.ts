// Shared by the parallel compression tests (zstd-frames.test.ts, parallel-gzip.test.ts):
// deterministic data that compresses like documents or not at all, ways to cut it into chunks,
// a pipeline runner that collects what comes out, and the paced, slow, endless and failing
// sources and sinks the back-pressure and failure tests put around a compressor.
import { createHash, type Hash } from 'node:crypto';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'vitest';
import { FRAME_BYTES } from '../../src/engine/parallel-frames.js';
import { Batcher, type BufferPool } from '../../src/streams.js';
import { seededRandom } from './archive-fixtures.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

const WORDS = [
  '{"_id":{"$oid":"',
  '"},"name":"',
  '"status":"active"',
  ',"tags":["',
  '"],"count":',
  'null',
  'true',
  'false',
  '},',
  ',"createdAt":{"$date":"2024-',
  '"email":"user',
  '@example.com"',
  ',"score":',
];

/** JSON-like text: compresses about 4×. */
export function text(length: number, random: () => number): Buffer {
  let s = '';
  while (s.length < length) {
    s += WORDS[Math.floor(random() * WORDS.length)]!;
    if (random() < 0.5) s += String(Math.floor(random() * 1e6));
  }
  return Buffer.from(s.slice(0, length), 'latin1');
}

/** Random bytes: do not compress at all. */
export function noise(length: number, random: () => number): Buffer {
  const words = new Uint32Array(Math.ceil(length / 4));
  for (let i = 0; i < words.length; i++) words[i] = random() * 4294967296;
  return Buffer.from(words.buffer, 0, length);
}

/** Segments of 1 byte..256 KiB, `noiseShare` of them noise and the rest text, the same for the same seed. */
export function mixed(length: number, seed: number, noiseShare = 0.4): Buffer {
  const random = seededRandom(seed);
  const parts: Buffer[] = [];
  let total = 0;
  while (total < length) {
    const size = Math.min(length - total, 1 + Math.floor(random() * 256 * KiB));
    parts.push(random() < noiseShare ? noise(size, random) : text(size, random));
    total += size;
  }
  return Buffer.concat(parts, length);
}

/**
 * Four frames that take very different times to compress at level 9: noise (slow) first, then two
 * runs of one byte and text (quick), so that the frames after the first finish before it.
 */
export function slowFrameFirst(random: () => number): Buffer[] {
  return [noise(FRAME_BYTES, random), Buffer.alloc(FRAME_BYTES, 0x61), Buffer.alloc(FRAME_BYTES, 0x62), text(FRAME_BYTES, random)];
}

/** Input sizes around the frame boundaries. */
export const SIZES = [
  { name: '0 bytes', bytes: 0 },
  { name: '1 byte', bytes: 1 },
  { name: '40 000 bytes', bytes: 40_000 },
  { name: 'FRAME_BYTES', bytes: FRAME_BYTES },
  { name: 'FRAME_BYTES + 1', bytes: FRAME_BYTES + 1 },
  { name: '3.5 × FRAME_BYTES', bytes: Math.round(3.5 * FRAME_BYTES) },
];

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `data` cut into chunks of `size` bytes (or sizes drawn from the function); 'whole' is one chunk. */
export function* chunksOf(data: Buffer, size: number | 'whole' | (() => number)): Generator<Buffer> {
  if (size === 'whole') {
    yield data;
    return;
  }
  for (let at = 0; at < data.length; ) {
    const n = typeof size === 'number' ? size : size();
    yield data.subarray(at, at + n);
    at += n;
  }
}

/** Chunks of 1..3 bytes (seeded), so that every header straddles chunk boundaries. */
export function tinyChunks(data: Buffer, seed: number): Generator<Buffer> {
  const random = seededRandom(seed);
  return chunksOf(data, () => 1 + Math.floor(random() * 3));
}

export function collector(out: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      out.push(chunk);
      callback();
    },
  });
}

/** Runs the chunks through the stages and returns everything that came out. */
export async function through(stages: Transform[], chunks: Iterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline([Readable.from(chunks), ...stages, collector(out)]);
  return Buffer.concat(out);
}

/** What a pipeline rejected with (fails the test if it resolved). */
export async function rejection(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => expect.fail('expected the pipeline to fail'),
    (error: unknown) => error,
  );
}

/** Watches what a pool lends: every distinct buffer, those not given back yet, and the most lent at once. */
export function watchPool(pool: BufferPool): { distinct: Set<Buffer>; outstanding: Set<Buffer>; peakOutstanding: () => number } {
  const distinct = new Set<Buffer>();
  const outstanding = new Set<Buffer>();
  let peak = 0;
  const take = pool.take.bind(pool);
  const give = pool.give.bind(pool);
  pool.take = (): Buffer => {
    const buffer = take();
    distinct.add(buffer);
    outstanding.add(buffer);
    peak = Math.max(peak, outstanding.size);
    return buffer;
  };
  pool.give = (buffer: Buffer): void => {
    outstanding.delete(buffer);
    give(buffer);
  };
  return { distinct, outstanding, peakOutstanding: () => peak };
}

/**
 * `total` bytes in chunks of odd sizes (so batches are assembled from pieces), half text and half
 * noise, through Batcher(FRAME_BYTES, pool) and then `stages` (a compressor and its decompressor).
 * Returns how many bytes came out and the SHA-256 of what went in and of what came out.
 */
export async function pooledRoundTrip(pool: BufferPool, total: number, stages: Transform[]): Promise<{ plainBytes: number; sourceSha: string; plainSha: string }> {
  const random = seededRandom(8);
  const sourceHash = createHash('sha256');
  let made = 0;
  const source = new Readable({
    read() {
      if (made >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(total - made, 1 + Math.floor(random() * 200 * KiB));
      made += size;
      const chunk = random() < 0.5 ? text(size, random) : noise(size, random);
      sourceHash.update(chunk);
      this.push(chunk);
    },
  });
  const plainHash = createHash('sha256');
  let plainBytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      plainHash.update(chunk);
      plainBytes += chunk.length;
      callback();
    },
  });
  await pipeline([source, new Batcher(FRAME_BYTES, pool), ...stages, sink]);
  return { plainBytes, sourceSha: sourceHash.digest('hex'), plainSha: plainHash.digest('hex') };
}

/** Pushes the chunks one per timer tick: a steady source (mongodump, a download) slower than a burst. */
export function pacedSource(chunks: Iterator<Buffer>): Readable {
  return new Readable({
    read() {
      setTimeout(() => {
        const next = chunks.next();
        this.push(next.done ? null : next.value);
      }, 1);
    },
  });
}

/** `total` bytes (`textShare` of the chunks text, the rest noise) made as they are read, never all held at once. */
export function* lazyData(total: number, chunkBytes: number, seed: number, options: { textShare: number; hash?: Hash }): Generator<Buffer> {
  const random = seededRandom(seed);
  for (let made = 0; made < total; made += chunkBytes) {
    const size = Math.min(chunkBytes, total - made);
    const chunk = random() < options.textShare ? text(size, random) : noise(size, random);
    options.hash?.update(chunk);
    yield chunk;
  }
}

/** Takes `bytesPerMs` (a slow upload, a slow mongorestore): each write completes after its share of time. */
export function slowSink(bytesPerMs: number, onWrite: (chunk: Buffer) => void): Writable {
  return new Writable({
    highWaterMark: 64 * KiB,
    write(chunk: Buffer, _encoding, callback) {
      onWrite(chunk);
      setTimeout(callback, Math.ceil(chunk.length / bytesPerMs));
    },
  });
}

/**
 * Pipes `source` through `stage` into a slowSink of `sinkBytesPerMs`, handing each output chunk to
 * `onOutput`, and returns the most `stage` held in its stream buffers meanwhile (sampled every
 * millisecond and at each write; `sample` runs at the same moments, for a test that watches more).
 */
export async function peakBufferedBeforeSlowSink(
  source: Readable,
  stage: Transform,
  sinkBytesPerMs: number,
  onOutput: (chunk: Buffer) => void,
  sample: () => void = () => {},
): Promise<number> {
  let peak = 0;
  const measure = (): void => {
    peak = Math.max(peak, stage.readableLength + stage.writableLength);
    sample();
  };
  const ticker = setInterval(measure, 1);
  try {
    await pipeline(
      source,
      stage,
      slowSink(sinkBytesPerMs, (chunk) => {
        onOutput(chunk);
        measure();
      }),
    );
  } finally {
    clearInterval(ticker);
  }
  return peak;
}

/** Never ends: 256 KiB chunks, half text and half noise (seeded). */
export function endlessSource(seed: number): Readable {
  const random = seededRandom(seed);
  return new Readable({
    read() {
      this.push(random() < 0.5 ? text(256 * KiB, random) : noise(256 * KiB, random));
    },
  });
}

/** Takes chunks on the next tick, and aborts `controller` once more than `afterBytes` came in. */
function abortingSink(controller: AbortController, afterBytes: number): Writable {
  let received = 0;
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > afterBytes) controller.abort();
      setImmediate(callback);
    },
  });
}

/**
 * Pipes `source` through `stage` with an abort signal, and aborts once more than `afterBytes` came
 * out: the pipeline must reject with an AbortError and leave `stage` destroyed.
 */
export async function expectAbortedMidway(source: Readable, stage: Transform, afterBytes: number): Promise<void> {
  const controller = new AbortController();
  const error = await rejection(pipeline(source, stage, abortingSink(controller, afterBytes), { signal: controller.signal }));
  expect((error as Error).name).toBe('AbortError');
  expect(stage.destroyed).toBe(true);
}

/** 128 KiB chunks of noise (seeded), then, past `afterBytes`, fails with `message`: a disk that goes away. */
export function failingSource(afterBytes: number, message: string, seed: number): Readable {
  const random = seededRandom(seed);
  let sent = 0;
  return new Readable({
    read() {
      if (sent > afterBytes) {
        this.destroy(new Error(message));
        return;
      }
      sent += 128 * KiB;
      this.push(noise(128 * KiB, random));
    },
  });
}

/** Takes writes until more than `afterBytes` came in, then refuses with `message`: an upload that fails. */
export function failingSink(afterBytes: number, message: string): Writable {
  let written = 0;
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.length;
      callback(written > afterBytes ? new Error(message) : null);
    },
  });
}
