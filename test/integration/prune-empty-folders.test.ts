// A run killed right as its dump starts leaves an empty `backup-…/` folder and nothing else (seen
// on SFTP: no manifest, no temporary file). What the operator sees: `prune` names it and, once it
// is older than incompleteGracePeriod, removes it; a young one stays (docs/TARGETS.md#optional-capabilities).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { stringify } from 'yaml';
import { newBackupId } from '../../src/engine/ids.js';
import { ftpFolders, localFolders, sftpFolders, type FolderAccess } from '../conformance/folders.js';
import { peerOrSkip } from '../setup/testbed.js';
import { describeRun, runCli } from './helpers.js';

const HOUR = 60 * 60 * 1000;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mongo-backup-empty-folders-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Case {
  target: Record<string, unknown>;
  folders: FolderAccess;
}

const prefix = `empty-folders-${Date.now().toString(36)}`;

const cases: Array<[string, (context: TestContext) => Promise<Case>]> = [
  ['local', async () => ({ target: { name: 'near', type: 'local', path: join(dir, 'backups') }, folders: localFolders(join(dir, 'backups')) })],
  [
    'sftp',
    async (context) => {
      const peer = peerOrSkip('sftp', context);
      const { host, port, username, privateKeyPath, hostFingerprint, path } = peer;
      return { target: { name: 'vault', type: 'sftp', prefix, host, port, username, privateKey: privateKeyPath, hostFingerprint, path }, folders: await sftpFolders(peer, prefix) };
    },
  ],
  [
    'ftp',
    async (context) => {
      const peer = peerOrSkip('ftp', context);
      const { host, port, user, passwordFile, path } = peer;
      return { target: { name: 'ftp', type: 'ftp', prefix, host, port, user, passwordFile, path }, folders: await ftpFolders(peer, prefix) };
    },
  ],
];

describe.each(cases)('prune and an empty backup folder: %s', (name, setUp) => {
  it('names it in a dry run, removes it once older than the grace period, keeps a young one', async (context) => {
    const { target, folders } = await setUp(context);
    context.onTestFinished(() => folders.close());
    const config = join(dir, `${name}.yaml`);
    await writeFile(config, stringify({ stateDir: join(dir, `state-${name}`), incompleteGracePeriod: '1h', targets: [target] }));
    const old = newBackupId(new Date(Date.now() - 3 * HOUR));
    const young = newBackupId();
    await folders.plantEmpty(old, 2 * HOUR);
    await folders.plantEmpty(young, 0);
    const prune = (...args: string[]) => runCli(['--config', config, 'prune', ...args], { cwd: dir, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir, NO_COLOR: '1' } });

    const dryRun = await prune('--dry-run');
    expect(dryRun.code, describeRun(dryRun)).toBe(0);
    expect(dryRun.stdout).toContain(`would remove leftover ${old}/`);
    expect(dryRun.stdout).not.toContain(young);
    expect(await folders.exists(old)).toBe(true);

    const real = await prune();
    expect(real.code, describeRun(real)).toBe(0);
    expect(real.stdout).toContain(`removed leftover empty folder ${old}/`);
    expect(await folders.exists(old)).toBe(false);
    expect(await folders.exists(young)).toBe(true);

    const again = await prune('--json');
    expect(again.code, describeRun(again)).toBe(0);
    expect(again.json<{ prune: { targets: Array<{ leftovers: string[] }> } }>().prune.targets[0]!.leftovers).toEqual([]);
  });
});
