// Targets that fail during a fan-out: one that goes away in the middle of an upload (with and
// without --require-all-targets), one that is down only for a moment (the retry reaches it once it
// is back), one that is down from the start; and, at the Target level, what a target that dies
// while its body is still flowing reports.
//
// To stop a peer "while its upload is under way" without racing the clock, mongodump's output
// passes through a gate (a wrapper around the real mongodump): the first GATE_BYTES flow, then
// the wrapper waits until the test opens the gate. Meanwhile the test waits until the private S3
// peer has received upload data, stops it, and opens the gate; the rest of the dump then flows to
// a target that is gone.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { chmod, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { BackupError } from '../../src/errors.js';
import { createTarget } from '../../src/targets/registry.js';
import {
  peerDataDir,
  peerOrSkip,
  removePeerDataDir,
  seedDatabase,
  startS3,
  testbed,
  type MongoPeer,
  type PeerHandle,
  type S3Peer,
} from '../setup/testbed.js';
import { freePort } from '../setup/process.js';
import { letters, localTarget, makeWorkspace, s3Target, sftpTarget, storedKeys, uniquePrefix, waitFor, type TargetConfig, type Workspace } from './target-configs.js';

const MIB = 1024 * 1024;
/** Bytes mongodump may emit before the gate: more than two 5 MiB S3 parts. */
const GATE_BYTES = 12 * MIB;

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function workspace(label: string, mongo: MongoPeer): Promise<Workspace> {
  const ws = await makeWorkspace(label, mongo);
  cleanups.push(() => ws.cleanup());
  return ws;
}

async function privateS3(): Promise<PeerHandle<S3Peer>> {
  const dataDir = await peerDataDir('s3');
  const handle = await startS3({ dataDir });
  cleanups.push(async () => {
    await handle.stop();
    await removePeerDataDir(dataDir);
  });
  return handle;
}

/** The same S3 peer again, on its port and data directory. */
async function restart(handle: PeerHandle<S3Peer>): Promise<PeerHandle<S3Peer>> {
  const again = await startS3({ dataDir: handle.dataDir, port: handle.port });
  cleanups.push(() => again.stop());
  return again;
}

interface Gate {
  /** The wrapper to configure as mongodump. */
  mongodump: string;
  /** Closes the gate for the next run. */
  reset(): Promise<void>;
  /** Resolves when the wrapper holds the dump at the gate. */
  reached(): Promise<void>;
  open(): Promise<void>;
}

async function gatedMongodump(dir: string, realMongodump: string): Promise<Gate> {
  const path = join(dir, 'mongodump-gated.mjs');
  const gateFile = join(dir, 'gate-open');
  const reachedFile = join(dir, 'gate-reached');
  await writeFile(
    path,
    `#!${process.execPath}
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
const child = spawn(${JSON.stringify(realMongodump)}, process.argv.slice(2), { stdio: ['ignore', 'pipe', 'inherit'] });
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => { child.kill(signal); process.exit(1); });
process.stdout.on('error', () => { child.kill(); process.exit(1); });
const exited = new Promise((done) => child.once('close', (code) => done(code ?? 1)));
let sent = 0;
for await (const chunk of child.stdout) {
  if (sent >= ${GATE_BYTES} && !existsSync(${JSON.stringify(gateFile)})) {
    writeFileSync(${JSON.stringify(reachedFile)}, String(sent));
    while (!existsSync(${JSON.stringify(gateFile)})) await new Promise((done) => setTimeout(done, 10));
  }
  if (!process.stdout.write(chunk)) await new Promise((done) => process.stdout.once('drain', done));
  sent += chunk.length;
}
process.exitCode = await exited;
`,
  );
  await chmod(path, 0o755);
  return {
    mongodump: path,
    reset: async () => {
      await rm(gateFile, { force: true });
      await rm(reachedFile, { force: true });
    },
    reached: () => waitFor('mongodump to reach the gate', () => existsSync(reachedFile), 60_000).then(() => undefined),
    open: () => writeFile(gateFile, ''),
  };
}

