// `health` on drill records planted the way `drill` writes them (docs/FORMAT.md#drill-records),
// dated in the past: the drill-age check turns WARNING past health.maxDrillAgeDays and CRITICAL past
// twice that, a record whose checksum no longer matches its manifest is not counted, and the
// Prometheus file carries the drill gauges.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeDrillRecord, type DrillRecord } from '../../src/engine/drills.js';
import { readManifest } from '../../src/engine/catalog.js';
import { LocalTarget } from '../../src/targets/local.js';
import { localTargetConfig, makeSandbox, runCli, writeBackup, writeRun, type Sandbox } from './health-fixtures.js';

const DAY = 86_400_000;
let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await makeSandbox();
});
afterEach(async () => {
  await sandbox.cleanup();
});

/** A passed drill of backup `id`, `ageDays` ago, restoring `bytes` in `durationMs`; `checksum` defaults to the manifest's. */
async function plantDrill(id: string, ageDays: number, extra: { checksum?: string; bytes?: number; durationMs?: number } = {}): Promise<void> {
  const target = new LocalTarget('local', sandbox.targetDir('local'));
  const manifest = await readManifest(target, id);
  const start = new Date(Date.now() - ageDays * DAY);
  const record: DrillRecord = {
    drillFormat: 1,
    backupId: id,
    startTime: start.toISOString(),
    endTime: new Date(start.getTime() + (extra.durationMs ?? 1000)).toISOString(),
    duration: extra.durationMs ?? 1000,
    host: 'elsewhere',
    tool: { name: 'mongo-backup', version: 'test' },
    target: 'local',
    destination: { hosts: 'scratch:27017', scratch: true },
    objects: [{ backupId: id, object: manifest.object, checksum: extra.checksum ?? manifest.checksum, storedSize: manifest.storedSize, size: manifest.size }],
    bytes: extra.bytes ?? manifest.size,
    namespaces: [],
    phases: { checkMs: 1, verifyMs: 1, restoreMs: 1, countMs: 1, dropMs: 1 },
    parallelism: { collections: 2, insertionWorkers: 1 },
    kept: false,
    result: { passed: true },
  };
  await writeDrillRecord(target, record);
}

async function drillIssue(): Promise<{ code: number; issue?: { level: string; message: string }; json: any }> {
  const result = await runCli(sandbox, ['--json', 'health']);
  return { code: result.code, issue: result.json.health.issues.find((i: { type: string }) => i.type === 'drill_overdue'), json: result.json };
}

describe('health: restore drills', () => {
  beforeEach(async () => {
    await sandbox.writeConfig({ targets: [localTargetConfig(sandbox, 'local')] });
  });

  it('is quiet with a drill inside 35 days, WARNING past 35 and CRITICAL past 70 days', async () => {
    const old = await writeBackup(sandbox, 'local', 100 * 24);
    const { id } = await writeBackup(sandbox, 'local', 2);
    await writeRun(sandbox, 2, 'SUCCESS', { backupId: id });

    await plantDrill(old.id, 71);
    const critical = await drillIssue();
    expect(critical.code).toBe(2);
    expect(critical.issue).toEqual(expect.objectContaining({ level: 'CRITICAL', message: expect.stringContaining('limit 35d') }));

    await plantDrill(old.id, 36);
    const warning = await drillIssue();
    expect(warning.code).toBe(1);
    expect(warning.issue).toEqual(expect.objectContaining({ level: 'WARNING' }));

    await plantDrill(id, 1);
    const fine = await drillIssue();
    expect(fine.code).toBe(0);
    expect(fine.issue).toBeUndefined();
    expect(fine.json.health.metrics.drills.lastPassed).toEqual(expect.objectContaining({ backupId: id, target: 'local' }));
  });

  it('does not count a record whose checksum no longer matches the manifest, and says so', async () => {
    await writeBackup(sandbox, 'local', 40 * 24);
    const { id } = await writeBackup(sandbox, 'local', 2);
    await plantDrill(id, 1, { checksum: `sha256:${'0'.repeat(64)}` });
    const result = await drillIssue();
    expect(result.issue).toEqual(expect.objectContaining({ level: 'WARNING', message: expect.stringContaining('no backup has passed a restore drill') }));
    expect(result.json.health.notes.join('\n')).toContain('is not trusted');
  });

  it('writes the drill gauges to the Prometheus file', async () => {
    const { id } = await writeBackup(sandbox, 'local', 2);
    await plantDrill(id, 1, { durationMs: 2000 });
    const file = join(sandbox.dir, 'metrics.prom');
    await runCli(sandbox, ['health', '--prometheus', file]);
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/^mongo_backup_last_drill_success 1$/m);
    expect(text).toMatch(/^mongo_backup_rto_estimate_seconds 2$/m);
    expect(text).toMatch(/^mongo_backup_last_passed_drill_timestamp_seconds \d+/m);
  });
});
