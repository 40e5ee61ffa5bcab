// Faults an operator meets at 3 AM, end to end against the real test bed (FerretDB + the real
// mongodump/mongorestore), asserting what the operator sees (docs/REFERENCE.md#failure-semantics):
// - an interrupted restore undoes itself: namespaces it created are dropped again, exit 130, and
//   what it could not undo (namespaces that existed) is named with its state, text and --json;
// - a mongodump that dies is named (exit 1, its signal or exit status, its last lines), not
//   reported as a damaged archive (exit 3);
// - a tool behind a wrapper script is stopped with everything it started, promptly;
// - a target that fails (a real full disk) names its own cause in the text, --json, the journal
//   and the alert.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { peerMissingReason, peerOrSkip, seedDatabase, testbed, type MongoPeer } from '../setup/testbed.js';
import {
  journal,
  localTargetConfig,
  makeSandbox,
  mongoConfig,
  pollUntil,
  runCli,
  seededDatabase,
  spawnCli,
  filesUnder,
  type CliResult,
  type RunningCli,
  type Sandbox,
} from './run-fixtures.js';
import { PrivateServers, ferretdbOrSkip } from './pitr-fixtures.js';
import { isAlive } from '../setup/process.js';

let mongo: MongoPeer;
let sandbox: Sandbox;

beforeAll(() => {
  if (peerMissingReason('mongo') !== undefined) return;
  mongo = testbed().mongo;
});

beforeEach(async ({ skip, onTestFinished }) => {
  peerOrSkip('mongo', { skip });
  sandbox = await makeSandbox('faults');
  await writeConfig();
  onTestFinished(() => sandbox.cleanup());
});

