// Alerts end to end through the built CLI: `health` raises alerts for its checks, delivers new ones
// to a webhook (a receiver on 127.0.0.1) and a command (a script that writes its environment to a
// file), does not repeat them while they stay open, and resolves them when the condition clears.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localTargetConfig, makeSandbox, runCli, startReceiver, writeBackup, type Receiver, type Sandbox } from './health-fixtures.js';

let sandbox: Sandbox;
let receiver: Receiver;
let commandLog: string;

beforeEach(async () => {
  sandbox = await makeSandbox();
  receiver = await startReceiver();
  commandLog = join(sandbox.dir, 'notify.log');
  const script = join(sandbox.dir, 'notify.sh');
  // One line per notification: the alert variables, tab-separated.
  await writeFile(
    script,
    `#!/bin/sh\nprintf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$MONGO_BACKUP_ALERT_ID" "$MONGO_BACKUP_ALERT_LEVEL" "$MONGO_BACKUP_ALERT_TYPE" "$MONGO_BACKUP_ALERT_TARGET" "$MONGO_BACKUP_ALERT_STATUS" "$MONGO_BACKUP_ALERT_MESSAGE" >> "${commandLog}"\n`,
  );
  await chmod(script, 0o755);
  await sandbox.writeConfig({
    targets: [localTargetConfig(sandbox, 'local')],
    alerts: { webhook: receiver.url, command: script },
  });
});

afterEach(async () => {
  await receiver.close();
  await sandbox.cleanup();
});

async function commandLines(): Promise<string[][]> {
  const text = await readFile(commandLog, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\t'));
}

describe('alerts', () => {
  it('notifies a new alert once, keeps counting it, and resolves it when the condition clears', async () => {
    // No backup yet: CRITICAL backup_too_old.
    expect((await runCli(sandbox, ['health'])).code).toBe(2);
    await receiver.waitFor(1);
    const raised = receiver.requests[0]!;
    expect(raised).toMatchObject({ level: 'CRITICAL', type: 'backup_too_old', status: 'raised', message: 'no completed backup yet' });
    expect(raised.id).toMatch(/^alert-[0-9a-f]{8}$/);
    expect(raised.text).toContain('CRITICAL backup_too_old');
    expect(raised.text).toContain('no completed backup yet');
    expect(await commandLines()).toEqual([[raised.id, 'CRITICAL', 'backup_too_old', '', 'raised', 'no completed backup yet']]);

    // Still failing: no second notification, one more occurrence.
    expect((await runCli(sandbox, ['health'])).code).toBe(2);
    const listed = await runCli(sandbox, ['--json', 'alerts', 'list']);
    expect(listed.json).toMatchObject({ success: true, count: 1, alerts: [{ id: raised.id, occurrences: 2 }] });
    expect(receiver.requests).toHaveLength(1);
    expect(await commandLines()).toHaveLength(1);

    // A backup arrives: the next health run resolves the alert and says so (INFO, resolved).
    await writeBackup(sandbox, 'local', 1);
    expect((await runCli(sandbox, ['health'])).code).toBe(0);
    await receiver.waitFor(2);
    expect(receiver.requests[1]).toMatchObject({ id: raised.id, level: 'INFO', type: 'backup_too_old', status: 'resolved' });
    expect((await commandLines())[1]).toEqual([raised.id, 'INFO', 'backup_too_old', '', 'resolved', 'condition cleared: no completed backup yet']);

    const active = await runCli(sandbox, ['--json', 'alerts', 'list']);
    expect(active.json.count).toBe(0);
    const all = await runCli(sandbox, ['--json', 'alerts', 'list', '--all']);
    expect(all.json.alerts).toEqual([expect.objectContaining({ id: raised.id, resolution: 'auto', resolvedAt: expect.any(String) })]);
    expect((await runCli(sandbox, ['alerts', 'list'])).stdout).toContain('No unresolved alerts.');
  });

  it('names the target in notifications about a target', async () => {
    await writeBackup(sandbox, 'local', 1);
    await sandbox.writeConfig({
      targets: [localTargetConfig(sandbox, 'local'), { name: 'vault', type: 'local', path: join(commandLog, 'cannot-exist') }],
      alerts: { webhook: receiver.url },
    });
    await writeFile(commandLog, '');
    expect((await runCli(sandbox, ['health'])).code).toBe(2);
    await receiver.waitFor(1);
    expect(receiver.requests[0]).toMatchObject({ level: 'CRITICAL', type: 'target_unreachable', target: 'vault', status: 'raised' });
    expect(receiver.requests[0]!.text).toContain('(target vault)');
  });

  it('resolves an alert by hand with a note, and lists it with --all', async () => {
    await runCli(sandbox, ['health']);
    const listed = await runCli(sandbox, ['--json', 'alerts', 'list']);
    const id: string = listed.json.alerts[0].id;
    const resolved = await runCli(sandbox, ['--json', 'alerts', 'resolve', id, '--note', 'restoring from tape instead']);
    expect(resolved.code, resolved.stderr).toBe(0);
    expect(resolved.json).toMatchObject({ success: true, alert: { id, resolution: 'manual', note: 'restoring from tape instead' } });
    expect((await runCli(sandbox, ['--json', 'alerts', 'list'])).json.count).toBe(0);
    const human = await runCli(sandbox, ['alerts', 'list', '--all']);
    expect(human.stdout).toContain(id);
    expect(human.stdout).toContain('manual: restoring from tape instead');

    const again = await runCli(sandbox, ['--json', 'alerts', 'resolve', id]);
    expect(again.code, again.stderr).toBe(1);
    expect(again.json.error.message).toContain('already resolved');
    const unknown = await runCli(sandbox, ['--json', 'alerts', 'resolve', 'alert-00000000']);
    expect(unknown.code, unknown.stderr).toBe(1);
    expect(unknown.json).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
  });

  it('does not fail health when the notifiers are broken; it warns', async () => {
    await sandbox.writeConfig({
      targets: [localTargetConfig(sandbox, 'local')],
      alerts: { webhook: 'http://127.0.0.1:1/hook', command: join(sandbox.dir, 'no-such-notifier'), webhookTimeoutMs: 1000 },
    });
    await writeBackup(sandbox, 'local', 40);
    const result = await runCli(sandbox, ['--json', 'health']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.json.health.status).toBe('CRITICAL');
    expect(result.stderr).toContain('alert webhook failed');
    expect(result.stderr).toContain('alert command failed');
  });
});
