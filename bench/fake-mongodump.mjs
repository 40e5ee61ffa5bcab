#!/usr/bin/env node
// Stands in for mongodump in the benchmark: streams a valid archive of BENCH_ARCHIVE_BYTES (built
// from the real seed archive BENCH_SEED_ARCHIVE) to stdout, so the pipeline under test, not a
// database server, sets the pace. Ignores its arguments except --version.
import { writeSync } from 'node:fs';
import { ArchiveSource } from './lib/archive-source.mjs';

if (process.argv.includes('--version')) {
  console.log('mongodump version: bench');
  process.exit(0);
}
const size = Number(process.env.BENCH_ARCHIVE_BYTES);
const seed = process.env.BENCH_SEED_ARCHIVE;
if (!(size > 0) || !seed) {
  console.error('fake mongodump: set BENCH_ARCHIVE_BYTES and BENCH_SEED_ARCHIVE');
  process.exit(2);
}

const pause = new Int32Array(new SharedArrayBuffer(4));
/** Blocking writes to fd 1 (a pipe): back-pressure is the reader's pace, memory stays flat. */
function writeAll(buffer) {
  for (let at = 0; at < buffer.length; ) {
    try {
      at += writeSync(1, buffer, at, buffer.length - at);
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

try {
  for (const chunk of new ArchiveSource(seed).chunks(size)) writeAll(chunk);
} catch (error) {
  if (error.code === 'EPIPE') process.exit(1);
  throw error;
}
