import { describe, expect, it } from 'vitest';
import {
  computeRunMetrics,
  evaluateHealth,
  formatAge,
  healthExitCode,
  worstStatus,
  type HealthBackup,
  type HealthInputs,
  type TargetState,
} from '../../src/health/index.js';
import type { RunRecord } from '../../src/state/journal.js';

const NOW = new Date('2026-03-10T12:00:00.000Z');
const HOUR = 3_600_000;

function hoursAgo(hours: number): Date {
  return new Date(NOW.getTime() - hours * HOUR);
}

function backup(id: string, ageHours: number, status = 'COMPLETED', storedSize = 1000): HealthBackup {
  return { id, status, time: hoursAgo(ageHours), manifest: { storedSize } };
}

function target(name: string, backups: HealthBackup[], extra: Partial<TargetState> = {}): TargetState {
  return { name, reachable: true, backups, expected: true, ...extra };
}

let runCounter = 0;
function run(ageHours: number, status: RunRecord['status'], extra: Partial<RunRecord> = {}): RunRecord {
  const start = hoursAgo(ageHours).toISOString();
  return { runId: `run-${++runCounter}`, command: 'create', status, startTime: start, endTime: start, duration: 60_000, host: 'h', ...extra };
}

function inputs(overrides: Partial<HealthInputs> = {}): HealthInputs {
  return { now: NOW, config: {}, runs: [run(2, 'SUCCESS')], targets: [target('local', [backup('b-fresh', 2)])], ...overrides };
}

const types = (report: ReturnType<typeof evaluateHealth>): string[] => report.issues.map((i) => i.type);

