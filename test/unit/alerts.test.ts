import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackupError } from '../../src/errors.js';
import { deliver, type AlertEvent } from '../../src/notify/index.js';
import {
  alertOnRunFailure,
  alertsPath,
  applyAlertChanges,
  clearRunFailure,
  isActive,
  loadAlerts,
  notifyRunSuccess,
  raiseAlert,
  resolveAlertById,
  resolveCondition,
} from '../../src/state/alerts.js';
import { beginRun } from '../../src/state/journal.js';

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'alerts-'));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

const diskLow = { level: 'WARNING' as const, type: 'low_disk_space', message: 'target local has 1 GB free', target: 'local' };

describe('alert log', () => {
  it('de-duplicates an unresolved condition: one alert, more occurrences, the latest message', async () => {
    const first = await raiseAlert({ stateDir }, diskLow);
    const second = await raiseAlert({ stateDir }, { ...diskLow, message: 'target local has 0.5 GB free' });
    expect(first.isNew).toBe(true);
    expect(second.isNew).toBe(false);
    const alerts = await loadAlerts(stateDir);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ id: first.alert?.id, occurrences: 2, message: 'target local has 0.5 GB free' });
    expect(alerts[0]!.lastSeenAt >= alerts[0]!.createdAt).toBe(true);
  });

  it('keeps conditions on different targets apart', async () => {
    await raiseAlert({ stateDir }, diskLow);
    const other = await raiseAlert({ stateDir }, { ...diskLow, target: 'backup2' });
    expect(other.isNew).toBe(true);
    expect(await loadAlerts(stateDir)).toHaveLength(2);
  });

  it('auto-resolves a condition, and a later recurrence is a new alert', async () => {
    const first = await raiseAlert({ stateDir }, diskLow);
    const resolved = await resolveCondition({ stateDir }, 'low_disk_space', 'local');
    expect(resolved.map((a) => a.id)).toEqual([first.alert?.id]);
    expect(resolved[0]).toMatchObject({ resolution: 'auto' });
    expect((await loadAlerts(stateDir)).filter(isActive)).toEqual([]);
    const again = await raiseAlert({ stateDir }, diskLow);
    expect(again.isNew).toBe(true);
    expect(again.alert?.id).not.toBe(first.alert?.id);
  });

  it('resolves only what the predicate selects', async () => {
    await raiseAlert({ stateDir }, diskLow);
    await raiseAlert({ stateDir }, { level: 'CRITICAL', type: 'target_unreachable', message: 'x', target: 'offsite' });
    const changes = await applyAlertChanges({ stateDir }, [], (alert) => alert.type === 'target_unreachable');
    expect(changes.resolved.map((a) => a.type)).toEqual(['target_unreachable']);
    expect((await loadAlerts(stateDir)).filter(isActive).map((a) => a.type)).toEqual(['low_disk_space']);
  });

  it('resolves by hand by id or unique prefix, with a note', async () => {
    const { alert } = await raiseAlert({ stateDir }, diskLow);
    const id = alert!.id;
    const resolved = await resolveAlertById(stateDir, id.slice(0, 10), 'added a disk');
    expect(resolved).toMatchObject({ id, resolution: 'manual', note: 'added a disk' });
    const again = await resolveAlertById(stateDir, id).catch((e: unknown) => e);
    expect((again as BackupError).message).toContain('already resolved');
    const unknown = await resolveAlertById(stateDir, 'alert-nope').catch((e: unknown) => e);
    expect((unknown as BackupError).code).toBe('NOT_FOUND');
  });

  it('moves a damaged alert log aside with a warning and carries on', async () => {
    await writeFile(alertsPath(stateDir), '{"alerts": [ this is not json');
    const warnings: string[] = [];
    const { isNew } = await raiseAlert({ stateDir }, diskLow, { warn: (m) => warnings.push(m) });
    expect(isNew).toBe(true);
    expect(warnings.join('\n')).toContain('damaged');
    expect((await readdir(stateDir)).some((name) => name.startsWith('alerts.json.corrupt-'))).toBe(true);
    expect(await loadAlerts(stateDir)).toHaveLength(1);
  });

  it('never throws when the state directory is unusable; it warns', async () => {
    const file = join(stateDir, 'not-a-dir');
    await writeFile(file, 'x');
    const warnings: string[] = [];
    await alertOnRunFailure({ stateDir: file }, beginRun('create').finish('FAILED'), { warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
  });

  it('run failures raise one alert per command, cleared by the next success', async () => {
    const failed = beginRun('create').finish('FAILED', { error: { code: 'MONGODUMP_FAILED', message: 'mongodump exited with code 1' } });
    await alertOnRunFailure({ stateDir }, failed);
    await alertOnRunFailure({ stateDir }, failed);
    await alertOnRunFailure({ stateDir }, beginRun('restore').finish('FAILED'));
    let active = (await loadAlerts(stateDir)).filter(isActive);
    expect(active.map((a) => [a.type, a.occurrences]).sort()).toEqual([
      ['backup_failed', 2],
      ['restore_failed', 1],
    ]);
    expect(active.find((a) => a.type === 'backup_failed')?.message).toContain('mongodump exited with code 1');
    await clearRunFailure({ stateDir });
    active = (await loadAlerts(stateDir)).filter(isActive);
    expect(active.map((a) => a.type)).toEqual(['restore_failed']);
  });
});

