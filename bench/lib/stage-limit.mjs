// One stage alone, stdin → stage → discarded: the ceiling a pipeline built on that stage can reach.
//   node stage-limit.mjs zstd-compress LEVEL    (the configured compression, node:zlib as ours uses it)
//   node stage-limit.mjs zstd-decompress        (stdin: a zstd stream)
//   node stage-limit.mjs read                   (just reading the pipe)
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';

const [mode, level] = process.argv.slice(2);
const CHUNK = 256 * 1024;
const stages = [];
if (mode === 'zstd-compress') {
  stages.push(zlib.createZstdCompress({ chunkSize: CHUNK, params: { [zlib.constants.ZSTD_c_compressionLevel]: Number(level ?? 3), [zlib.constants.ZSTD_c_checksumFlag]: 1 } }));
} else if (mode === 'zstd-decompress') {
  stages.push(zlib.createZstdDecompress({ chunkSize: CHUNK }));
} else if (mode !== 'read') {
  throw new Error(`unknown mode ${mode}`);
}
let bytes = 0;
await pipeline(process.stdin, ...stages, new Writable({ highWaterMark: 1 << 20, write(chunk, _e, cb) { bytes += chunk.length; cb(); } }));
process.stderr.write(`${bytes}\n`);