/** Bytes of all files under `dir` (the S3 peer's storage: upload parts land there). */
async function bytesUnder(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  let total = 0;
  for (const entry of entries) if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size;
  return total;
}

/** Ids of the backups `list` shows as COMPLETED on the given targets (all when none given). */
async function completedIds(ws: Workspace, targets: string[] = []): Promise<string[]> {
  const listed = await ws.run(['--json', 'list', ...targets.flatMap((t) => ['--target', t])]);
  expect(listed.code, listed.stderr).toBe(0);
  return (listed.json.backups as Array<{ id: string; status: string }>).filter((b) => b.status === 'COMPLETED').map((b) => b.id);
}

describe('fan-out: a target stops in the middle of an upload', () => {
  let setup: Promise<{ ws: Workspace; gate: Gate; s3: PeerHandle<S3Peer>; db: string; targets: TargetConfig[] }> | undefined;

  /** One private S3 peer, a shared SFTP peer, a local directory, ~20 MB to dump (seeded once). */
  function prepare(mongo: MongoPeer) {
    setup ??= (async () => {
      const bed = testbed();
      const db = `outage${letters(6)}`;
      const blobs = Array.from({ length: 300 }, (_, i) => ({ _id: i, payload: randomBytes(48 * 1024).toString('base64') }));
      const [s3, ws] = await Promise.all([privateS3(), workspace('outage', mongo), seedDatabase(mongo.uri, db, { blobs, people: 500 })]);
      const gate = await gatedMongodump(ws.dir, mongo.mongodump);
      const targets = [
        localTarget('local', join(ws.dir, 'local')),
        // 5 MiB parts, so an upload is well under way by the gate.
        s3Target('s3', s3.details, 'outage/', { partSize: 5 * MIB }),
        sftpTarget('sftp', bed.sftp, uniquePrefix('outage')),
      ];
      // One retry keeps the cleanup of the dead target short; the outcome does not depend on it.
      await ws.writeConfig({ mongodb: { uri: mongo.uri, mongodump: gate.mongodump, mongorestore: mongo.mongorestore }, retries: 1, targets });
      return { ws, gate, s3, db, targets };
    })();
    return setup;
  }

  /** Runs create with the S3 peer stopped once its upload has begun; returns the result and the restarted peer. */
  async function createWhileS3Dies(extraArgs: string[]) {
    const context = await setup!;
    const { ws, gate, db } = context;
    await gate.reset();
    const storage = join(context.s3.dataDir, 's3');
    const before = await bytesUnder(storage);
    const run = ws.run(['--json', 'create', '--db', db, '--compression', 'none', ...extraArgs]);
    await gate.reached();
    await waitFor('the S3 peer to receive upload data', async () => (await bytesUnder(storage)) > before, 30_000);
    await context.s3.stop();
    await gate.open();
    const result = await run;
    context.s3 = await restart(context.s3);
    return result;
  }

  it('the other targets complete; the run exits 1 naming the failed target; S3 holds nothing COMPLETED', async (ctx) => {
    const mongo = peerOrSkip('mongo', ctx);
    peerOrSkip('s3', ctx);
    peerOrSkip('sftp', ctx);
    const { ws } = await prepare(mongo);

    const result = await createWhileS3Dies([]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.json.success).toBe(false);
    const id: string = result.json.backup.id;
    expect(result.json.backup.targets).toEqual(['local', 'sftp']);
    const outcomes = Object.fromEntries((result.json.copies as Array<{ name: string; ok: boolean; error?: { code: string; message: string } }>).map((o) => [o.name, o]));
    expect(outcomes['local']).toMatchObject({ ok: true, verified: true });
    expect(outcomes['sftp']).toMatchObject({ ok: true, verified: true });
    expect(outcomes['s3']).toMatchObject({ ok: false, error: { message: expect.stringContaining('target s3') } });
    expect(result.stderr).toMatch(/target s3 failed/);
    // An http:// S3 endpoint is unencrypted, but it is not FTP.
    expect(result.stderr).not.toMatch(/plain FTP/);

    // The journal records a partial run with the per-target outcome.
    const journal = (await readFile(join(ws.stateDir, 'runs.jsonl'), 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line));
    expect(journal.at(-1)).toMatchObject({ command: 'create', status: 'PARTIAL', backupId: id, targets: { local: { status: 'ok' }, sftp: { status: 'ok' }, s3: { status: 'failed' } } });

    // With the S3 peer back up, listing every target: the backup is COMPLETED on local and sftp only.
    const listed = await ws.run(['--json', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.json.backups).toEqual([expect.objectContaining({ id, status: 'COMPLETED', targets: ['local', 'sftp'] })]);
    const verified = await ws.run(['--json', 'verify', id]);
    expect(verified.code, verified.stderr).toBe(0);
    expect((verified.json.result.copies as Array<{ target: string }>).map((c) => c.target).sort()).toEqual(['local', 'sftp']);
  });

  it('with --require-all-targets: exit 1 and no target lists the backup as COMPLETED', async (ctx) => {
    const mongo = peerOrSkip('mongo', ctx);
    peerOrSkip('s3', ctx);
    peerOrSkip('sftp', ctx);
    const { ws } = await prepare(mongo);
    const before = await completedIds(ws);

    const result = await createWhileS3Dies(['--require-all-targets']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.json).toMatchObject({ success: false, error: { code: 'TARGET_FAILED' } });
    expect(result.json.error.message).toMatch(/require-all-targets/);

    // Nothing new lists as COMPLETED anywhere (the S3 peer is back up, so all three are listed).
    expect(await completedIds(ws)).toEqual(before);
  });
});

describe('fan-out: a target that is down for a moment', () => {
  it('the retry reaches the restarted peer and the copy is complete', async (ctx) => {
    const mongo = peerOrSkip('mongo', ctx);
    peerOrSkip('s3', ctx);
    const s3 = await privateS3();
    const db = `blip${letters(6)}`;
    const counts = await seedDatabase(mongo.uri, db, { people: 1500 });
    const ws = await workspace('blip', mongo);
    const targets = [localTarget('local', join(ws.dir, 'local')), s3Target('s3', s3.details, 'blip/')];
    // Enough retries that the back-off (≈ 8 s in all) outlasts a peer restart (≈ 1 s).
    await ws.writeConfig({ retries: 6, targets });

    // Down: the port is held by a listener that resets every connection, so we see the attempts.
    await s3.stop();
    const refused: Socket[] = [];
    const resetter: Server = createServer((socket) => {
      refused.push(socket);
      socket.resetAndDestroy();
    });
    await new Promise<void>((done) => resetter.listen(s3.port, '127.0.0.1', done));
    const run = ws.run(['--json', 'create', '--db', db]);
    try {
      await waitFor('create to try the S3 peer', () => refused.length > 0, 60_000);
    } finally {
      await new Promise<void>((done) => resetter.close(() => done()));
    }
    await restart(s3);

    const result = await run;
    expect(refused.length).toBeGreaterThan(0);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json.backup.targets).toEqual(['local', 's3']);
    expect(result.json.backup.namespaces).toEqual(counts);
    expect(result.json.copies).toEqual([expect.objectContaining({ name: 'local', ok: true, verified: true }), expect.objectContaining({ name: 's3', ok: true, verified: true })]);
    expect(await completedIds(ws, ['s3'])).toEqual([result.json.backup.id]);
    const verified = await ws.run(['--json', 'verify', 'latest', '--target', 's3', '--deep']);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.json.result.valid).toBe(true);
  });
});

