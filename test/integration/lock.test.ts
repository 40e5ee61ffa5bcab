// The run lock end to end (docs/REFERENCE.md#lock): one create/prune/delete per state directory. A second run
// exits 4 naming the holder; a lock left by a dead process on this host is taken over with a
// warning; a recent lock from another host is respected. The first run is held at the
// `dump-started` test checkpoint, so the overlap is certain rather than a matter of timing.
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { peerMissingReason, peerOrSkip, testbed, type MongoPeer } from '../setup/testbed.js';
import {
  completedIds,
  createHeldAt,
  DAY,
  filesUnder,
  journal,
  localTargetConfig,
  makeSandbox,
  mongoConfig,
  openTarget,
  plantCompleted,
  runCli,
  seededDatabase,
  type Sandbox,
} from './run-fixtures.js';

let sandbox: Sandbox;
let mongo: MongoPeer;
let db: string;

beforeAll(async () => {
  if (peerMissingReason('mongo') !== undefined) return;
  mongo = testbed().mongo;
  db = await seededDatabase(mongo, 'lock');
});

beforeEach(async ({ skip, onTestFinished }) => {
  peerOrSkip('mongo', { skip });
  sandbox = await makeSandbox('lock');
  await sandbox.writeConfig({ mongodb: mongoConfig(mongo), stateDir: sandbox.stateDir, targets: [localTargetConfig(sandbox)] });
  onTestFinished(() => sandbox.cleanup());
});

const lockFile = (): string => join(sandbox.stateDir, 'lock');

/** A PID that belonged to a process which has exited (and is not reused this quickly). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

async function writeLock(holder: { pid: number; host: string; command: string; since: Date }): Promise<string> {
  await mkdir(sandbox.stateDir, { recursive: true });
  const raw = `${JSON.stringify({ ...holder, since: holder.since.toISOString(), nonce: randomBytes(8).toString('hex') })}\n`;
  await writeFile(lockFile(), raw, { mode: 0o600 });
  return raw;
}

describe('the run lock', () => {
  it('lets exactly one of two concurrent creates run; the other exits 4 naming the holder', async () => {
    const older = await plantCompleted(openTarget(localTargetConfig(sandbox)), new Date(Date.now() - 2 * DAY));
    const first = await createHeldAt(sandbox, 'dump-started', ['--db', db, '--description', 'first']);

    const second = await runCli(sandbox, ['create', '--db', db, '--description', 'second']);
    expect(second.code, second.stderr).toBe(4);
    expect(second.stderr).toContain(`PID ${first.pid} on host ${hostname()}`);
    expect(second.stderr).toContain(`"mongo-backup --config ${sandbox.configFile} create --db ${db} --description first"`);
    const secondJson = await runCli(sandbox, ['--json', 'create', '--db', db]);
    expect(secondJson.code, secondJson.stderr).toBe(4);
    expect(secondJson.json).toMatchObject({ success: false, error: { code: 'LOCKED' } });
    expect(secondJson.json.error.message).toContain(`PID ${first.pid}`);

    // prune and delete take the same lock; a dry run only reads and is not blocked.
    expect((await runCli(sandbox, ['prune', '--keep-last', '1'])).code).toBe(4);
    expect((await runCli(sandbox, ['delete', older, '--yes'])).code).toBe(4);
    expect((await runCli(sandbox, ['prune', '--dry-run'])).code).toBe(0);

    // Let the held run go on (removing the checkpoint file resumes it): it completes.
    await rm(sandbox.checkpointFile);
    const firstResult = await first.result;
    expect(firstResult.stderr).not.toContain('took over');
    expect(firstResult.code, firstResult.stderr).toBe(0);

    const ids = await completedIds(sandbox);
    expect(ids).toHaveLength(2);
    expect(ids[1]).toBe(older);
    const runs = await journal(sandbox);
    // The losers attempted nothing, so they are not runs; the dry run is not recorded either.
    expect(runs.map((r) => [r.command, r.status])).toEqual([['create', 'SUCCESS']]);
    expect(runs[0]!.backupId).toBe(ids[0]);
    expect(existsSync(lockFile())).toBe(false);
  });

  it('takes over a lock left by a dead process on this host, with a warning', async () => {
    const pid = deadPid();
    await writeLock({ pid, host: hostname(), command: 'mongo-backup create --description crashed', since: new Date() });

    const created = await runCli(sandbox, ['create', '--db', db]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toContain(`took over a stale lock held by PID ${pid} on ${hostname()} (mongo-backup create --description crashed`);
    expect(created.stderr).toContain(`process ${pid} on this host no longer exists`);
    expect(await completedIds(sandbox)).toHaveLength(1);
    expect(existsSync(lockFile())).toBe(false);

    // prune, too.
    const pid2 = deadPid();
    await writeLock({ pid: pid2, host: hostname(), command: 'mongo-backup prune', since: new Date() });
    const pruned = await runCli(sandbox, ['prune', '--keep-last', '5']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stderr).toContain(`took over a stale lock held by PID ${pid2}`);
    expect(existsSync(lockFile())).toBe(false);
  });

  it('respects a recent lock from another host (exit 4, nothing dumped) and takes over one older than a day', async () => {
    const raw = await writeLock({ pid: process.pid, host: 'backup-host-b', command: 'mongo-backup create --type full', since: new Date() });

    const refused = await runCli(sandbox, ['create', '--db', db]);
    expect(refused.code, refused.stderr).toBe(4);
    expect(refused.stderr).toContain(`"mongo-backup create --type full" (PID ${process.pid} on host backup-host-b)`);
    expect(refused.stderr).toContain('backup-host-b is gone');
    expect(await filesUnder(sandbox.localDir)).toEqual([]);
    expect(await readFile(lockFile(), 'utf8')).toBe(raw);
    expect(await journal(sandbox)).toEqual([]);

    await writeLock({ pid: process.pid, host: 'backup-host-b', command: 'mongo-backup create --type full', since: new Date(Date.now() - 2 * DAY) });
    const created = await runCli(sandbox, ['create', '--db', db]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toMatch(/took over a stale lock held by PID \d+ on backup-host-b .*older than the 1d limit/);
    expect(await completedIds(sandbox)).toHaveLength(1);
  });
});
