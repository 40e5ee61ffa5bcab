// The point-in-time checks of health (docs/REFERENCE.md#health-checks) as pure evaluation: RPO of the
// newest restore point, broken chains, the source's oplog window, and the per-target metrics.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { evaluateHealth, renderPrometheus, type HealthBackup, type HealthInputs, type TargetState } from '../../src/health/index.js';
import type { RunRecord } from '../../src/state/journal.js';

const NOW = new Date('2026-03-10T12:00:00.000Z');
const MINUTE = 60_000;

function minutesAgo(minutes: number): Date {
  return new Date(NOW.getTime() - minutes * MINUTE);
}

/** An oplog range ending `toMinutesAgo` before NOW, starting where `from` says. */
function range(fromMinutesAgo: number, toMinutesAgo: number, entries = 5) {
  const from = minutesAgo(fromMinutesAgo);
  const to = minutesAgo(toMinutesAgo);
  return {
    from: { t: Math.floor(from.getTime() / 1000), i: 1 },
    to: { t: Math.floor(to.getTime() / 1000), i: 1 },
    fromTime: from.toISOString(),
    toTime: to.toISOString(),
    entries,
  };
}

function full(id: string, startMinutesAgo: number, restorePointMinutesAgo: number): HealthBackup {
  return {
    id,
    status: 'COMPLETED',
    time: minutesAgo(startMinutesAgo),
    manifest: { storedSize: 100, type: 'FULL', pointInTime: true, oplog: range(startMinutesAgo, restorePointMinutesAgo) },
  };
}

function incremental(id: string, parent: HealthBackup, base: string, toMinutesAgo: number): HealthBackup {
  const parentTo = parent.manifest!.oplog!;
  const to = minutesAgo(toMinutesAgo);
  return {
    id,
    status: 'COMPLETED',
    time: to,
    manifest: {
      storedSize: 10,
      type: 'INCREMENTAL',
      parent: parent.id,
      base,
      pointInTime: true,
      oplog: { from: parentTo.to, to: { t: Math.floor(to.getTime() / 1000), i: 1 }, fromTime: parentTo.toTime, toTime: to.toISOString(), entries: 3 },
    },
  };
}

function target(name: string, backups: HealthBackup[]): TargetState {
  return { name, reachable: true, backups, expected: true };
}

const okRun: RunRecord = { runId: 'r1', command: 'create', status: 'SUCCESS', startTime: minutesAgo(5).toISOString(), endTime: minutesAgo(5).toISOString(), duration: 1, host: 'h' };

function inputs(targets: TargetState[], overrides: Partial<HealthInputs> = {}): HealthInputs {
  return { now: NOW, config: {}, runs: [okRun], targets, ...overrides };
}

const issuesOf = (report: ReturnType<typeof evaluateHealth>, type: string) => report.issues.filter((i) => i.type === type);

