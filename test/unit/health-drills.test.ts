// The restore-drill checks of health under a fixed clock, the RTO arithmetic, and the trust rule
// for drill records (a record counts only while the manifest still carries the checksum it restored).
import { describe, expect, it } from 'vitest';
import { evaluateHealth, renderPrometheus, type HealthBackup, type HealthDrill, type HealthInputs, type TargetState } from '../../src/health/index.js';
import { drillThroughput, rtoEstimateSeconds } from '../../src/health/drills.js';
import { drillKey, isDrillKey, judgeDrill, drillKeysOf, validateDrillRecord, type DrillRecord } from '../../src/engine/drills.js';

const NOW = new Date('2026-12-06T12:00:00.000Z');
const DAY = 86_400_000;
const daysAgo = (days: number): Date => new Date(NOW.getTime() - days * DAY);

function backup(id: string, ageDays: number, size = 1_000_000_000): HealthBackup {
  return { id, status: 'COMPLETED', time: daysAgo(ageDays), manifest: { storedSize: size / 4, size } };
}

function drill(ageDays: number, extra: Partial<HealthDrill> = {}): HealthDrill {
  return { target: 'local', backupId: 'b-drilled', time: daysAgo(ageDays).toISOString(), passed: true, trusted: true, bytes: 1_000_000_000, durationMs: 600_000, ...extra };
}

function inputs(drills: HealthDrill[], config: HealthInputs['config'] = {}, backups = [backup('b-new', 0.5), backup('b-first', 200)]): HealthInputs {
  const local: TargetState = { name: 'local', reachable: true, expected: true, backups, drills };
  return { now: NOW, config, runs: [], targets: [local] };
}

const drillIssues = (input: HealthInputs) => evaluateHealth(input).issues.filter((i) => i.type === 'drill_overdue' || i.type === 'rto_exceeded');

describe('health: drill age', () => {
  it('is quiet with a passed drill within maxDrillAgeDays (default 35)', () => {
    expect(drillIssues(inputs([drill(34.9)]))).toEqual([]);
  });

  it('warns past 35 days and is CRITICAL past twice that', () => {
    expect(drillIssues(inputs([drill(35.1)]))).toEqual([expect.objectContaining({ level: 'WARNING', type: 'drill_overdue', message: expect.stringContaining('35.1d old') })]);
    expect(drillIssues(inputs([drill(70.1)]))).toEqual([expect.objectContaining({ level: 'CRITICAL', type: 'drill_overdue' })]);
  });

  it('follows a configured maxDrillAgeDays, and 0 turns the drill checks off', () => {
    expect(drillIssues(inputs([drill(8)], { maxDrillAgeDays: 7 }))).toEqual([expect.objectContaining({ level: 'WARNING' })]);
    expect(drillIssues(inputs([drill(80)], { maxDrillAgeDays: 0 }))).toEqual([]);
  });

  it('counts neither failed drills nor records that are not trusted', () => {
    const issues = drillIssues(inputs([drill(1, { passed: false, code: 'CHECKSUM_MISMATCH' }), drill(2, { trusted: false, distrust: 'checksum changed' }), drill(40)]));
    expect(issues).toEqual([expect.objectContaining({ level: 'WARNING', message: expect.stringContaining('40d old') })]);
    const report = evaluateHealth(inputs([drill(2, { trusted: false, distrust: 'checksum changed' })]));
    expect(report.notes.join('\n')).toContain('is not trusted: checksum changed');
    expect(report.metrics.drills.untrusted).toHaveLength(1);
  });

  it('before any drill, starts the clock at the oldest backup', () => {
    expect(drillIssues(inputs([], {}, [backup('b-new', 0.5), backup('b-first', 10)]))).toEqual([]);
    expect(drillIssues(inputs([], {}, [backup('b-new', 0.5), backup('b-first', 40)]))).toEqual([
      expect.objectContaining({ level: 'WARNING', message: expect.stringContaining('no backup has passed a restore drill') }),
    ]);
  });
});