describe('the alert log lock', () => {
  const lockFile = (): string => `${alertsPath(stateDir)}.lock`;
  const holdLock = (pid: number, host = hostname()): Promise<void> => writeFile(lockFile(), `${pid}\n${host}\n`);

  it('waits for a lock another process holds, then records the change and removes its own lock', async () => {
    await holdLock(process.pid);
    const warnings: string[] = [];
    const raising = raiseAlert({ stateDir }, diskLow, { warn: (m) => warnings.push(m) });
    // Released by its holder while we wait (the holder keeps it for milliseconds in real runs).
    setTimeout(() => void rm(lockFile()), 100);
    const { isNew } = await raising;
    expect(isNew).toBe(true);
    expect(warnings).toEqual([]);
    expect(await loadAlerts(stateDir)).toHaveLength(1);
    expect(existsSync(lockFile())).toBe(false);
  });

  it('takes over at once a lock whose holder no longer runs on this host', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    await holdLock(dead);
    const warnings: string[] = [];
    await raiseAlert({ stateDir }, diskLow, { warn: (m) => warnings.push(m), lockWaitMs: 60_000 });
    expect(warnings).toEqual([]);
    expect(await loadAlerts(stateDir)).toHaveLength(1);
    expect(existsSync(lockFile())).toBe(false);
  });

  it('does not carry on silently when the lock stays held: it waits its time, records the change and says so', async () => {
    await holdLock(process.pid, 'another-host');
    const warnings: string[] = [];
    const started = Date.now();
    await raiseAlert({ stateDir }, diskLow, { warn: (m) => warnings.push(m), lockWaitMs: 200 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(warnings).toEqual([expect.stringMatching(/^the alert log is still locked by another process after 0\.2 s .*updating it anyway/)]);
    expect(await loadAlerts(stateDir)).toHaveLength(1);
    // The other process's lock is left to it.
    expect(await readFile(lockFile(), 'utf8')).toBe(`${process.pid}\nanother-host\n`);
  });
});

// ---- delivery ----

interface Received {
  body: Record<string, unknown>;
}

async function startReceiver(statuses: number[]): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
      res.statusCode = statuses[Math.min(received.length - 1, statuses.length - 1)] ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks/secret-token`, received, server };
}

const event: AlertEvent = { id: 'alert-1', level: 'CRITICAL', type: 'target_unreachable', message: 'target offsite is unreachable', target: 'offsite', status: 'raised', createdAt: '2026-01-01T00:00:00.000Z' };

describe('webhook delivery', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
    server = undefined;
  });

  it('retries server errors and delivers a Slack-compatible JSON body', async () => {
    const receiver = await startReceiver([500, 503, 200]);
    server = receiver.server;
    const warnings: string[] = [];
    await deliver({ webhook: receiver.url }, event, { warn: (m) => warnings.push(m), retryDelaysMs: [10, 10] });
    expect(warnings).toEqual([]);
    expect(receiver.received).toHaveLength(3);
    const body = receiver.received[2]!.body;
    expect(body).toMatchObject({ id: 'alert-1', level: 'CRITICAL', type: 'target_unreachable', target: 'offsite', status: 'raised' });
    expect(String(body.text)).toContain('CRITICAL target_unreachable');
    expect(String(body.text)).toContain('target offsite is unreachable');
  });

  it('says why an alert was not sent when its channel was left out of the configuration', async () => {
    const warnings: string[] = [];
    const problem = new Error('configuration: alerts.webhook refers to environment variable NOPE_HOOK, which is not set');
    await deliver({ problem }, event, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([`alert not sent: ${problem.message}`]);
  });

  it('gives up after three tries with a warning that does not reveal the URL path', async () => {
    const receiver = await startReceiver([500]);
    server = receiver.server;
    const warnings: string[] = [];
    await deliver({ webhook: receiver.url }, event, { warn: (m) => warnings.push(m), retryDelaysMs: [10, 10] });
    expect(receiver.received).toHaveLength(3);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('HTTP 500');
    expect(warnings[0]).not.toContain('secret-token');
  });

  it('does not retry a request the receiver rejected', async () => {
    const receiver = await startReceiver([400]);
    server = receiver.server;
    const warnings: string[] = [];
    await deliver({ webhook: receiver.url }, event, { warn: (m) => warnings.push(m), retryDelaysMs: [10, 10] });
    expect(receiver.received).toHaveLength(1);
    expect(warnings[0]).toContain('HTTP 400');
  });

  it('times out a receiver that never answers', async () => {
    const hanging = createServer(() => {
      /* never responds */
    });
    await new Promise<void>((done) => hanging.listen(0, '127.0.0.1', done));
    server = hanging;
    const { port } = hanging.address() as AddressInfo;
    const warnings: string[] = [];
    await deliver({ webhook: `http://127.0.0.1:${port}/`, webhookTimeoutMs: 200 }, event, { warn: (m) => warnings.push(m), retryDelaysMs: [] });
    hanging.closeAllConnections();
    expect(warnings[0]).toContain('no answer within 200 ms');
  });
});

