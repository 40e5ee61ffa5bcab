// runToolPipeline (src/engine/tool-pipeline.ts) with stand-in tools: small shell scripts in the
// place of mongodump / mongorestore, so what the user is told when a tool or a stream fails can be
// checked without a server.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupError, ErrorCodes } from '../../src/errors.js';
import { runToolPipeline, type PipelineStream } from '../../src/engine/tool-pipeline.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tool-pipeline-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes a stand-in tool (a shell script; it ignores the --config argument it is given). */
async function fakeTool(name: string, script: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `#!/bin/sh\n${script}\n`);
  await chmod(file, 0o755);
  return file;
}

function collect(into: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      into.push(chunk);
      callback();
    },
  });
}

/** A stage that, like the archive inspector, rejects an archive that ends before `expected` bytes. */
function expectBytes(expected: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      callback(seen < expected ? new BackupError(ErrorCodes.ARCHIVE_CORRUPT, `archive truncated after ${seen} bytes`) : null);
    },
  });
}

/** Endless input for a tool's stdin, failing with `error` after `after` bytes when given. */
function input(after?: number, error?: Error): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (after !== undefined && sent >= after) {
        this.destroy(error);
        return;
      }
      sent += 65536;
      this.push(Buffer.alloc(65536, 0x61));
    },
  });
}

function run(binary: string, role: 'source' | 'sink', streams: () => PipelineStream[], signal = new AbortController().signal): Promise<void> {
  return runToolPipeline({
    tool: { tool: role === 'source' ? 'mongodump' : 'mongorestore', binary, uri: 'mongodb://127.0.0.1:1/', args: ['--archive'] },
    role,
    streams,
    signal,
    interrupted: 'run interrupted',
  });
}

describe('a tool in a stream pipeline', () => {
  it("source: the tool's stdout flows through every stream", async () => {
    const out: Buffer[] = [];
    await run(await fakeTool('dump-ok', "printf 'hello archive'"), 'source', () => [expectBytes(13), collect(out)]);
    expect(Buffer.concat(out).toString()).toBe('hello archive');
  });

  it('source: a tool failing on its own is the cause, not the truncated archive it left behind', async () => {
    const tool = await fakeTool('dump-fails', "printf 'part'; echo 'Failed: (Unauthorized) authentication failed' >&2; exit 1");
    await expect(run(tool, 'source', () => [expectBytes(1000), collect([])])).rejects.toMatchObject({
      code: ErrorCodes.MONGODUMP_FAILED,
      message: 'mongodump exited with code 1: Failed: (Unauthorized) authentication failed',
    });
  });

  it('source: a tool killed by a signal is named with the signal and its last lines, not as a damaged archive', async () => {
    const tool = await fakeTool('dump-killed', "printf 'part'; echo 'writing shop.orders to archive on stdout' >&2; kill -9 $$");
    await expect(run(tool, 'source', () => [expectBytes(1000), collect([])])).rejects.toMatchObject({
      code: ErrorCodes.MONGODUMP_FAILED,
      message: 'mongodump was killed by SIGKILL: writing shop.orders to archive on stdout',
    });
  });

  it('source: a tool that exits 0 after a cut-short archive is still the cause (exit 1), not stored damage (exit 3)', async () => {
    const tool = await fakeTool('dump-short', "printf 'part'; echo 'done dumping' >&2");
    const failure = run(tool, 'source', () => [expectBytes(1000), collect([])]);
    await expect(failure).rejects.toMatchObject({
      code: ErrorCodes.MONGODUMP_FAILED,
      message: 'mongodump exited normally, but its output is not a whole archive: archive truncated after 4 bytes; its last lines: done dumping',
    });
    await expect(failure).rejects.toHaveProperty('exitCode', 1);
  });

  it('source: a broken pipe reported after its own output ended is its own failure (a wrapper whose pipe a child cut)', async () => {
    const tool = await fakeTool('dump-wrapped', "printf 'part'; exec 1>&-; echo 'Failed: write /dev/stdout: broken pipe' >&2; exit 2");
    await expect(run(tool, 'source', () => [expectBytes(1000), collect([])])).rejects.toMatchObject({
      code: ErrorCodes.MONGODUMP_FAILED,
      message: 'mongodump exited with code 2: Failed: write /dev/stdout: broken pipe',
    });
  });

  it('sink: a tool failing on its own is the cause, not the broken pipe it leaves behind', async () => {
    const tool = await fakeTool('restore-fails', "head -c 10 >/dev/null; echo 'Failed: restore error: E11000 duplicate key' >&2; exit 1");
    await expect(run(tool, 'sink', () => [input()])).rejects.toMatchObject({
      code: ErrorCodes.MONGORESTORE_FAILED,
      message: 'mongorestore exited with code 1: Failed: restore error: E11000 duplicate key',
    });
  });

  it('sink: input that fails its integrity check is the cause, whatever the tool then says', async () => {
    // The tool outlives our SIGTERM and fails on its own over the cut input, as mongorestore can.
    const tool = await fakeTool('restore-eof', "trap '' TERM; cat >/dev/null; echo 'Failed: unexpected EOF' >&2; exit 1");
    const damaged = new BackupError(ErrorCodes.CHECKSUM_MISMATCH, 'SHA-256 of the stored object does not match the manifest');
    await expect(run(tool, 'sink', () => [input(256 * 1024, damaged)])).rejects.toBe(damaged);
  });

  it('an aborted run stops the tool and reports INTERRUPTED with the caller\'s message', async () => {
    const tool = await fakeTool('dump-hangs', 'exec sleep 30');
    const controller = new AbortController();
    const started = Date.now();
    const running = run(tool, 'source', () => [collect([])], controller.signal);
    setTimeout(() => controller.abort(new BackupError(ErrorCodes.INTERRUPTED, 'interrupted by SIGTERM')), 100);
    await expect(running).rejects.toMatchObject({ code: ErrorCodes.INTERRUPTED, message: 'run interrupted' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a missing tool is TOOL_NOT_FOUND, and the streams built for it are released', async () => {
    const stream = input();
    await expect(run(join(dir, 'no-such-mongorestore'), 'sink', () => [stream])).rejects.toMatchObject({ code: ErrorCodes.TOOL_NOT_FOUND });
    expect(stream.destroyed).toBe(true);
  });
});