describe('health: RTO estimate', () => {
  it('is the newest backup size at the newest passed drill throughput', () => {
    // 1 GB in 10 minutes: 1.6 MB/s; a 30 GB backup takes 300 minutes.
    expect(drillThroughput({ bytes: 1_000_000_000, durationMs: 600_000 })).toBeCloseTo(1_666_666.67, 1);
    expect(rtoEstimateSeconds({ bytes: 1_000_000_000, durationMs: 600_000 }, 30_000_000_000)).toBeCloseTo(18_000, 6);
    expect(rtoEstimateSeconds({ bytes: 0, durationMs: 600_000 }, 1)).toBeUndefined();
    const report = evaluateHealth(inputs([drill(1)], {}, [backup('b-new', 0.5, 30_000_000_000)]));
    expect(report.metrics.drills.rto).toEqual(expect.objectContaining({ seconds: 18_000, newestBackupBytes: 30_000_000_000 }));
  });

  it('warns above rtoHours (default 4) and not below', () => {
    expect(drillIssues(inputs([drill(1)], {}, [backup('b-new', 0.5, 30_000_000_000)]))).toEqual([expect.objectContaining({ level: 'WARNING', type: 'rto_exceeded' })]);
    expect(drillIssues(inputs([drill(1)], { rtoHours: 6 }, [backup('b-new', 0.5, 30_000_000_000)]))).toEqual([]);
    expect(drillIssues(inputs([drill(1)], {}, [backup('b-new', 0.5, 20_000_000_000)]))).toEqual([]);
  });

  it('exports the last drill, its result and the RTO estimate to Prometheus', () => {
    const report = evaluateHealth(inputs([drill(1), drill(0.5, { passed: false })]));
    const text = renderPrometheus(report, 0);
    expect(text).toContain(`mongo_backup_last_drill_timestamp_seconds ${daysAgo(0.5).getTime() / 1000}`);
    expect(text).toContain('mongo_backup_last_drill_success 0');
    expect(text).toContain(`mongo_backup_last_passed_drill_timestamp_seconds ${daysAgo(1).getTime() / 1000}`);
    expect(text).toContain('mongo_backup_rto_estimate_seconds 600');
  });
});

describe('drill records', () => {
  const checksum = `sha256:${'a'.repeat(64)}`;
  const record: DrillRecord = {
    drillFormat: 1,
    backupId: 'backup-2026-12-05-020000-abcdef',
    startTime: '2026-12-05T03:00:00.000Z',
    endTime: '2026-12-05T03:14:00.000Z',
    duration: 840_000,
    host: 'h',
    tool: { name: 'mongo-backup', version: '1.0.0' },
    target: 'local',
    destination: { hosts: 'db:27017', scratch: false, prefix: 'drill_' },
    objects: [{ backupId: 'backup-2026-12-05-020000-abcdef', object: 'dump.archive.zst.enc', checksum, storedSize: 10, size: 40 }],
    bytes: 40,
    namespaces: [{ source: 'shop.orders', destination: 'drill_shop.orders', expected: 3, restored: 3 }],
    phases: { checkMs: 1, verifyMs: 0, restoreMs: 2, countMs: 1, dropMs: 1 },
    parallelism: { collections: 2, insertionWorkers: 1 },
    kept: false,
    result: { passed: true },
  };

  it('is trusted while the manifest carries the checksum it restored, and not once that changes or the backup is gone', () => {
    const id = record.backupId;
    expect(judgeDrill(record, id, new Map([[id, { checksum }]]))).toEqual({ trusted: true });
    expect(judgeDrill(record, id, new Map([[id, { checksum: `sha256:${'b'.repeat(64)}` }]]))).toEqual({ trusted: false, distrust: expect.stringContaining('the manifest now says') });
    expect(judgeDrill(record, id, new Map())).toEqual({ trusted: false, distrust: expect.stringContaining('no longer on this target') });
    expect(judgeDrill(record, 'backup-2026-12-06-020000-000000', new Map([[id, { checksum }]]))).toEqual({ trusted: false, distrust: expect.stringContaining('sits in') });
  });

  it('lives under <id>/drills/ with a sortable name, and only such keys are records', () => {
    const key = drillKey(record.backupId, record.startTime);
    expect(key).toBe('backup-2026-12-05-020000-abcdef/drills/2026-12-05T030000.000Z.json');
    expect(isDrillKey(key)).toBe(true);
    expect(isDrillKey('backup-2026-12-05-020000-abcdef/manifest.json')).toBe(false);
    const older = drillKey(record.backupId, '2026-12-01T03:00:00.000Z');
    expect(drillKeysOf([{ key: older, size: 1 }, { key, size: 1 }, { key: 'x/dump.archive', size: 1 }])).toEqual([key, older]);
  });

  it('validates what it reads', () => {
    expect(validateDrillRecord(JSON.parse(JSON.stringify(record)), 'r')).toEqual(record);
    expect(() => validateDrillRecord({ ...record, objects: [] }, 'r')).toThrow(/objects/);
    expect(() => validateDrillRecord({ ...record, result: {} }, 'r')).toThrow(/result.passed/);
  });
});