describe('fan-out: a target that is down from the start', () => {
  it('the others still get the backup (exit 1, reported); with --require-all-targets nothing is dumped', async (ctx) => {
    const mongo = peerOrSkip('mongo', ctx);
    const db = `downstart${letters(6)}`;
    const counts = await seedDatabase(mongo.uri, db, { people: 200 });
    const ws = await workspace('downstart', mongo);
    // Nothing listens on this port: every request is refused.
    const deadS3 = s3Target('s3', { ...testbed().s3, endpoint: `http://127.0.0.1:${await freePort()}`, bucket: 'nowhere' }, 'down/');
    const local = localTarget('local', join(ws.dir, 'local'));
    await ws.writeConfig({ retries: 0, targets: [local, deadS3] });

    const strict = await ws.run(['--json', 'create', '--db', db, '--require-all-targets']);
    expect(strict.code, strict.stderr).toBe(1);
    expect(strict.json).toMatchObject({ success: false, error: { code: 'TARGET_FAILED', message: expect.stringContaining('nothing was dumped') } });
    expect(strict.stderr).toMatch(/target s3 failed/);
    expect(await storedKeys(local, '')).toEqual([]);

    const lenient = await ws.run(['--json', 'create', '--db', db]);
    expect(lenient.code, lenient.stderr).toBe(1);
    expect(lenient.json.success).toBe(false);
    expect(lenient.json.backup).toMatchObject({ targets: ['local'], namespaces: counts });
    expect(lenient.json.copies).toEqual([
      expect.objectContaining({ name: 'local', ok: true, verified: true }),
      expect.objectContaining({ name: 's3', ok: false, error: expect.objectContaining({ code: 'TARGET_UNREACHABLE' }) }),
    ]);
    expect(await completedIds(ws, ['local'])).toEqual([lenient.json.backup.id]);
  });
});