describe('health: point-in-time checks', () => {
  const base = full('backup-2026-03-10-100000-aaaaaa', 120, 118);
  const first = incremental('backup-2026-03-10-110000-bbbbbb', base, base.id, 60);
  const second = incremental('backup-2026-03-10-115000-cccccc', first, base.id, 10);

  it('skips the checks with a note when no backup is point-in-time, so a deployment without an oplog is not nagged', () => {
    const plain: HealthBackup = { id: 'backup-2026-03-10-113000-dddddd', status: 'COMPLETED', time: minutesAgo(30), manifest: { storedSize: 1, type: 'FULL', pointInTime: false } };
    const report = evaluateHealth(inputs([target('local', [plain])], { sourceOplog: { oldestMs: 0, newestMs: 1 } }));
    expect(report.status).toBe('HEALTHY');
    expect(report.notes.join('\n')).toMatch(/point-in-time checks skipped/);
    expect(report.metrics.newestRestorePoint).toBeNull();
  });

  it('is HEALTHY with a restore point younger than the RPO, and reports it per target', () => {
    const report = evaluateHealth(inputs([target('local', [base, first, second])]));
    expect(report.status).toBe('HEALTHY');
    expect(report.metrics.newestRestorePoint).toMatchObject({ backupId: second.id, targets: ['local'], ageMinutes: 10 });
    const local = report.metrics.targets[0]!;
    expect(local.newestRestorePoint).toBe(minutesAgo(10).toISOString());
    expect(local.restorableSeconds).toBe((118 - 10) * 60);
  });

  it('is a WARNING past the RPO and CRITICAL past twice it, naming the age and the backup', () => {
    const warning = evaluateHealth(inputs([target('local', [base, first])], { config: { rpoMinutes: 45 } }));
    expect(issuesOf(warning, 'restore_point_too_old')).toEqual([
      expect.objectContaining({ level: 'WARNING', message: expect.stringMatching(new RegExp(`1h old .*${first.id}.*RPO 45 min`)) }),
    ]);
    const critical = evaluateHealth(inputs([target('local', [base, first])], { config: { rpoMinutes: 29 } }));
    expect(issuesOf(critical, 'restore_point_too_old')[0]?.level).toBe('CRITICAL');
    expect(critical.status).toBe('CRITICAL');
  });

  it('takes the newest restore point over all targets', () => {
    const report = evaluateHealth(inputs([target('a', [base, first]), target('b', [base, first, second])], { config: { rpoMinutes: 30 } }));
    expect(issuesOf(report, 'restore_point_too_old')).toEqual([]);
    expect(report.metrics.newestRestorePoint?.targets).toEqual(['b']);
  });

  it('is CRITICAL for a target whose newest incremental continues no chain, naming the target and the orphan', () => {
    const report = evaluateHealth(inputs([target('local', [base, second]), target('other', [base, first, second])]));
    const broken = issuesOf(report, 'chain_broken');
    expect(broken).toHaveLength(1);
    expect(broken[0]).toMatchObject({ level: 'CRITICAL', target: 'local' });
    expect(broken[0]!.message).toContain(second.id);
    expect(broken[0]!.message).toContain(`restorable only up to ${base.manifest!.oplog!.toTime}`);
    expect(report.status).toBe('CRITICAL');
  });

  it("warns when the source's oplog spans less than twice the incremental interval, and notes a source it could not read", () => {
    const short = evaluateHealth(inputs([target('local', [base, first, second])], { sourceOplog: { oldestMs: minutesAgo(90).getTime(), newestMs: NOW.getTime() } }));
    expect(issuesOf(short, 'oplog_window_short')).toEqual([expect.objectContaining({ level: 'WARNING', message: expect.stringContaining('1h 30m') })]);
    const ample = evaluateHealth(
      inputs([target('local', [base, first, second])], { config: { incrementalIntervalMs: 30 * MINUTE }, sourceOplog: { oldestMs: minutesAgo(90).getTime(), newestMs: NOW.getTime() } }),
    );
    expect(issuesOf(ample, 'oplog_window_short')).toEqual([]);
    const unread = evaluateHealth(inputs([target('local', [base, first, second])], { sourceOplog: { error: 'connection refused' } }));
    expect(unread.status).toBe('HEALTHY');
    expect(unread.notes.join('\n')).toMatch(/oplog window was not checked: connection refused/);
  });

  it('writes the newest restore point and the restorable window per target to Prometheus', () => {
    const text = renderPrometheus(evaluateHealth(inputs([target('local', [base, first, second])])), 0);
    expect(text).toContain(`mongo_backup_restore_point_timestamp_seconds{target="local"} ${minutesAgo(10).getTime() / 1000}`);
    expect(text).toContain(`mongo_backup_restorable_window_seconds{target="local"} ${(118 - 10) * 60}`);
  });
});

describe('health.rpoMinutes and health.incrementalInterval', () => {
  async function load(text: string) {
    const dir = await mkdtemp(join(tmpdir(), 'mb-health-pitr-'));
    try {
      await writeFile(join(dir, 'backuprc.yaml'), text);
      return await loadConfig({ configFile: join(dir, 'backuprc.yaml'), cwd: dir, env: { HOME: dir } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('reads the RPO in minutes and the interval as a duration', async () => {
    const config = await load('health: { rpoMinutes: 15, incrementalInterval: 6h }\n');
    expect(config.health).toMatchObject({ rpoMinutes: 15, incrementalIntervalMs: 6 * 3_600_000 });
  });

  it.each([
    ['health: { rpoMinutes: 0 }\n', 'health.rpoMinutes'],
    ['health: { incrementalInterval: 0s }\n', 'health.incrementalInterval'],
    ['health: { incrementalInterval: often }\n', 'health.incrementalInterval'],
  ])('refuses %s naming the key (exit 2)', async (text, key) => {
    const error = await load(text).then(
      () => undefined,
      (e: unknown) => e as { message: string; exitCode: number },
    );
    expect(error?.message).toContain(key);
    expect(error?.exitCode).toBe(2);
  });
});