describe('evaluateHealth', () => {
  it('is HEALTHY with a fresh backup, a successful last run and reachable targets', () => {
    const report = evaluateHealth(inputs());
    expect(report.status).toBe('HEALTHY');
    expect(report.issues).toEqual([]);
    expect(report.timestamp).toBe(NOW.toISOString());
    expect(report.metrics.newestBackup).toMatchObject({ id: 'b-fresh', ageHours: 2, targets: ['local'] });
  });

  describe('backup age (RPO)', () => {
    it('is CRITICAL with no completed backup at all', () => {
      const report = evaluateHealth(inputs({ runs: [], targets: [target('local', [backup('b-partial', 1, 'INCOMPLETE')])] }));
      expect(report.status).toBe('CRITICAL');
      expect(report.issues).toEqual([{ level: 'CRITICAL', type: 'backup_too_old', message: 'no completed backup yet' }]);
    });

    it('is CRITICAL when the newest completed backup is older than maxAgeHours, saying how old', () => {
      const report = evaluateHealth(inputs({ targets: [target('local', [backup('b-old', 3 * 24 + 4), backup('b-older', 100)])] }));
      expect(report.status).toBe('CRITICAL');
      expect(report.issues[0]?.message).toContain('newest completed backup is 3d 4h old (limit 26h)');
    });

    it('ignores an incomplete backup that is newer than the last completed one', () => {
      const report = evaluateHealth(inputs({ targets: [target('local', [backup('b-incomplete', 1, 'INCOMPLETE'), backup('b-old', 30)])] }));
      expect(types(report)).toContain('backup_too_old');
    });

    it('honours a configured maxAgeHours', () => {
      const base = { targets: [target('local', [backup('b', 5)])] };
      expect(types(evaluateHealth(inputs({ ...base, config: { maxAgeHours: 4 } })))).toEqual(['backup_too_old']);
      expect(types(evaluateHealth(inputs({ ...base, config: { maxAgeHours: 6 } })))).toEqual([]);
    });

    it('takes the newest backup from any target', () => {
      const report = evaluateHealth(
        inputs({ targets: [target('local', [backup('b-new', 1), backup('b-old', 40)]), target('offsite', [backup('b-old', 40)], { expected: false })] }),
      );
      expect(types(report)).toEqual([]);
    });
  });

  describe('last backup run', () => {
    it('warns when the last create run failed, with its error', () => {
      const report = evaluateHealth(
        inputs({ runs: [run(30, 'SUCCESS'), run(1, 'FAILED', { error: { code: 'MONGODUMP_FAILED', message: 'mongodump exited with code 1' } })] }),
      );
      expect(report.status).toBe('WARNING');
      const issue = report.issues.find((i) => i.type === 'backup_failed');
      expect(issue?.level).toBe('WARNING');
      expect(issue?.message).toContain('mongodump exited with code 1');
    });

    it('does not warn when a failure was followed by a success, or about failed runs of other commands', () => {
      const report = evaluateHealth(inputs({ runs: [run(30, 'FAILED'), run(2, 'SUCCESS'), run(1, 'FAILED', { command: 'restore' })] }));
      expect(types(report)).not.toContain('backup_failed');
    });

    it('names the failed targets of a partial run', () => {
      const report = evaluateHealth(
        inputs({ runs: [run(1, 'PARTIAL', { targets: { local: { status: 'ok' }, offsite: { status: 'failed', error: 'timeout' } } })] }),
      );
      expect(report.issues.find((i) => i.type === 'backup_failed')?.message).toContain('offsite');
    });
  });

  describe('success rate of the last 30 days', () => {
    const runsWith = (failed: number, succeeded: number, ageHours = 24): RunRecord[] => [
      ...Array.from({ length: failed }, () => run(ageHours + 1, 'FAILED')),
      ...Array.from({ length: succeeded }, () => run(ageHours, 'SUCCESS')),
    ];

    it('warns below minSuccessRate', () => {
      const report = evaluateHealth(inputs({ runs: runsWith(2, 8) }));
      const issue = report.issues.find((i) => i.type === 'low_success_rate');
      expect(issue?.level).toBe('WARNING');
      expect(issue?.message).toContain('8 of 10');
      expect(report.metrics.successRate30d).toBe(0.8);
    });

    it('accepts a rate exactly at the minimum', () => {
      expect(types(evaluateHealth(inputs({ runs: runsWith(1, 9) })))).not.toContain('low_success_rate');
    });

    it('ignores runs older than 30 days', () => {
      const report = evaluateHealth(inputs({ runs: [...runsWith(5, 0, 31 * 24), ...runsWith(0, 3)] }));
      expect(types(report)).not.toContain('low_success_rate');
      expect(report.metrics.runs30d).toBe(3);
    });

    it('honours a configured minSuccessRate', () => {
      expect(types(evaluateHealth(inputs({ runs: runsWith(2, 8), config: { minSuccessRate: 0.75 } })))).not.toContain('low_success_rate');
    });
  });

  it('is CRITICAL naming an unreachable target, and does not count its missing copy as a second problem', () => {
    const report = evaluateHealth(
      inputs({ targets: [target('local', [backup('b', 1)]), target('offsite', [], { reachable: false, error: 'connect ECONNREFUSED 127.0.0.1:1' })] }),
    );
    expect(report.status).toBe('CRITICAL');
    expect(report.issues).toEqual([
      { level: 'CRITICAL', type: 'target_unreachable', target: 'offsite', message: 'target offsite is unreachable: connect ECONNREFUSED 127.0.0.1:1' },
    ]);
  });

  describe('free space of local targets', () => {
    const withSpace = (freeBytes: number, totalBytes: number) => [target('local', [backup('b', 1)], { space: { freeBytes, totalBytes } })];

    it('warns below minFreeDiskPercent (default 10%)', () => {
      const report = evaluateHealth(inputs({ targets: withSpace(5e9, 100e9) }));
      expect(report.issues).toEqual([expect.objectContaining({ level: 'WARNING', type: 'low_disk_space', target: 'local' })]);
      expect(report.issues[0]?.message).toContain('5.0%');
      expect(types(evaluateHealth(inputs({ targets: withSpace(20e9, 100e9) })))).toEqual([]);
    });

    it('warns below minFreeDiskBytes even when the share is fine', () => {
      const report = evaluateHealth(inputs({ targets: withSpace(20e9, 100e9), config: { minFreeDiskBytes: 50e9 } }));
      expect(types(report)).toEqual(['low_disk_space']);
    });
  });

  describe('newest backup on every target', () => {
    it('warns naming the target that lacks the newest backup', () => {
      const report = evaluateHealth(inputs({ targets: [target('local', [backup('b-new', 1), backup('b-old', 25)]), target('offsite', [backup('b-old', 25)])] }));
      expect(report.status).toBe('WARNING');
      expect(report.issues).toEqual([expect.objectContaining({ level: 'WARNING', type: 'backup_missing_on_target', target: 'offsite' })]);
      expect(report.issues[0]?.message).toContain('b-new');
    });

    it('does not expect it on a target the backup was not meant for', () => {
      const report = evaluateHealth(inputs({ targets: [target('local', [backup('b-new', 1)]), target('offsite', [], { expected: false })] }));
      expect(types(report)).toEqual([]);
    });
  });

  describe('last verification', () => {
    it('is CRITICAL when the last verify run failed', () => {
      const report = evaluateHealth(
        inputs({ runs: [run(2, 'SUCCESS'), run(1, 'FAILED', { command: 'verify', backupId: 'b-fresh', error: { code: 'CHECKSUM_MISMATCH', message: 'checksum mismatch' } })] }),
      );
      expect(report.status).toBe('CRITICAL');
      const issue = report.issues.find((i) => i.type === 'verify_failed');
      expect(issue?.message).toContain('b-fresh');
      expect(issue?.message).toContain('checksum mismatch');
    });

    it('clears once a later verification passes', () => {
      const report = evaluateHealth(inputs({ runs: [run(3, 'FAILED', { command: 'verify' }), run(2, 'SUCCESS', { verified: true })] }));
      expect(types(report)).toEqual([]);
    });

    it('counts a create run whose own verification failed', () => {
      expect(types(evaluateHealth(inputs({ runs: [run(2, 'SUCCESS'), run(1, 'FAILED', { verified: false })] })))).toContain('verify_failed');
    });
  });

  it('aggregates to the worst level', () => {
    expect(worstStatus([])).toBe('HEALTHY');
    expect(worstStatus([{ level: 'WARNING' }])).toBe('WARNING');
    expect(worstStatus([{ level: 'WARNING' }, { level: 'CRITICAL' }, { level: 'WARNING' }])).toBe('CRITICAL');
    const both = evaluateHealth(inputs({ runs: [run(1, 'FAILED')], targets: [target('local', [backup('b', 40)])] }));
    expect(both.status).toBe('CRITICAL');
    expect(types(both).sort()).toEqual(['backup_failed', 'backup_too_old', 'low_success_rate']);
    expect([healthExitCode('HEALTHY'), healthExitCode('WARNING'), healthExitCode('CRITICAL')]).toEqual([0, 1, 2]);
  });
});

