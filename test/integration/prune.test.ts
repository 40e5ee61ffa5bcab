// Retention end to end on real targets (local, S3, SFTP): real backups made by `create` next to
// backups planted through the Target API at chosen times — ids and manifest startTime months or
// years back — so policies over months can be checked. The expected survivors are worked out by
// hand in each test from the rules in src/retention/policy.ts (restic's `forget` semantics).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { peerMissingReason, peerOrSkip, testbed, type MongoPeer } from '../setup/testbed.js';
import type { Target, TargetConfigBase } from '../../src/targets/types.js';
import {
  DAY,
  foldersOn,
  HOUR,
  journal,
  keysOn,
  localTargetConfig,
  makeSandbox,
  mongoConfig,
  openTarget,
  plantCompleted,
  plantIncomplete,
  runCli,
  s3TargetConfig,
  seededDatabase,
  sftpTargetConfig,
  uniquePrefix,
  type Sandbox,
} from './run-fixtures.js';

let mongo: MongoPeer;
let db: string;
let sandbox: Sandbox;
/** The targets of this test: local always, S3 and SFTP when their peers are up. */
let targetConfigs: TargetConfigBase[];
let targets: Target[];

beforeAll(async () => {
  if (peerMissingReason('mongo') !== undefined) return;
  mongo = testbed().mongo;
  db = await seededDatabase(mongo, 'prune');
});

beforeEach(async ({ skip, onTestFinished }) => {
  peerOrSkip('mongo', { skip });
  sandbox = await makeSandbox('prune');
  targetConfigs = [localTargetConfig(sandbox)];
  // The S3 and SFTP targets run where their peers are; locally a missing peer only narrows the test
  // (in CI every peer is required, so there it fails instead).
  for (const [peer, config] of [
    ['s3', () => s3TargetConfig('offsite', uniquePrefix('prune'))],
    ['sftp', () => sftpTargetConfig('remote', uniquePrefix('prune'))],
  ] as const) {
    const missing = peerMissingReason(peer);
    if (missing === undefined) targetConfigs.push(config());
    else if (process.env['CI'] === 'true') throw new Error(`test peer "${peer}" is not available: ${missing}`);
  }
  targets = targetConfigs.map(openTarget);
  onTestFinished(async () => {
    await Promise.all(targets.map((t) => t.close()));
    await sandbox.cleanup();
  });
});

async function writeConfig(options: { retention?: Record<string, unknown>; autoPrune?: boolean } = {}): Promise<void> {
  await sandbox.writeConfig({
    mongodb: mongoConfig(mongo),
    stateDir: sandbox.stateDir,
    ...(options.autoPrune !== undefined ? { autoPrune: options.autoPrune } : {}),
    targets: targetConfigs.map((t) => (options.retention ? { ...t, retention: options.retention } : t)),
  });
}

/** A real backup on every target; returns its id. */
async function create(...args: string[]): Promise<{ id: string; stderr: string }> {
  const result = await runCli(sandbox, ['--json', 'create', '--db', db, ...args]);
  expect(result.code, result.stderr).toBe(0);
  expect(result.json.backup.targets).toEqual(targetConfigs.map((t) => t.name));
  return { id: result.json.backup.id, stderr: result.stderr };
}

/** Plants, on every target, completed backups at the given times (and incomplete ones); ids per target. */
async function plant(times: Record<string, Date>, incomplete: Record<string, Date> = {}): Promise<Array<Record<string, string>>> {
  return Promise.all(
    targets.map(async (target) => {
      const completed = Object.entries(times).map(async ([label, time]) => [label, await plantCompleted(target, time)] as const);
      const partial = Object.entries(incomplete).map(async ([label, time]) => [label, await plantIncomplete(target, time)] as const);
      return Object.fromEntries(await Promise.all([...completed, ...partial]));
    }),
  );
}

/** Backup folders on a target: id -> status. */
async function folders(target: Target): Promise<Record<string, string>> {
  return Object.fromEntries([...(await foldersOn(target))].map(([id, f]) => [id, f.status]));
}

interface Decision {
  id: string;
  status: string;
  action: 'keep' | 'delete';
  reasons: string[];
  deleted?: boolean;
}
interface TargetReport {
  target: string;
  policy: string;
  decisions: Decision[];
  kept: number;
  deleted: number;
  error?: unknown;
  leftovers: string[];
  leftoversError?: { code: string; message: string };
}

function reportOf(json: any, target: string): TargetReport {
  const report = (json.prune.targets as TargetReport[]).find((t) => t.target === target);
  if (!report) throw new Error(`no prune report for ${target}`);
  return report;
}

