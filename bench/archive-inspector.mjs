#!/usr/bin/env node
// Micro-benchmark of the mongodump archive inspector and its CRC-64, on synthetic archives.
//
//   node bench/archive-inspector.mjs [--mb 256] [--chunk 65536] [--json]
//
// Runs the TypeScript sources directly (Node ≥ 22.18 strips types; a resolve hook maps the
// sources' ".js" import specifiers to their ".ts" files), so no build is needed.
import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.includes('/src/')) {
      const tsUrl = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
      if (!existsSync(new URL(specifier, context.parentURL)) && existsSync(fileURLToPath(tsUrl))) {
        return nextResolve(tsUrl.href, context);
      }
    }
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.includes('/test/')) {
      const tsUrl = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
      if (existsSync(fileURLToPath(tsUrl))) return nextResolve(tsUrl.href, context);
    }
    return nextResolve(specifier, context);
  },
});

const { values: args } = parseArgs({
  options: {
    mb: { type: 'string', default: '256' },
    chunk: { type: 'string', default: '65536' },
    json: { type: 'boolean', default: false },
  },
});
const targetBytes = Number(args.mb) * 1024 * 1024;
const chunkSize = Number(args.chunk);

const { Crc64 } = await import('../src/archive/crc64.ts');
const { ArchiveInspector, inspectArchive } = await import('../src/archive/inspector.ts');
const { buildArchiveParts, makeDocuments, splitIntoChunks } = await import('../test/unit/archive-fixtures.ts');

const results = [];
/** Reports wall-clock throughput and throughput per CPU-second (fairer on a busy machine). */
function report(name, bytes, timing) {
  const wall = bytes / timing.wallSeconds / 1e6;
  const cpu = bytes / timing.cpuSeconds / 1e6;
  results.push({ name, wallMBps: Math.round(wall), cpuMBps: Math.round(cpu) });
  if (!args.json) console.log(`${name.padEnd(58)} ${wall.toFixed(0).padStart(6)} MB/s wall ${cpu.toFixed(0).padStart(6)} MB/s per CPU-second`);
}

/** Best of `rounds` runs of fn(): wall-clock seconds and process CPU seconds (user + system). */
async function best(rounds, fn) {
  let wallSeconds = Infinity;
  let cpuSeconds = Infinity;
  for (let round = 0; round < rounds; round++) {
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    await fn();
    wallSeconds = Math.min(wallSeconds, Number(process.hrtime.bigint() - start) / 1e9);
    const cpu = process.cpuUsage(cpuStart);
    cpuSeconds = Math.min(cpuSeconds, (cpu.user + cpu.system) / 1e6);
  }
  return { wallSeconds, cpuSeconds };
}

/** An archive of about targetBytes: 3 collections + oplog, documents of about docSize bytes, interleaved. */
function syntheticArchive(docSize) {
  const pool = makeDocuments(512, { size: docSize, seed: docSize });
  const poolBytes = pool.reduce((sum, doc) => sum + doc.length, 0);
  const perNamespace = Math.ceil(targetBytes / poolBytes / 4) * pool.length;
  const docsFor = (offset) => Array.from({ length: perNamespace }, (_, i) => pool[(i + offset) % pool.length]);
  const parts = buildArchiveParts(
    [
      { db: 'app', collection: 'users', docs: docsFor(0) },
      { db: 'app', collection: 'events', docs: docsFor(1) },
      { db: 'app', collection: 'empty', docs: [] },
      { db: 'shop', collection: 'orders', docs: docsFor(2) },
      { db: '', collection: 'oplog', docs: docsFor(3) },
    ],
    { blockDocuments: Math.max(1, Math.floor((16 * 1024 * 1024) / docSize)) },
  );
  return Buffer.concat(parts);
}

// CRC-64 alone.
{
  const data = Buffer.alloc(targetBytes);
  for (let i = 0; i + 4 <= data.length; i += 4) data.writeUInt32LE(Math.imul(i, 2654435761) >>> 0, i);
  const chunks = splitIntoChunks(data, chunkSize);
  const timing = await best(5, () => {
    const crc = new Crc64();
    for (const chunk of chunks) crc.update(chunk);
    return crc.digest();
  });
  report(`crc64 (${chunkSize}-byte chunks)`, data.length, timing);
}

for (const docSize of [100, 1024, 16 * 1024]) {
  const archive = syntheticArchive(docSize);
  const chunks = splitIntoChunks(archive, chunkSize);
  const label = `${docSize}-byte docs, ${(archive.length / 1e6).toFixed(0)} MB`;

  const parserTiming = await best(5, () => inspectArchive(chunks));
  report(`inspectArchive, ${label}`, archive.length, parserTiming);

  const noCrcTiming = await best(5, () => inspectArchive(chunks, { verifyCrc: false }));
  report(`inspectArchive verifyCrc:false, ${label}`, archive.length, noCrcTiming);

  const transformTiming = await best(5, () =>
    pipeline(
      Readable.from(chunks),
      new ArchiveInspector(),
      new Writable({
        write(_chunk, _encoding, callback) {
          callback();
        },
      }),
    ),
  );
  report(`ArchiveInspector in a pipeline, ${label}`, archive.length, transformTiming);
}

if (args.json) console.log(JSON.stringify({ node: process.version, chunkSize, results }, null, 2));