describe('formatAge', () => {
  it('uses at most two units', () => {
    expect(formatAge((3 * 24 + 4) * HOUR + 59_000)).toBe('3d 4h');
    expect(formatAge(5 * HOUR + 12 * 60_000)).toBe('5h 12m');
    expect(formatAge(2 * 24 * HOUR)).toBe('2d');
    expect(formatAge(42 * 60_000)).toBe('42m');
    expect(formatAge(30_000)).toBe('30s');
  });
});

describe('computeRunMetrics', () => {
  it('counts create runs only, averages successful ones, and sums stored copies', () => {
    const runs = [
      run(5, 'SUCCESS', { duration: 10_000, storedSize: 100 }),
      run(4, 'PARTIAL', { duration: 20_000, storedSize: 300 }),
      run(3, 'FAILED', { duration: 1_000 }),
      run(2, 'INTERRUPTED', { duration: 500 }),
      run(1, 'SUCCESS', { command: 'verify', duration: 99_000 }),
    ];
    const copies = [backup('a', 1, 'COMPLETED', 100), backup('a', 1, 'COMPLETED', 100), backup('b', 2, 'INCOMPLETE', 5000)];
    expect(computeRunMetrics(runs, copies)).toEqual({
      totalBackups: 4,
      successfulBackups: 2,
      failedBackups: 2,
      successRate: 0.5,
      averageDuration: 15_000,
      averageSize: 200,
      totalSize: 200,
    });
  });

  it('reports null averages and rate before the first run', () => {
    expect(computeRunMetrics([], [])).toMatchObject({ totalBackups: 0, successRate: null, averageDuration: null, averageSize: null, totalSize: 0 });
  });
});
