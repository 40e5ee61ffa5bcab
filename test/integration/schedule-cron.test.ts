// Crontab entries written by `schedule --cron --crontab-file`: install adds one tagged line and
// leaves everything else byte-identical, installing twice keeps one line, remove restores the file.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '../..');
const node = join(repoRoot, 'node_modules/.bin/node');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let workDir: string;

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      node,
      [join(repoRoot, 'bin/mongo-backup'), ...args],
      { cwd: workDir, env: { PATH: process.env.PATH, HOME: workDir, NO_COLOR: '1', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** root logs to /var/log; anyone else under their home directory (HOME is the work dir here). */
function defaultLogFile(): string {
  return process.getuid?.() === 0 ? '/var/log/mongo-backup.log' : join(workDir, '.local/state/mongo-backup/cron.log');
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'mongo-backup-cron-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

// Comments, variables, blank lines, other jobs (one with a %), trailing spaces and a commented-out
// old entry with our tag: none of it may change.
const ORIGINAL = [
  '# Edit this file to introduce tasks to be run by cron.',
  '#',
  'SHELL=/bin/sh',
  'MAILTO=ops@example.com',
  '',
  '*/5 * * * * /usr/local/bin/rotate-logs --keep 7   ',
  '15 3 * * 0 date +\\%F >> /tmp/weekly.log',
  '# 0 1 * * * old-backup-job # mongo-backup:full',
  '',
  '@reboot /usr/local/bin/warm-cache',
  '',
].join('\n');

describe('schedule --cron with --crontab-file', () => {
  it('install adds one tagged line, a second install replaces it, remove restores the file exactly', async () => {
    const crontab = join(workDir, 'crontab');
    const configFile = join(workDir, 'backuprc.yaml');
    await writeFile(configFile, 'targets:\n  - name: local\n    type: local\n    path: ./b\n');
    await writeFile(crontab, ORIGINAL, { mode: 0o600 });

    const first = await cli(['--config', configFile, 'schedule', 'install', '--cron', '--crontab-file', crontab, '--at', '30 1 * * *']);
    expect(first.code, first.stderr).toBe(0);
    const afterFirst = await readFile(crontab, 'utf8');
    expect(afterFirst.startsWith(ORIGINAL)).toBe(true);
    const added = afterFirst.slice(ORIGINAL.length);
    expect(added).toBe(
      `30 1 * * * cd ${workDir} && ${join(repoRoot, 'node_modules/node/bin/node')} ${join(repoRoot, 'bin/mongo-backup')} --config ${configFile} ` +
        `create --type full --no-progress >> ${defaultLogFile()} 2>&1 # mongo-backup:full\n`,
    );
    // The file keeps its mode (crontabs are private).
    expect((await stat(crontab)).mode & 0o777).toBe(0o600);

    const second = await cli(['--config', configFile, 'schedule', 'install', '--crontab-file', crontab, '--at', '@hourly']);
    expect(second.code, second.stderr).toBe(0);
    const afterSecond = await readFile(crontab, 'utf8');
    expect(afterSecond.match(/# mongo-backup:full$/gm)).toHaveLength(2); // ours + the commented-out one
    expect(afterSecond.startsWith(ORIGINAL)).toBe(true);
    expect(afterSecond.slice(ORIGINAL.length)).toMatch(/^0 \* \* \* \* cd .* # mongo-backup:full\n$/);

    // Incrementals get their own tagged line beside the full one; --every 30m is every 30th minute.
    const beforeIncremental = await readFile(crontab, 'utf8');
    const incremental = await cli(['schedule', 'install', '--crontab-file', crontab, '--type', 'incremental', '--every', '30m']);
    expect(incremental.code, incremental.stderr).toBe(0);
    const withIncremental = await readFile(crontab, 'utf8');
    expect(withIncremental.startsWith(beforeIncremental)).toBe(true);
    expect(withIncremental.slice(beforeIncremental.length)).toMatch(/^\*\/30 \* \* \* \* cd .* create --type incremental --no-progress .*# mongo-backup:incremental\n$/);
    // An interval a cron expression cannot keep exactly is refused, the file untouched.
    const uneven = await cli(['schedule', 'install', '--crontab-file', crontab, '--type', 'incremental', '--every', '7h']);
    expect(uneven.code).toBe(2);
    expect(uneven.stderr).toMatch(/--every 7h cannot be kept exactly/);
    expect(await readFile(crontab, 'utf8')).toBe(withIncremental);

    const removeFull = await cli(['--json', 'schedule', 'remove', '--crontab-file', crontab]);
    expect(removeFull.code, removeFull.stderr).toBe(0);
    const removed = JSON.parse(removeFull.stdout) as { schedule: { kind: string; removed: boolean; files: Array<{ content: string }> } };
    expect(removed.schedule).toMatchObject({ kind: 'cron', removed: true });
    expect(removed.schedule.files[0]?.content).toMatch(/^0 \* \* \* \* /);

    const removeIncremental = await cli(['schedule', 'remove', '--crontab-file', crontab, '--type', 'incremental']);
    expect(removeIncremental.code, removeIncremental.stderr).toBe(0);
    expect(await readFile(crontab, 'utf8')).toBe(ORIGINAL);

    const nothing = await cli(['schedule', 'remove', '--crontab-file', crontab]);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toMatch(/Nothing to remove/);
    expect(await readFile(crontab, 'utf8')).toBe(ORIGINAL);
  });

  it('creates the file when it does not exist, and remove leaves it empty', async () => {
    const crontab = join(workDir, 'new-crontab');
    expect((await cli(['schedule', 'install', '--crontab-file', crontab, '--log-file', join(workDir, 'x.log')])).code).toBe(0);
    expect(await readFile(crontab, 'utf8')).toMatch(/^0 2 \* \* \* cd .*>> .*x\.log 2>&1 # mongo-backup:full\n$/);
    expect((await cli(['schedule', 'remove', '--crontab-file', crontab])).code).toBe(0);
    expect(await readFile(crontab, 'utf8')).toBe('');
  });

  it('refuses install with exit 2 when ENABLE_AUTO_BACKUP=false, leaving the file untouched', async () => {
    const crontab = join(workDir, 'disabled-crontab');
    await writeFile(crontab, ORIGINAL);
    const result = await cli(['--json', 'schedule', 'install', '--crontab-file', crontab], { ENABLE_AUTO_BACKUP: 'false' });
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ success: false, error: { message: expect.stringMatching(/ENABLE_AUTO_BACKUP=false/) } });
    expect(await readFile(crontab, 'utf8')).toBe(ORIGINAL);
  });

  it('print shows the line and does not touch the file', async () => {
    const crontab = join(workDir, 'printed-crontab');
    const result = await cli(['schedule', 'print', '--crontab-file', crontab, '--at', '0 3 * * MON-FRI']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^0 3 \* \* MON-FRI cd .* create --type full --no-progress >> .* 2>&1 # mongo-backup:full\n$/);
    await expect(stat(crontab)).rejects.toThrow(/ENOENT/);
  });

  it('schedules a monthly drill with its destination, and refuses one without', async () => {
    const crontab = join(workDir, 'drill-crontab');
    const result = await cli(['schedule', 'print', '--crontab-file', crontab, '--type', 'drill', '--drill-prefix', 'drill_']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^0 4 1 \* \* cd .* drill latest --prefix drill_ --no-progress >> .* 2>&1 # mongo-backup:drill\n$/);
    const bare = await cli(['schedule', 'print', '--crontab-file', crontab, '--type', 'drill']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('--drill-prefix P or --drill-uri SCRATCH');
    const secret = await cli(['schedule', 'print', '--crontab-file', crontab, '--type', 'drill', '--drill-uri', 'mongodb://u:pw@scratch:27017']);
    expect(secret.code).toBe(2);
  });

  it('refuses --randomized-delay for cron (exit 2)', async () => {
    const result = await cli(['schedule', 'print', '--cron', '--randomized-delay', '10m']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--randomized-delay needs a systemd timer/);
  });
});

describe('schedule --cron with the crontab command', () => {
  // A stand-in for crontab(1) with its protocol: `-l` prints the table or fails with
  // "no crontab for USER", `-` replaces it from stdin. It keeps the table in a file.
  it('reads with crontab -l (an empty table is fine) and writes with crontab -', async () => {
    const binDir = join(workDir, 'fake-bin');
    const table = join(workDir, 'fake-table');
    await mkdir(binDir);
    await writeFile(
      join(binDir, 'crontab'),
      [
        '#!/bin/sh',
        `table='${table}'`,
        'case "$1" in',
        '  -l) [ -f "$table" ] || { echo "no crontab for $(id -un)" >&2; exit 1; }; cat "$table" ;;',
        '  -) cat > "$table" ;;',
        '  *) echo "unexpected: $*" >&2; exit 2 ;;',
        'esac',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const env = { PATH: `${binDir}:${process.env.PATH}` };
    const install = await cli(['schedule', 'install', '--cron', '--at', '@daily'], env);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toMatch(/Installed in the crontab of /);
    expect(await readFile(table, 'utf8')).toMatch(/^0 0 \* \* \* cd .* # mongo-backup:full\n$/);

    await writeFile(table, `MAILTO=x\n${await readFile(table, 'utf8')}5 4 * * * other\n`);
    const remove = await cli(['schedule', 'remove', '--cron'], env);
    expect(remove.code, remove.stderr).toBe(0);
    expect(await readFile(table, 'utf8')).toBe('MAILTO=x\n5 4 * * * other\n');
  });

  it('says how to proceed when there is no crontab command', async () => {
    const result = await cli(['schedule', 'install', '--cron'], { PATH: join(workDir, 'empty-path') });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/crontab command was not found/);
    expect(result.stderr).toMatch(/--crontab-file/);
  });
});
