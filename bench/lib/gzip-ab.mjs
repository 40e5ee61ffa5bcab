// In-process A/B of gzip compression on the same bytes: the single createGzip stream `create` used
// before gzip members, against ParallelGzipCompress as `create` builds it now (Batcher of
// FRAME_BYTES from a BufferPool). Needs the compiled dist/ (npm run build) and the seed archive.
//   node bench/lib/gzip-ab.mjs [MB=300] [rounds=3] [stage|pipeline]
// stage:    64 KiB reads → Batcher → gzip → discarded
// pipeline: 64 KiB reads → Batcher → inspector → SHA-256 → gzip → AES-256-GCM → SHA-256 → discarded
// Rounds alternate which side goes first; MB/s are of plain bytes (10^6), CPU is the whole process.
// Then both outputs are decompressed by restore's decoder (createDecompressor('gzip')), alternating,
// to show that members cost restore nothing.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { ArchiveSource } from './archive-source.mjs';
import { benchOut } from './paths.mjs';
import { ArchiveInspector } from '../../dist/archive/inspector.js';
import { createEncryptStream } from '../../dist/crypto/index.js';
import { createCompressor, createDecompressor } from '../../dist/engine/compression.js';
import { HashingStream } from '../../dist/engine/hash.js';
import { FRAME_BYTES } from '../../dist/engine/parallel-frames.js';
import { Batcher, BufferPool } from '../../dist/streams.js';

const megabytes = Number(process.argv[2] ?? 300);
const rounds = Number(process.argv[3] ?? 3);
const mode = process.argv[4] ?? 'stage';
const seedPath = process.env.BENCH_SEED_ARCHIVE ?? join(benchOut, 'seed-v1.archive');
if (!existsSync(seedPath)) throw new Error(`no seed archive at ${seedPath} (node bench/run.mjs makes it)`);
const source = new ArchiveSource(seedPath);
const READ = 64 * 1024;
const LEVEL = 6;
const key = randomBytes(32);

/** The archive in 64 KiB views, as mongodump's pipe delivers it. */
function* reads() {
  for (const chunk of source.chunks(megabytes * 1e6)) {
    for (let at = 0; at < chunk.length; at += READ) yield chunk.subarray(at, at + READ);
  }
}

const sides = {
  old: () => ({ batcher: new Batcher(256 * 1024), compressor: zlib.createGzip({ chunkSize: 256 * 1024, level: LEVEL }) }),
  new: () => {
    const pool = new BufferPool(FRAME_BYTES);
    return { batcher: new Batcher(FRAME_BYTES, pool), compressor: createCompressor('gzip', LEVEL, pool) };
  },
};

async function measure(side) {
  const { batcher, compressor } = sides[side]();
  const stages = mode === 'pipeline' ? [batcher, new ArchiveInspector(), new HashingStream(), compressor, createEncryptStream({ key }), new HashingStream()] : [batcher, compressor];
  let plain = 0;
  let out = 0;
  const kept = [];
  const input = Readable.from(reads());
  input.on('data', (chunk) => (plain += chunk.length));
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await pipeline(input, ...stages, new Writable({ highWaterMark: 1 << 20, write(chunk, _e, cb) { out += chunk.length; if (mode === 'stage') kept.push(chunk); cb(); } }));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  stored[side] = kept;
  return { side, seconds, mbps: plain / 1e6 / seconds, plain, out, cpu: (used.user + used.system) / 1e6, load: loadavg()[0] };
}

const results = { old: [], new: [] };
/** The last compressed output of each side (stage mode), for the decompression check. */
const stored = {};
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ['old', 'new'] : ['new', 'old'];
  for (const side of order) {
    const r = await measure(side);
    results[side].push(r);
    console.log(`${mode} round ${round + 1} ${side.padEnd(3)}: ${r.mbps.toFixed(1)} MB/s, ${r.seconds.toFixed(2)} s, out ${r.out} B (${(r.plain / r.out).toFixed(3)}:1), CPU ${r.cpu.toFixed(2)} s, load ${r.load.toFixed(2)}`);
  }
}
for (const side of ['old', 'new']) {
  const speeds = results[side].map((r) => r.mbps);
  console.log(`${side}: best ${Math.max(...speeds).toFixed(1)} MB/s, worst ${Math.min(...speeds).toFixed(1)}, out ${results[side][0].out} B`);
}
console.log(`stored new / old: ${(results.new[0].out / results.old[0].out).toFixed(4)}`);

if (mode === 'stage') {
  const decoded = { old: [], new: [] };
  for (let round = 0; round < rounds; round++) {
    for (const side of round % 2 === 0 ? ['old', 'new'] : ['new', 'old']) {
      let plain = 0;
      const start = process.hrtime.bigint();
      await pipeline(Readable.from(stored[side]), createDecompressor('gzip'), new Writable({ highWaterMark: 1 << 20, write(chunk, _e, cb) { plain += chunk.length; cb(); } }));
      const mbps = plain / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9);
      decoded[side].push(mbps);
      console.log(`decompress round ${round + 1} ${side.padEnd(3)} output: ${mbps.toFixed(1)} MB/s (${plain} B)`);
    }
  }
  for (const side of ['old', 'new']) console.log(`decompress ${side}: best ${Math.max(...decoded[side]).toFixed(1)} MB/s, worst ${Math.min(...decoded[side]).toFixed(1)}`);
}