describe('command delivery', () => {
  it('runs the command without a shell, with the alert in the environment and without the tool secrets', async () => {
    const out = join(stateDir, 'env.txt');
    const script = join(stateDir, 'notify.sh');
    await writeFile(script, `#!/bin/sh\nenv > "${out}"\n`);
    await chmod(script, 0o755);
    process.env.BACKUP_ENCRYPTION_KEY = 'a'.repeat(64);
    try {
      const warnings: string[] = [];
      await deliver({ command: script }, { ...event, message: 'quote " and $(touch /tmp/pwned) stay text' }, { warn: (m) => warnings.push(m) });
      expect(warnings).toEqual([]);
    } finally {
      delete process.env.BACKUP_ENCRYPTION_KEY;
    }
    const env = await readFile(out, 'utf8');
    expect(env).toContain('MONGO_BACKUP_ALERT_ID=alert-1');
    expect(env).toContain('MONGO_BACKUP_ALERT_LEVEL=CRITICAL');
    expect(env).toContain('MONGO_BACKUP_ALERT_TYPE=target_unreachable');
    expect(env).toContain('MONGO_BACKUP_ALERT_TARGET=offsite');
    expect(env).toContain('MONGO_BACKUP_ALERT_STATUS=raised');
    expect(env).toContain('MONGO_BACKUP_ALERT_MESSAGE=quote " and $(touch /tmp/pwned) stay text');
    expect(env).not.toContain('BACKUP_ENCRYPTION_KEY');
  });

  it('reports a failing or missing command as a warning', async () => {
    const warnings: string[] = [];
    await deliver({ command: join(stateDir, 'missing') }, event, { warn: (m) => warnings.push(m) });
    await deliver({ command: '/bin/false' }, event, { warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('not found');
    expect(warnings[1]).toContain('code 1');
  });

  it('sends success notices only when notifyOnSuccess is set', async () => {
    const out = join(stateDir, 'ok.txt');
    const script = join(stateDir, 'notify.sh');
    await writeFile(script, `#!/bin/sh\necho "$MONGO_BACKUP_ALERT_STATUS $MONGO_BACKUP_ALERT_TYPE" >> "${out}"\n`);
    await chmod(script, 0o755);
    const record = beginRun('create').finish('SUCCESS', { backupId: 'backup-2026-01-01-000000-abcdef', storedSize: 10 });
    await notifyRunSuccess({ stateDir, alerts: { command: script } }, record);
    await expect(readFile(out, 'utf8')).rejects.toThrow();
    await notifyRunSuccess({ stateDir, alerts: { command: script, notifyOnSuccess: true } }, record);
    expect(await readFile(out, 'utf8')).toBe('ok create_succeeded\n');
  });
});
