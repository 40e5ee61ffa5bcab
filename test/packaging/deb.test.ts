// The Debian package (docs/PACKAGING.md), installed for real with dpkg on this (throw-away, root)
// machine: the command, its man pages and completions, the shipped-disabled systemd units, the
// configuration folder's permissions, and `dpkg -r` / `dpkg -P` leaving nothing behind.
// Needs root and dpkg: skipped otherwise, except in CI (CI=true), where that is a failure.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import { BUILD_TIMEOUT_MS, describe, releaseArtefacts, run, type ReleaseInfo, type RunResult } from './artefacts.js';

const isRoot = process.getuid?.() === 0;
const hasDpkg = spawnSync('dpkg', ['--version']).status === 0;
const unavailable = !isRoot ? 'installing a .deb needs root' : !hasDpkg ? 'dpkg is not installed' : undefined;
if (unavailable && process.env['CI'] === 'true') throw new Error(`deb install test cannot run in CI: ${unavailable}`);

const PACKAGE = 'mongo-backup';
const SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
let release: ReleaseInfo;
/** Files and folders dpkg installed (dpkg -L), read before removing the package. */
let installed: string[] = [];

function dpkg(args: readonly string[]): string {
  return execFileSync('dpkg', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function packageState(): string {
  const status = spawnSync('dpkg-query', ['-W', '-f', '${db:Status-Status}', PACKAGE], { encoding: 'utf8' });
  return status.status === 0 ? status.stdout : 'not-installed';
}

const hasLintian = spawnSync('lintian', ['--version']).status === 0;
/** lintian takes 60–90 s: it runs while dpkg installs the package (its man-db trigger is slow too). */
let lintian: Promise<RunResult> | undefined;

suite.skipIf(unavailable !== undefined)('Debian package', () => {
  beforeAll(async () => {
    release = await releaseArtefacts();
    if (hasLintian) lintian = run('lintian', ['--fail-on', 'error,warning', '--pedantic', release.artefacts.deb.file], { cwd: tmpdir(), env: { PATH: SYSTEM_PATH } });
    const install = await run('dpkg', ['-i', release.artefacts.deb.file], { cwd: tmpdir(), env: { PATH: SYSTEM_PATH } });
    expect(install.code, describe(install)).toBe(0);
    installed = dpkg(['-L', PACKAGE]).trim().split('\n');
  }, BUILD_TIMEOUT_MS);

  afterAll(() => {
    // Leave the machine as it was even when a test failed half-way.
    if (packageState() !== 'not-installed') dpkg(['-P', PACKAGE]);
  });

  it('installs /usr/bin/mongo-backup, which says it is the deb build', async () => {
    expect(packageState()).toBe('installed');
    const version = await run('mongo-backup', ['--version'], { cwd: '/', env: { PATH: SYSTEM_PATH } });
    expect(version.stdout.trim(), describe(version)).toBe(`${release.version} (deb)`);
  });

  it('has a man page for the tool and for each command', () => {
    for (const page of ['mongo-backup', 'mongo-backup-restore', 'mongo-backup-schedule-install', 'mongo-backup-alerts-resolve']) {
      const found = spawnSync('man', ['-w', page], { encoding: 'utf8', env: { PATH: SYSTEM_PATH } });
      expect(found.stdout.trim(), `man -w ${page}: ${found.stderr}`).toBe(`/usr/share/man/man1/${page}.1.gz`);
    }
    const rendered = spawnSync('man', ['mongo-backup-restore'], { encoding: 'utf8', env: { PATH: SYSTEM_PATH, MANPAGER: 'cat', MANWIDTH: '100' } });
    expect(rendered.stdout).toMatch(/--ns-from <pattern>/);
  });

  it('loads its bash completion from the system folder, and ships zsh and fish ones', () => {
    const bash = spawnSync('bash', ['-c', 'source /usr/share/bash-completion/completions/mongo-backup && complete -p mongo-backup'], { encoding: 'utf8' });
    expect(bash.stdout, bash.stderr).toMatch(/complete .*mongo-backup$/m);
    expect(existsSync('/usr/share/zsh/vendor-completions/_mongo-backup')).toBe(true);
    expect(existsSync('/usr/share/fish/vendor_completions.d/mongo-backup.fish')).toBe(true);
    if (spawnSync('fish', ['--version']).status === 0) {
      const fish = spawnSync('fish', ['-c', 'complete -C "mongo-backup res"'], { encoding: 'utf8', env: { PATH: SYSTEM_PATH, HOME: tmpdir() } });
      expect(fish.stdout, fish.stderr).toMatch(/^restore\b/m);
    }
  });

  it('ships the systemd service and timer for /usr/bin/mongo-backup, not enabled', async () => {
    const service = execFileSync('cat', ['/usr/lib/systemd/system/mongo-backup.service'], { encoding: 'utf8' });
    expect(service).toMatch(/^ExecStart=\/usr\/bin\/mongo-backup --config \/etc\/mongo-backup\/backuprc.yaml create --type full --no-progress$/m);
    expect(existsSync('/usr/lib/systemd/system/mongo-backup.timer')).toBe(true);
    expect(existsSync('/etc/systemd/system/timers.target.wants/mongo-backup.timer')).toBe(false);
    if (spawnSync('systemd-analyze', ['--version']).status === 0) {
      const verified = spawnSync('systemd-analyze', ['verify', '/usr/lib/systemd/system/mongo-backup.service', '/usr/lib/systemd/system/mongo-backup.timer'], { encoding: 'utf8' });
      expect(verified.stderr.split('\n').filter((line) => line.includes('mongo-backup.'))).toEqual([]);
    }
  });

  it('creates /etc/mongo-backup readable by root and its group only, and the example config under /usr/share/doc', () => {
    expect(statSync('/etc/mongo-backup').mode & 0o777).toBe(0o750);
    expect(existsSync('/usr/share/doc/mongo-backup/examples/backuprc.yaml')).toBe(true);
    expect(existsSync('/usr/share/doc/mongo-backup/copyright')).toBe(true);
    expect(existsSync('/usr/share/doc/mongo-backup/changelog.Debian.gz')).toBe(true);
  });

  it('lists an empty local target', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mongo-backup-deb-list-'));
    try {
      await writeFile(join(dir, 'backuprc.yaml'), `mongodb: {uri: "mongodb://127.0.0.1:1"}\nstateDir: ${dir}/state\ntargets:\n  - {name: disk, type: local, path: ${dir}/backups}\n`);
      const listed = await run('mongo-backup', ['--config', join(dir, 'backuprc.yaml'), '--json', 'list'], { cwd: dir, env: { PATH: SYSTEM_PATH, HOME: dir } });
      expect(JSON.parse(listed.stdout), describe(listed)).toMatchObject({ success: true, count: 0, backups: [] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!hasLintian && process.env['CI'] !== 'true')(
    'is lintian clean (every remaining tag overridden with its reason in scripts/release/lintian-overrides)',
    async () => {
      if (!lintian) throw new Error('lintian is not installed (scripts/bootstrap installs it)');
      const checked = await lintian;
      const tags = checked.stdout.split('\n').filter((line) => /^[EWIP]: /.test(line));
      expect(tags, describe(checked)).toEqual([]);
      expect(checked.code, describe(checked)).toBe(0);
    },
    300_000,
  );

  it('dpkg -r removes every file it installed, and dpkg -P purges the package', () => {
    // The package ships no conffile (/etc/mongo-backup/ is an empty folder), so nothing may stay.
    expect(execFileSync('dpkg-query', ['-W', '-f', '${Conffiles}', PACKAGE], { encoding: 'utf8' }).trim()).toBe('');
    dpkg(['-r', PACKAGE]);
    const ownFolders = ['/etc/mongo-backup', '/var/lib/mongo-backup', '/usr/share/doc/mongo-backup'];
    const left = installed.filter((path) => existsSync(path) && (!lstatSync(path).isDirectory() || ownFolders.includes(path)));
    expect(left).toEqual([]);
    // Without conffiles or maintainer scripts, dpkg has nothing to keep after -r: not-installed.
    expect(['config-files', 'not-installed']).toContain(packageState());
    dpkg(['-P', PACKAGE]);
    expect(packageState()).toBe('not-installed');
  });
});
