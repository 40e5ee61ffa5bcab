// `health`, `metrics` and `health --prometheus` run through the built CLI against local targets in
// a temporary directory, with backups written the way `create` lays them out.
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localTargetConfig, makeSandbox, parsePrometheus, runCli, writeBackup, writeRun, type Sandbox } from './health-fixtures.js';

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await makeSandbox();
});
afterEach(async () => {
  await sandbox.cleanup();
});

async function oneLocalTarget(health: Record<string, unknown> = {}): Promise<void> {
  await sandbox.writeConfig({ targets: [localTargetConfig(sandbox, 'local')], health });
}

const issueTypes = (json: any): string[] => json.health.issues.map((i: { type: string }) => i.type).sort();

describe('health', () => {
  it('is CRITICAL (exit 2) before the first backup, with success:true in the JSON', async () => {
    await oneLocalTarget();
    const result = await runCli(sandbox, ['--json', 'health']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.json.success).toBe(true);
    expect(result.json.health.status).toBe('CRITICAL');
    expect(result.json.health.issues).toEqual([{ level: 'CRITICAL', type: 'backup_too_old', message: 'no completed backup yet' }]);
  });

  it('is HEALTHY (exit 0) with a fresh backup, and says so in a readable report', async () => {
    await oneLocalTarget();
    const { id } = await writeBackup(sandbox, 'local', 1);
    await writeRun(sandbox, 1, 'SUCCESS', { backupId: id });
    const json = await runCli(sandbox, ['--json', 'health']);
    expect(json.code, json.stderr).toBe(0);
    expect(json.json.health.status).toBe('HEALTHY');
    expect(json.json.health.issues).toEqual([]);
    expect(json.json.health.metrics.newestBackup.id).toBe(id);
    expect(json.json.health.metrics.targets).toEqual([expect.objectContaining({ name: 'local', reachable: true, backups: 1 })]);

    const human = await runCli(sandbox, ['health']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('Health: HEALTHY');
    expect(human.stdout).toMatch(/local\s+ok\s+1\s+/);
    expect(human.stdout).toContain(id);
  });

  it('is CRITICAL when the newest backup is older than maxAgeHours, saying how old', async () => {
    await oneLocalTarget();
    await writeBackup(sandbox, 'local', 3 * 24 + 4.5);
    await writeBackup(sandbox, 'local', 10 * 24);
    const result = await runCli(sandbox, ['--json', 'health']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.json.health.issues).toHaveLength(1);
    expect(result.json.health.issues[0].message).toContain('newest completed backup is 3d 4h old (limit 26h)');

    await oneLocalTarget({ maxAgeHours: 100 });
    expect((await runCli(sandbox, ['--json', 'health'])).code).toBe(0);
  });

  it('warns (exit 1) when the last backup run failed', async () => {
    await oneLocalTarget();
    const { id } = await writeBackup(sandbox, 'local', 3);
    for (let i = 0; i < 9; i++) await writeRun(sandbox, 100 - i, 'SUCCESS');
    await writeRun(sandbox, 3, 'SUCCESS', { backupId: id });
    await writeRun(sandbox, 1, 'FAILED', { error: { code: 'MONGODUMP_FAILED', message: 'mongodump exited with code 1: connection refused' } });
    const result = await runCli(sandbox, ['--json', 'health']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.json.health.status).toBe('WARNING');
    // 10 of 11 runs succeeded: above the 90% minimum, so only the failed run is reported.
    expect(result.json.health.issues).toEqual([
      expect.objectContaining({ level: 'WARNING', type: 'backup_failed', message: expect.stringContaining('connection refused') }),
    ]);
  });

  it('is CRITICAL naming a target that cannot be reached', async () => {
    const blocker = join(sandbox.dir, 'a-file');
    await writeFile(blocker, 'not a directory');
    await sandbox.writeConfig({
      targets: [localTargetConfig(sandbox, 'local'), { name: 'broken', type: 'local', path: join(blocker, 'backups') }],
    });
    await writeBackup(sandbox, 'local', 1);
    const result = await runCli(sandbox, ['--json', 'health']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.json.health.issues).toEqual([expect.objectContaining({ level: 'CRITICAL', type: 'target_unreachable', target: 'broken' })]);
    expect(result.json.health.issues[0].message).toContain('target broken is unreachable');
    const human = await runCli(sandbox, ['health']);
    expect(human.stdout).toMatch(/broken\s+unreachable/);
  });

  it('treats a network target on a closed port as unreachable within the time limit', async () => {
    await sandbox.writeConfig({
      targets: [
        localTargetConfig(sandbox, 'local'),
        { name: 'offsite', type: 's3', bucket: 'b', region: 'us-east-1', endpoint: 'http://127.0.0.1:1', forcePathStyle: true },
      ],
    });
    await writeBackup(sandbox, 'local', 1);
    const started = Date.now();
    const result = await runCli(sandbox, ['--json', 'health', '--timeout', '10'], { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(result.code, result.stderr).toBe(2);
    expect(issueTypes(result.json)).toEqual(['target_unreachable']);
    expect(result.json.health.issues[0].target).toBe('offsite');
  });

  it('warns when a local target is below the free-space threshold', async () => {
    await oneLocalTarget({ minFreeDiskPercent: 100 });
    await writeBackup(sandbox, 'local', 1);
    const result = await runCli(sandbox, ['--json', 'health']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.json.health.issues).toEqual([expect.objectContaining({ level: 'WARNING', type: 'low_disk_space', target: 'local' })]);
    expect(result.json.health.metrics.targets[0].freeBytes).toBeGreaterThan(0);
  });

  it('warns when the newest backup is missing from one of two targets', async () => {
    await sandbox.writeConfig({ targets: [localTargetConfig(sandbox, 'first'), localTargetConfig(sandbox, 'second')] });
    const older = await writeBackup(sandbox, 'first', 5);
    await writeBackup(sandbox, 'second', 5, older.id);
    const newest = await writeBackup(sandbox, 'first', 1);
    const result = await runCli(sandbox, ['--json', 'health']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.json.health.issues).toEqual([expect.objectContaining({ level: 'WARNING', type: 'backup_missing_on_target', target: 'second' })]);
    expect(result.json.health.issues[0].message).toContain(newest.id);

    // A backup made with --target first (its run names only that target) is not expected on second.
    await writeRun(sandbox, 1, 'SUCCESS', { backupId: newest.id, targets: { first: { status: 'ok' } } });
    expect((await runCli(sandbox, ['--json', 'health'])).code).toBe(0);
  });

  it('writes node_exporter textfile metrics atomically with --prometheus', async () => {
    await sandbox.writeConfig({ targets: [localTargetConfig(sandbox, 'local'), localTargetConfig(sandbox, 'other')] });
    const backupOne = await writeBackup(sandbox, 'local', 2);
    const backupTwo = await writeBackup(sandbox, 'local', 1);
    await writeBackup(sandbox, 'other', 1, backupTwo.id);
    await writeRun(sandbox, 2, 'SUCCESS', { backupId: backupOne.id, storedSize: backupOne.storedSize });
    const lastRun = await writeRun(sandbox, 1, 'SUCCESS', { backupId: backupTwo.id, storedSize: 4242, duration: 12_500 });
    const textfileDir = join(sandbox.dir, 'textfile');
    await mkdir(textfileDir);
    const file = join(textfileDir, 'mongo_backup.prom');

    const result = await runCli(sandbox, ['health', '--prometheus', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(await readdir(textfileDir)).toEqual(['mongo_backup.prom']);
    const { samples, help, types } = parsePrometheus(await readFile(file, 'utf8'));
    const value = (name: string, labels: Record<string, string> = {}): number | undefined =>
      samples.get(name)?.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels))?.value;

    for (const name of samples.keys()) {
      expect(help.has(name), `HELP for ${name}`).toBe(true);
      expect(types.get(name), `TYPE for ${name}`).toBe('gauge');
    }
    expect(value('mongo_backup_last_success_timestamp_seconds')).toBeCloseTo(Date.parse(lastRun.endTime) / 1000, 0);
    expect(value('mongo_backup_last_run_status')).toBe(1);
    expect(value('mongo_backup_last_duration_seconds')).toBe(12.5);
    expect(value('mongo_backup_last_size_bytes')).toBe(4242);
    expect(value('mongo_backup_target_up', { target: 'local' })).toBe(1);
    expect(value('mongo_backup_target_up', { target: 'other' })).toBe(1);
    expect(value('mongo_backup_backups', { target: 'local' })).toBe(2);
    expect(value('mongo_backup_backups', { target: 'other' })).toBe(1);
    expect(value('mongo_backup_active_alerts')).toBe(0);
    expect(value('mongo_backup_health_status')).toBe(0);

    // A failing run and a missing target show up in the next file.
    await writeRun(sandbox, 0, 'FAILED', { error: { code: 'FAILED', message: 'x' } });
    await sandbox.writeConfig({
      targets: [localTargetConfig(sandbox, 'local'), { name: 'other', type: 'local', path: join(file, 'not-a-dir') }],
    });
    expect((await runCli(sandbox, ['health', '--prometheus', file])).code).toBe(2);
    const after = parsePrometheus(await readFile(file, 'utf8')).samples;
    expect(after.get('mongo_backup_last_run_status')?.[0]?.value).toBe(0);
    expect(after.get('mongo_backup_target_up')).toContainEqual({ labels: { target: 'other' }, value: 0 });
    expect(after.get('mongo_backup_health_status')?.[0]?.value).toBe(2);
    expect(after.get('mongo_backup_active_alerts')?.[0]?.value).toBeGreaterThanOrEqual(2);
  });
});

describe('health --prometheus into a directory that does not exist', () => {
  it('still reports the status, prints an error and exits non-zero', async () => {
    await oneLocalTarget();
    await writeBackup(sandbox, 'local', 1);
    const file = join(sandbox.dir, 'no-such-dir', 'mongo_backup.prom');
    const result = await runCli(sandbox, ['--json', 'health', '--prometheus', file]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.json.health.status).toBe('HEALTHY');
    expect(result.stderr).toContain(`could not write Prometheus metrics to ${file}`);
  });
});

describe('metrics', () => {
  it('reports totals from the run journal and stored bytes from the targets', async () => {
    await oneLocalTarget();
    const a = await writeBackup(sandbox, 'local', 3);
    const b = await writeBackup(sandbox, 'local', 1);
    await writeRun(sandbox, 3, 'SUCCESS', { backupId: a.id, storedSize: 1000, duration: 10_000 });
    await writeRun(sandbox, 2, 'FAILED', { duration: 500 });
    await writeRun(sandbox, 1, 'SUCCESS', { backupId: b.id, storedSize: 3000, duration: 30_000 });
    await writeRun(sandbox, 1, 'SUCCESS', { command: 'verify', duration: 1 });
    const result = await runCli(sandbox, ['--json', 'metrics']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json).toEqual({
      success: true,
      metrics: {
        totalBackups: 3,
        successfulBackups: 2,
        failedBackups: 1,
        successRate: 0.6667,
        averageDuration: 20_000,
        averageSize: 2000,
        totalSize: a.storedSize + b.storedSize,
        // The one failure in three runs is below the 90% success rate.
        healthStatus: 'WARNING',
        activeAlerts: 0,
      },
    });
    const human = await runCli(sandbox, ['metrics']);
    expect(human.stdout).toMatch(/success rate\s+66\.7%/);
    expect(human.stdout).toMatch(/average duration\s+20\.0 s/);
  });
});