async function writeConfig(mongodb: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Promise<void> {
  await sandbox.writeConfig({ mongodb: { ...mongoConfig(mongo), ...mongodb }, stateDir: sandbox.stateDir, targets: [localTargetConfig(sandbox)], ...extra });
}

/** A Latin-letters-only database name that no test has used (FerretDB's rule). */
function freshName(label: string): string {
  return `${label}${Array.from(randomBytes(6), (b) => String.fromCharCode(97 + (b % 26))).join('')}`;
}

async function collectionsOf(dbName: string): Promise<Record<string, number>> {
  const client = new MongoClient(mongo.uri);
  try {
    const db = client.db(dbName);
    const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    const counts: Record<string, number> = {};
    for (const name of names.sort()) counts[name] = await db.collection(name).countDocuments();
    return counts;
  } finally {
    await client.close();
  }
}

async function backupOf(db: string, args: string[] = []): Promise<string> {
  const created = await runCli(sandbox, ['--json', 'create', '--db', db, ...args]);
  expect(created.code, created.stderr).toBe(0);
  return created.json.backup.id as string;
}

const CHECKPOINT_ENV = (name: string): NodeJS.ProcessEnv => ({
  // The explicit test-only switch: without it the CLI ignores checkpoints (src/engine/checkpoints.ts).
  MONGO_BACKUP_TEST_CHECKPOINTS: '1',
  MONGO_BACKUP_TEST_CHECKPOINT: name,
  MONGO_BACKUP_TEST_CHECKPOINT_FILE: sandbox.checkpointFile,
});

/** Waits until the run announced the checkpoint (the file names its PID); fails with its output if it ended first. */
async function reached(run: { exited(): boolean; result: Promise<CliResult> }, name: string): Promise<void> {
  await pollUntil(`the run to reach checkpoint ${name}`, async () => {
    if (run.exited()) {
      const r = await run.result;
      throw new Error(`the run ended (code ${r.code}) before checkpoint ${name}:\n${r.stderr}`);
    }
    return existsSync(sandbox.checkpointFile);
  });
}

/**
 * The CLI as a terminal runs it: the leader of its own process group, so Ctrl-C (SIGINT to the
 * whole foreground group) can be sent as the terminal sends it.
 */
function spawnInOwnGroup(args: string[], env: NodeJS.ProcessEnv): RunningCli {
  return spawnCli(sandbox, args, env, { ownGroup: true });
}

/**
 * SIGTERM to a run whose tool wrapper stalls with a child holding the pipe (the child's PID in
 * held.pid): the run exits 130 within seconds and the child is gone too.
 */
async function sigtermStopsPromptly(run: RunningCli): Promise<CliResult> {
  const held = await pidIn(join(sandbox.dir, 'held.pid'));
  const started = Date.now();
  process.kill(run.pid, 'SIGTERM');
  const result = await run.result;
  expect(result.code, result.stderr).toBe(130);
  expect(Date.now() - started).toBeLessThan(8_000);
  await pollUntil('the stalled child to be gone', () => !isAlive(held), 5_000);
  return result;
}


describe('an interrupted restore undoes itself', () => {
  let source: string;
  let backupId: string;

  beforeEach(async () => {
    source = await seededDatabase(mongo, 'fxsrc', { users: 300, orders: 120 });
    backupId = await backupOf(source);
  });

  it('SIGTERM once mongorestore has data: the new namespaces are dropped again, exit 130, the journal says INTERRUPTED', async () => {
    const target = freshName('fxsigt');
    const run = spawnCli(sandbox, ['restore', backupId, '--ns-from', `${source}.$c$`, '--ns-to', `${target}.$c$`], CHECKPOINT_ENV('restore-started'));
    await reached(run, 'restore-started');
    // mongorestore has the first bytes: it creates the collections before inserting into them.
    await pollUntil('mongorestore to create a destination collection', async () => Object.keys(await collectionsOf(target)).length > 0);
    process.kill(run.pid, 'SIGTERM');
    const result = await run.result;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toMatch(/restore interrupted; the destination is as it was: the namespaces it had created were dropped again/);
    expect(result.stderr).toContain(`${target}.users`);
    expect(result.stderr).toContain(`${target}.orders`);
    expect(await collectionsOf(target)).toEqual({});
    expect((await journal(sandbox)).at(-1)).toMatchObject({ command: 'restore', status: 'INTERRUPTED', error: { code: 'INTERRUPTED' } });
  });

  it('Ctrl-C to the process group after the data is in (during the count check): one outcome, exit 130 and dropped, never exit 0', async () => {
    const target = freshName('fxsigi');
    const run = spawnInOwnGroup(['restore', backupId, '--ns-from', `${source}.$c$`, '--ns-to', `${target}.$c$`], CHECKPOINT_ENV('before-count-check'));
    await reached(run, 'before-count-check');
    expect(await collectionsOf(target)).toEqual({ orders: 120, users: 300 });
    process.kill(-run.pid, 'SIGINT');
    const result = await run.result;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toContain('received SIGINT: stopping and cleaning up');
    expect(result.stderr).toMatch(/restore interrupted; the destination is as it was/);
    expect(result.stdout).not.toContain('restored from');
    expect(await collectionsOf(target)).toEqual({});
  });

  it('--force into an existing collection: the new one is dropped, the existing one is named with its state (text and --json)', async () => {
    const target = freshName('fxforce');
    // `users` exists at the destination with documents of its own (other ids); `orders` does not.
    await seedDatabase(mongo.uri, target, { users: Array.from({ length: 7 }, (_, i) => ({ _id: `mine-${i}` })) });
    const args = ['restore', backupId, '--force', '--ns-from', `${source}.$c$`, '--ns-to', `${target}.$c$`];

    const text = spawnCli(sandbox, args, CHECKPOINT_ENV('before-count-check'));
    await reached(text, 'before-count-check');
    process.kill(text.pid, 'SIGTERM');
    const shown = await text.result;
    expect(shown.code, shown.stderr).toBe(130);
    expect(shown.stderr).toContain(`dropped again (they did not exist before): ${target}.orders`);
    expect(shown.stderr).toContain(`restored completely: ${target}.users (307 documents)`);
    expect(shown.stderr).not.toContain('hint:'); // nothing is left half-done: nothing to repair
    expect(await collectionsOf(target)).toEqual({ users: 307 });

    // The same interrupted at the same place, with --json: every namespace with its state and counts.
    await rm(sandbox.checkpointFile, { force: true });
    await seedDatabase(mongo.uri, target, { extra: 1 }); // an unrelated collection, to see it is left alone
    const json = spawnCli(sandbox, ['--json', ...args, '--ns-exclude', `${source}.users`], CHECKPOINT_ENV('before-count-check'));
    await reached(json, 'before-count-check');
    process.kill(json.pid, 'SIGTERM');
    const body = await json.result;
    expect(body.code, body.stderr).toBe(130);
    expect(body.json).toMatchObject({ success: false, error: { code: 'INTERRUPTED', details: { namespaces: [{ namespace: `${target}.orders`, state: 'dropped' }] } } });
    expect(await collectionsOf(target)).toEqual({ extra: 1, users: 307 });
  });

  it('--drop over existing collections, stopped mid-way: --json names every namespace once, and its counts are what the destination holds', async () => {
    const target = freshName('fxdrop');
    await seedDatabase(mongo.uri, target, { users: Array.from({ length: 7 }, (_, i) => ({ _id: `mine-${i}` })) });
    const run = spawnCli(sandbox, ['--json', 'restore', backupId, '--drop', '--ns-from', `${source}.$c$`, '--ns-to', `${target}.$c$`], CHECKPOINT_ENV('restore-started'));
    await reached(run, 'restore-started');
    process.kill(run.pid, 'SIGTERM');
    const result = await run.result;
    expect(result.code, result.stderr).toBe(130);
    const outcomes = result.json.error.details.namespaces as Array<{ namespace: string; state: string; documents?: number; expected?: number; before?: number }>;
    expect(outcomes.map((o) => o.namespace).sort()).toEqual([`${target}.orders`, `${target}.users`]);
    expect(outcomes.find((o) => o.namespace === `${target}.orders`)).toEqual({ namespace: `${target}.orders`, state: 'dropped' });
    const users = outcomes.find((o) => o.namespace === `${target}.users`)!;
    const held = await collectionsOf(target);
    expect(users).toMatchObject({ documents: held.users, expected: 300, before: 7 });
    expect(users.state).toBe(held.users === 300 ? 'restored' : held.users === 7 ? 'unchanged' : 'partial');
    expect(result.json.error.message).toContain(`dropped again (they did not exist before): ${target}.orders`);
    expect(held.orders).toBeUndefined();
  });
});

describe('Ctrl-C in the middle of a real restore (no test checkpoint)', () => {
  it('SIGINT to the process group once documents arrive: exit 130, the new namespaces are gone', async () => {
    // About 20 MB in two collections, as in the report this reproduces: the restore takes long
    // enough to be caught with documents half-way in.
    const blobs = (first: number): Array<{ _id: number; payload: string }> =>
      Array.from({ length: 200 }, (_, i) => ({ _id: first + i, payload: randomBytes(36_000).toString('base64') }));
    const source = await seededDatabase(mongo, 'fxbig', { blobsa: blobs(0), blobsb: blobs(1000) });
    const backupId = await backupOf(source, ['--compression', 'none']);
    const target = freshName('fxsigint');
    const run = spawnInOwnGroup(['restore', backupId, '--ns-include', `${source}.*`, '--ns-from', `${source}.$c$`, '--ns-to', `${target}.$c$`], {});
    await pollUntil('the first restored documents at the destination', async () => {
      if (run.exited()) throw new Error(`the restore ended before it could be interrupted:\n${(await run.result).stderr}`);
      return Object.values(await collectionsOf(target)).some((count) => count > 0);
    });
    process.kill(-run.pid, 'SIGINT');
    const result = await run.result;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toMatch(/restore interrupted; the destination is as it was: the namespaces it had created were dropped again/);
    expect(await collectionsOf(target)).toEqual({});
  });
});

describe('an interrupted point-in-time restore undoes itself', () => {
  const servers = new PrivateServers();
  afterAll(() => servers.stopAll());

  it('SIGTERM once mongorestore replays: the new namespaces are dropped again, exit 130', async (ctx) => {
    ferretdbOrSkip(ctx);
    // A private replica set: its oplog holds only this test's writes, so the chain is small.
    const rs = await servers.replicaSet('faults-pitr');
    await writeConfig({ uri: rs.uri });
    await seedDatabase(rs.uri, 'fxpitr', { c: 50, d: 20 });
    const full = await runCli(sandbox, ['--json', 'create']);
    expect(full.code, full.stderr).toBe(0);
    await seedDatabase(rs.uri, 'fxpitr', { c: Array.from({ length: 10 }, (_, i) => ({ _id: 1000 + i })) });
    const incremental = await runCli(sandbox, ['--json', 'create', '--type', 'incremental']);
    expect(incremental.code, incremental.stderr).toBe(0);

    const run = spawnCli(sandbox, ['restore', '--to-time', 'latest', '--ns-from', 'fxpitr.$c$', '--ns-to', 'fxpitrto.$c$', '--uri', rs.uri], CHECKPOINT_ENV('restore-started'));
    await reached(run, 'restore-started');
    const client = new MongoClient(rs.uri);
    try {
      await pollUntil('mongorestore to create a destination collection', async () => (await client.db('fxpitrto').listCollections().toArray()).length > 0);
      process.kill(run.pid, 'SIGTERM');
      const result = await run.result;
      expect(result.code, result.stderr).toBe(130);
      expect(result.stderr).toMatch(/restore interrupted; the destination is as it was: the namespaces it had created were dropped again \((fxpitrto\.c, fxpitrto\.d|fxpitrto\.d, fxpitrto\.c)\)/);
      expect(await client.db('fxpitrto').listCollections().toArray()).toEqual([]);
    } finally {
      await client.close();
    }
  });
});

/** A `mongodump` wrapper script: `--version` goes to the real tool; otherwise `body` runs (REAL = the real tool). */
async function wrapper(name: string, body: string): Promise<string> {
  const file = join(sandbox.dir, name);
  const real = name.includes('restore') ? mongo.mongorestore : mongo.mongodump;
  await writeFile(file, `#!/bin/sh\nREAL='${real}'\nDIR='${sandbox.dir}'\ncase "$1" in --version) exec "$REAL" --version;; esac\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

/** Bytes a process has read so far, its server connection included (Linux /proc/PID/io; 0 when it cannot be read). */
async function bytesRead(pid: number): Promise<number> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8').catch(() => '');
  return Number(/^rchar: (\d+)$/m.exec(io)?.[1] ?? 0);
}

async function pidIn(file: string): Promise<number> {
  await pollUntil(`${file} to name a process`, async () => existsSync(file) && (await readFile(file, 'utf8')).trim() !== '');
  return Number((await readFile(file, 'utf8')).trim());
}

describe('a mongodump that dies is named, not taken for a damaged archive', () => {
  let db: string;

  beforeAll(async () => {
    if (peerMissingReason('mongo') !== undefined) return;
    // About 6 MB of archive: far more than the pipe and the held stage buffer, so mongodump is
    // still writing (blocked on the pipe) when it is killed.
    db = await seededDatabase(mongo, 'fxdump', { blobs: Array.from({ length: 600 }, (_, i) => ({ _id: i, payload: randomBytes(7500).toString('base64') })) });
  });

  it('SIGKILL mid-stream while the run is reading its output: exit 1, MONGODUMP_FAILED naming the signal and its last line, nothing stored', async () => {
    // The process dies after 300 kB: its end of the pipe closes the moment it dies, as a real
    // mongodump's does under kill -9 (the run sees the archive end and the death at once).
    const dump = await wrapper('mongodump', `"$REAL" "$@" | head -c 300000\necho 'writing fxdump.blobs to archive on stdout' >&2\nkill -9 $$`);
    await writeConfig({ mongodump: dump });
    const result = await runCli(sandbox, ['--json', 'create', '--db', db]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.json.error).toMatchObject({ code: 'MONGODUMP_FAILED', message: expect.stringMatching(/^mongodump was killed by SIGKILL: /) });
    expect(result.json.error.details.log).toContain('writing fxdump.blobs to archive on stdout');
    expect(await filesUnder(sandbox.localDir)).toEqual([]);
  });

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`${signal} to mongodump held mid-stream: exit 1, MONGODUMP_FAILED naming the signal, nothing stored`, async () => {
      const dump = await wrapper('mongodump', `echo $$ > "$DIR/dump.pid"\nexec "$REAL" "$@"`);
      await writeConfig({ mongodump: dump });
      const run = spawnCli(sandbox, ['--json', 'create', '--db', db], CHECKPOINT_ENV('dump-started'));
      await reached(run, 'dump-started');
      const pid = await pidIn(join(sandbox.dir, 'dump.pid'));
      // The run holds the archive's first bytes: mongodump, having read the documents from the
      // server, blocks mid-stream on the full pipe. Its own count of bytes read says it is there
      // (its blocked write is not counted until it returns).
      await pollUntil('mongodump to have read 1 MB from the server', async () => (await bytesRead(pid)) >= 1_000_000);
      process.kill(pid, signal);
      // SIGKILL ends it at once; a SIGTERM it catches takes effect when its blocked write returns.
      if (signal === 'SIGKILL') await pollUntil('mongodump to end', () => !isAlive(pid));
      await rm(sandbox.checkpointFile); // let the run go on: it reads what mongodump wrote
      const result = await run.result;
      expect(result.code, result.stderr).toBe(1);
      const error = result.json.error;
      expect(error.code).toBe('MONGODUMP_FAILED');
      // mongodump catches SIGTERM once it runs (it logs it and exits 1); either way the signal is named.
      expect(error.message).toMatch(signal === 'SIGKILL' ? /^mongodump was killed by SIGKILL/ : /^mongodump (was killed by SIGTERM|exited with code \d+ after receiving a signal that mongo-backup did not send)/);
      expect(error.message).not.toMatch(/^truncated|^the archive/);
      expect(await filesUnder(sandbox.localDir)).toEqual([]);
      expect((await journal(sandbox)).at(-1)).toMatchObject({ status: 'FAILED', error: { code: 'MONGODUMP_FAILED' } });
    });
  }

  it('killed before writing anything: exit 1 naming mongodump, its signal and its last line', async () => {
    const dump = await wrapper('mongodump', `echo 'connecting to the server' >&2\nkill -9 $$`);
    await writeConfig({ mongodump: dump });
    const result = await runCli(sandbox, ['create', '--db', db]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/error: mongodump was killed by SIGKILL: connecting to the server/);
    expect(result.stderr).not.toMatch(/error: the archive is empty/);
  });
});

describe('a tool behind a wrapper script is stopped with everything it started', () => {
  let db: string;

  beforeAll(async () => {
    if (peerMissingReason('mongo') !== undefined) return;
    db = await seededDatabase(mongo, 'fxwrap');
  });

  it('SIGTERM of create while the wrapper waits on a stalled child holding the dump pipe: exit 130 within seconds, the child is gone', async () => {
    const dump = await wrapper('mongodump', `sleep 300 &\necho $! > "$DIR/held.pid"\nwait`);
    await writeConfig({ mongodump: dump });
    await sigtermStopsPromptly(spawnCli(sandbox, ['create', '--db', db]));
  });

  it('a wrapper that fails and leaves a child holding the pipe: exit 1 at once naming mongodump and its message, the child is gone', async () => {
    const dump = await wrapper('mongodump', `sleep 300 &\necho $! > "$DIR/held.pid"\necho 'Failed: wrapper could not reach the bastion host' >&2\nexit 4`);
    await writeConfig({ mongodump: dump });
    const started = Date.now();
    const result = await runCli(sandbox, ['create', '--db', db]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('mongodump exited with code 4: Failed: wrapper could not reach the bastion host');
    expect(Date.now() - started).toBeLessThan(20_000);
    const held = await pidIn(join(sandbox.dir, 'held.pid'));
    await pollUntil('the left-over child to be gone', () => !isAlive(held), 5_000);
  });

  it('SIGTERM of restore while a mongorestore wrapper stalls: exit 130 within seconds, nothing left at the destination', async () => {
    const backupId = await backupOf(db);
    const restore = await wrapper('mongorestore', `sleep 300 &\necho $! > "$DIR/held.pid"\nwait`);
    await writeConfig({ mongorestore: restore });
    const target = freshName('fxwrapto');
    const result = await sigtermStopsPromptly(spawnCli(sandbox, ['restore', backupId, '--ns-from', `${db}.$c$`, '--ns-to', `${target}.$c$`]));
    expect(result.stderr).toContain('restore interrupted; the destination is as it was');
    expect(await collectionsOf(target)).toEqual({});
  });
});

describe('a full disk names its cause everywhere', () => {
  it('create to a local target on a 2 MiB file system: ENOSPC in the text, --json, -v, the journal and the alert', async ({ skip }) => {
    const mountPoint = sandbox.localDir;
    await mkdir(mountPoint, { recursive: true });
    const mounted = await new Promise<string | undefined>((done) => {
      const mount = spawn('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      mount.stderr!.on('data', (b: Buffer) => (err += b.toString()));
      mount.once('error', (e) => done(e.message));
      mount.once('close', (code) => done(code === 0 ? undefined : err.trim() || `mount exited with ${code}`));
    });
    if (mounted !== undefined) skip(`a real full disk needs a small tmpfs, and mounting one failed (needs root): ${mounted}`);
    try {
      const db = await seededDatabase(mongo, 'fxfull', { blobs: Array.from({ length: 120 }, (_, i) => ({ _id: i, payload: randomBytes(30_000).toString('base64') })) });
      const alertLog = join(sandbox.dir, 'alert.txt');
      const notify = join(sandbox.dir, 'notify');
      await writeFile(notify, `#!/bin/sh\nprintf '%s\\n' "$MONGO_BACKUP_ALERT_MESSAGE" >> '${alertLog}'\n`);
      await chmod(notify, 0o755);
      await writeConfig({}, { alerts: { command: notify } });

      const text = await runCli(sandbox, ['-v', 'create', '--db', db, '--compression', 'none']);
      expect(text.code, text.stderr).toBe(1);
      expect(text.stderr).toMatch(/error: the target failed; stopping the dump: local: could not .*ENOSPC: no space left on device/);
      expect(text.stderr).toMatch(/hint: the disk is full/);

      const json = await runCli(sandbox, ['--json', 'create', '--db', db, '--compression', 'none']);
      expect(json.code, json.stderr).toBe(1);
      expect(json.json.error).toMatchObject({ code: 'TARGET_FAILED', message: expect.stringMatching(/local: .*ENOSPC/) });
      expect(json.json.error.details.outcomes).toEqual([{ name: 'local', ok: false, error: { code: 'TARGET_FAILED', message: expect.stringMatching(/ENOSPC/) } }]);

      const runs = await journal(sandbox);
      expect(runs).toHaveLength(2);
      for (const run of runs) {
        expect(run.error?.message).toMatch(/ENOSPC/);
        expect(run.targets?.local).toMatchObject({ status: 'failed', error: expect.stringMatching(/ENOSPC/) });
      }
      expect(await readFile(alertLog, 'utf8')).toMatch(/ENOSPC: no space left on device/);
      // Nothing half-written stays on the full disk.
      expect((await filesUnder(mountPoint)).filter((f) => !f.endsWith('/'))).toEqual([]);
    } finally {
      await new Promise((done) => spawn('umount', [mountPoint]).once('close', done));
    }
  });
});