describe('a target whose server dies while the data is still flowing', () => {
  // In a fan-out the body stays open as long as mongodump runs, so a target can give up while its
  // body still has data coming. Its error must then say why it gave up (the server went away), not
  // blame the data stream ("the upload was aborted"). Deterministic form of what the fan-out test
  // above sees when the dump outlasts the target's failure.
  it('S3: the save rejects as TARGET_UNREACHABLE, naming the connection failure', async (ctx) => {
    peerOrSkip('s3', ctx);
    const s3 = await privateS3();
    const target = createTarget(s3Target('s3', s3.details, 'midstream/', { partSize: 5 * MIB }));
    const body = new PassThrough();
    body.on('error', () => undefined); // what the target did to it is not this test's concern
    let failure: unknown;
    let settled = false;
    const saving = target.save('midstream/dump.archive', body).then(
      () => undefined,
      (error: unknown) => {
        failure = error;
      },
    ).finally(() => (settled = true));
    try {
      const chunk = randomBytes(MIB);
      const feed = async (until: () => boolean): Promise<void> => {
        // The target may destroy the body when it gives up; then there is nothing left to feed.
        while (!until() && !body.destroyed) {
          if (!body.write(chunk)) await Promise.race([once(body, 'drain').catch(() => undefined), saving]);
        }
      };
      let fed = 0;
      await feed(() => ++fed > 12);
      await waitFor('the S3 peer to receive upload data', async () => (await bytesUnder(join(s3.dataDir, 's3'))) > 0, 30_000);
      await s3.stop();
      // Keep the body open and fed, as a running dump would, until the target gives up.
      await feed(() => settled);
      await saving;
    } finally {
      body.destroy();
      await target.close();
    }
    expect(failure).toBeInstanceOf(BackupError);
    const error = failure as BackupError;
    expect(error.message).toMatch(/target s3/);
    expect({ code: error.code, message: error.message }).toEqual({ code: 'TARGET_UNREACHABLE', message: expect.stringMatching(/ECONNREFUSED|ECONNRESET|unreachable/) });
  });
});