/** Plants on the local target the temporary file a killed run's save leaves, two days old (past the 1d grace period). */
async function plantLocalLeftover(key: string): Promise<string> {
  const file = join(sandbox.localDir, ...key.split('/'));
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, 'partial upload of a killed run');
  const twoDaysAgo = ago(2 * DAY);
  await utimes(file, twoDaysAgo, twoDaysAgo);
  return file;
}

const chattr = async (flag: '+i' | '-i', file: string): Promise<void> => {
  await promisify(execFile)('chattr', [flag, file]);
};

const at = (iso: string): Date => new Date(iso);
const ago = (ms: number): Date => new Date(Date.now() - ms);

describe('prune on real targets', () => {
  it('keep rules over months and years: dry run decides and prints, prune deletes exactly that', async () => {
    await writeConfig();
    const r1 = (await create('--description', 'real 1')).id;
    const r2 = (await create('--description', 'real 2')).id;
    const planted = await plant(
      {
        s1: at('2024-06-20T10:00:00Z'),
        s2: at('2024-06-10T10:00:00Z'),
        s3: at('2024-05-25T10:00:00Z'),
        s4: at('2024-05-03T10:00:00Z'),
        s5: at('2024-04-15T10:00:00Z'),
        s6: at('2024-03-01T10:00:00Z'),
        s7: at('2023-12-31T23:00:00Z'),
      },
      { oldIncomplete: ago(2 * DAY), freshIncomplete: ago(HOUR) },
    );
    const flags = ['--keep-last', '1', '--keep-monthly', '4', '--keep-yearly', '3'];
    // Worked out by hand, newest first: r2, r1 (this month), s1..s7.
    // last 1: r2. monthly 4: r2 (this month), s1 (2024-06), s3 (2024-05), s5 (2024-04).
    // yearly 3: r2 (this year), s1 (2024), s7 (2023). Incomplete: older than 24h goes, younger stays.
    const kept = (ids: Record<string, string>): string[] => [r2, ids.s1!, ids.s3!, ids.s5!, ids.s7!, ids.freshIncomplete!];
    const deleted = (ids: Record<string, string>): string[] => [r1, ids.s2!, ids.s4!, ids.s6!, ids.oldIncomplete!];
    const before = await Promise.all(targets.map(folders));

    // The dry run prints every decision, one line each, and deletes nothing.
    const dryRun = await runCli(sandbox, ['prune', '--dry-run', ...flags]);
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(await Promise.all(targets.map(folders))).toEqual(before);
    for (const [index, target] of targets.entries()) {
      const ids = planted[index]!;
      expect(Object.keys(before[index]!).sort()).toEqual([...kept(ids), ...deleted(ids)].sort());
      expect(dryRun.stdout).toContain(`target ${target.name}: keep last 1, 4 monthly, 3 yearly`);
      for (const id of deleted(ids)) expect(dryRun.stdout).toMatch(new RegExp(`would delete\\s+${id}\\s`));
      for (const id of kept(ids)) expect(dryRun.stdout).toMatch(new RegExp(`keep\\s+${id}\\s`));
    }
    expect(dryRun.stdout.split('\n').filter((line) => line.includes('5 to delete (dry run: nothing deleted)'))).toHaveLength(targets.length);
    expect(await journal(sandbox)).toHaveLength(2); // the two creates: a dry run is not a run

    const pruned = await runCli(sandbox, ['--json', 'prune', ...flags]);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.json).toMatchObject({ success: true, prune: { dryRun: false } });
    for (const [index, target] of targets.entries()) {
      const ids = planted[index]!;
      const report = reportOf(pruned.json, target.name);
      expect(report.policy).toBe('keep last 1, 4 monthly, 3 yearly');
      expect([report.kept, report.deleted]).toEqual([6, 5]);
      expect(report.decisions.filter((d) => d.action === 'keep').map((d) => d.id).sort()).toEqual(kept(ids).sort());
      expect(report.decisions.filter((d) => d.deleted).map((d) => d.id).sort()).toEqual(deleted(ids).sort());
      // The reasons a user reads.
      const decisions = new Map(report.decisions.map((d) => [d.id, d]));
      expect(decisions.get(r2)!.reasons).toContain('last 1 (#1)');
      expect(decisions.get(ids.s1!)!.reasons).toEqual(['monthly 2024-06', 'yearly 2024']);
      expect(decisions.get(ids.s3!)!.reasons).toEqual(['monthly 2024-05']);
      expect(decisions.get(ids.s5!)!.reasons).toEqual(['monthly 2024-04']);
      expect(decisions.get(ids.s7!)!.reasons).toEqual(['yearly 2023']);
      for (const id of [r1, ids.s2!, ids.s4!, ids.s6!]) expect(decisions.get(id)!.reasons).toEqual(['not kept by any keep rule']);
      expect(decisions.get(ids.oldIncomplete!)).toMatchObject({ status: 'INCOMPLETE', reasons: ['incomplete (no manifest), older than grace period 1d'] });
      expect(decisions.get(ids.freshIncomplete!)).toMatchObject({ status: 'INCOMPLETE', reasons: ['incomplete (no manifest), within grace period 1d'] });
      expect(Object.keys(await folders(target)).sort()).toEqual(kept(ids).sort());
      // Deleted means gone: no object of a deleted backup is left behind.
      const keys = await keysOn(target);
      for (const id of deleted(ids)) expect(keys.filter((k) => k.startsWith(`${id}/`))).toEqual([]);
    }
    expect((await journal(sandbox)).map((r) => [r.command, r.status])).toEqual([
      ['create', 'SUCCESS'],
      ['create', 'SUCCESS'],
      ['prune', 'SUCCESS'],
    ]);
  });

  it('applies the configured retention with create --prune, and after every create with autoPrune', async () => {
    await writeConfig({ retention: { keepLast: 2, maxAge: '30d' } });
    const planted = await plant({ a: ago(3 * DAY), b: ago(10 * DAY), c: ago(40 * DAY), d: ago(100 * DAY) }, { old: ago(2 * DAY) });

    // keepLast 2 keeps r and a; b is kept by no rule; c and d are older than maxAge; the incomplete
    // folder is past its grace period. (Text output: the prune report follows the backup's own lines on stdout.)
    const withPrune = await runCli(sandbox, ['create', '--db', db, '--prune']);
    expect(withPrune.code, withPrune.stderr).toBe(0);
    const r = { id: /backup (backup-\S+) completed/.exec(withPrune.stdout)?.[1] ?? 'no id printed' };
    for (const [index, target] of targets.entries()) {
      const ids = planted[index]!;
      expect(await folders(target)).toEqual({ [r.id]: 'COMPLETED', [ids.a!]: 'COMPLETED' });
      expect(withPrune.stdout).toContain(`target ${target.name}: keep last 2; delete older than 30d`);
      expect(withPrune.stdout).toMatch(new RegExp(`delete\\s+${ids.c}\\s.*older than maxAge 30d`));
      expect(withPrune.stdout).toMatch(new RegExp(`delete\\s+${ids.b}\\s.*not kept by any keep rule`));
      expect(withPrune.stdout).toMatch(new RegExp(`delete\\s+${ids.old}\\s.*INCOMPLETE`));
      expect(withPrune.stdout).toMatch(new RegExp(`keep\\s+${r.id}\\s.*last 2 \\(#1\\)`));
    }

    // Without --prune and autoPrune off, create leaves the set alone.
    const untouched = await create();
    for (const [index, target] of targets.entries()) {
      expect(Object.keys(await folders(target)).sort()).toEqual([untouched.id, r.id, planted[index]!.a!].sort());
    }

    await writeConfig({ retention: { keepLast: 2, maxAge: '30d' }, autoPrune: true });
    const latest = await create();
    for (const target of targets) {
      expect(await folders(target)).toEqual({ [latest.id]: 'COMPLETED', [untouched.id]: 'COMPLETED' });
    }
  });

  it('never deletes the newest completed backup, and reads "no rules" as "delete nothing"', async () => {
    await writeConfig();
    const planted = await plant({ newest: ago(20 * DAY), middle: ago(40 * DAY), oldest: ago(60 * DAY) }, { old: ago(2 * DAY) });

    // --keep-last 0 turns the only rule off: an empty policy deletes no completed backup (only
    // incomplete folders past their grace period), rather than "keep nothing".
    const none = await runCli(sandbox, ['--json', 'prune', '--keep-last', '0']);
    expect(none.code, none.stderr).toBe(0);
    for (const [index, target] of targets.entries()) {
      const ids = planted[index]!;
      const report = reportOf(none.json, target.name);
      expect(report.policy).toContain('no retention rules');
      expect(report.decisions.filter((d) => d.action === 'delete').map((d) => d.id)).toEqual([ids.old]);
      expect(Object.keys(await folders(target)).sort()).toEqual([ids.newest!, ids.middle!, ids.oldest!].sort());
    }

    // Every backup is older than maxAge, yet the newest completed one stays.
    const aged = await runCli(sandbox, ['--json', 'prune', '--max-age', '7d']);
    expect(aged.code, aged.stderr).toBe(0);
    for (const [index, target] of targets.entries()) {
      const ids = planted[index]!;
      const newest = reportOf(aged.json, target.name).decisions.find((d) => d.id === ids.newest);
      expect(newest).toMatchObject({ action: 'keep', reasons: ['newest completed backup (always kept)'] });
      expect(Object.keys(await folders(target))).toEqual([ids.newest]);
    }

    // The grace period for incomplete backups is configurable; a bad value is a usage error (exit 2).
    await sandbox.writeConfig({ mongodb: mongoConfig(mongo), stateDir: sandbox.stateDir, targets: targetConfigs, incompleteGracePeriod: 'soon' });
    const badGrace = await runCli(sandbox, ['prune']);
    expect(badGrace.code).toBe(2);
    expect(badGrace.stderr).toContain('incompleteGracePeriod: "soon" is not a valid duration');
  });
  it('dry run names the stale leftovers it would remove and removes none of them', async () => {
    await writeConfig();
    const planted = await plant({ newest: ago(DAY), old: ago(10 * DAY) });
    const leftover = 'backup-killed/.tmp-dump.archive.zst-0a1b2c3d';
    const file = await plantLocalLeftover(leftover);

    const text = await runCli(sandbox, ['prune', '--dry-run', '--keep-last', '1']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`would remove leftover ${leftover}`);
    expect(text.stdout).not.toContain('removed leftover');
    const json = await runCli(sandbox, ['--json', 'prune', '--dry-run', '--keep-last', '1']);
    expect(json.code, json.stderr).toBe(0);
    expect(json.json).toMatchObject({ success: true, prune: { dryRun: true } });
    expect(reportOf(json.json, 'local').leftovers).toEqual([leftover]);
    expect(existsSync(file)).toBe(true);
    for (const [index, target] of targets.entries()) {
      expect(Object.keys(await folders(target)).sort()).toEqual([planted[index]!.newest!, planted[index]!.old!].sort());
    }

    // The real run removes what the dry run named, with the wording it always had.
    const real = await runCli(sandbox, ['prune', '--keep-last', '1']);
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toContain(`removed leftover temporary file ${leftover}`);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(dirname(file))).toBe(false);
  });

  it('a failing leftover cleanup is reported as a failure of its own, and retention still runs', async ({ skip }) => {
    await writeConfig();
    const planted = await plant({ newest: ago(DAY), old: ago(10 * DAY) });
    const leftover = 'backup-killed/.tmp-dump.archive.zst-4e5f6a7b';
    const file = await plantLocalLeftover(leftover);
    // An immutable file is one that even root cannot remove: a real unlink failure (EPERM), where
    // the file system and the capabilities allow setting the attribute.
    const immutable = await chattr('+i', file).then(
      () => undefined,
      (error: unknown) => String(error),
    );
    if (immutable !== undefined) skip(`cannot make a file immutable here (${immutable.split('\n')[0]})`);
    try {
      const text = await runCli(sandbox, ['prune', '--keep-last', '1']);
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(new RegExp(`✘ leftover cleanup failed: could not remove leftover ${leftover.replace(/\./g, '\\.')} .*operation not permitted`));
      for (const [index, target] of targets.entries()) {
        // Retention ran on every target, the one whose cleanup failed included.
        expect(text.stdout).toMatch(new RegExp(`delete\\s+${planted[index]!.old}\\s`));
        expect(Object.keys(await folders(target))).toEqual([planted[index]!.newest]);
      }

      const json = await runCli(sandbox, ['--json', 'prune', '--keep-last', '1']);
      expect(json.code).toBe(1);
      expect(json.json).toMatchObject({ success: false, prune: { dryRun: false } });
      const local = reportOf(json.json, 'local');
      expect(local.leftoversError).toMatchObject({ code: 'TARGET_FAILED', message: expect.stringContaining(`remove leftover ${leftover}`) });
      expect(local.error).toBeUndefined();
      expect(local.leftovers).toEqual([]);
      expect([local.kept, local.deleted]).toEqual([1, 0]);
      for (const target of targets.filter((t) => t.name !== 'local')) expect(reportOf(json.json, target.name).leftoversError).toBeUndefined();
      expect(existsSync(file)).toBe(true);

      const status = targets.length === 1 ? 'FAILED' : 'PARTIAL';
      const prunes = (await journal(sandbox)).filter((r) => r.command === 'prune');
      expect(prunes.map((r) => r.status)).toEqual([status, status]);
    } finally {
      await chattr('-i', file);
    }
  });
});
