#!/usr/bin/env node
// Stands in for mongorestore in the benchmark: reads the archive from stdin to the end and
// discards it, so the restore path measured is ours (load → SHA-256 → decrypt → decompress →
// inspect → pipe), not a database's insert speed. Ignores its arguments except --version.
import { readSync } from 'node:fs';

if (process.argv.includes('--version')) {
  console.log('mongorestore version: bench');
  process.exit(0);
}
const buffer = Buffer.allocUnsafe(1024 * 1024);
const pause = new Int32Array(new SharedArrayBuffer(4));
for (;;) {
  let n;
  try {
    n = readSync(0, buffer, 0, buffer.length, null);
  } catch (error) {
    if (error.code === 'EAGAIN') {
      Atomics.wait(pause, 0, 0, 1);
      continue;
    }
    if (error.code === 'EOF') break;
    throw error;
  }
  if (n === 0) break;
}
