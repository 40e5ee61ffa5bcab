// systemd timers written by `schedule`: the units pass `systemd-analyze verify`, every OnCalendar
// fires exactly when cron would (checked with `systemd-analyze calendar` against an independent
// minute-by-minute evaluation of the cron fields), and install/remove round-trip in a --dir.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '../..');
const node = join(repoRoot, 'node_modules/.bin/node');
const systemdAnalyze = '/usr/bin/systemd-analyze';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(command, args, { cwd: options.cwd ?? repoRoot, env: options.env ?? process.env, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

let workDir: string;
const cliEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: workDir, NO_COLOR: '1' });
const cli = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> =>
  run(node, [join(repoRoot, 'bin/mongo-backup'), ...args], { cwd: workDir, env: { ...cliEnv(), ...env } });

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'mongo-backup-schedule-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

interface ScheduleJson {
  success: boolean;
  schedule: {
    kind: string;
    onCalendar?: string[];
    files: Array<{ path: string; content: string }>;
    installed: boolean;
    enabled: boolean;
    removed: boolean;
  };
}

async function printUnits(at: string): Promise<ScheduleJson['schedule']> {
  const result = await cli(['--json', 'schedule', 'print', '--systemd', '--at', at]);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as ScheduleJson).schedule;
}

describe.skipIf(!existsSync(systemdAnalyze))('systemd units', () => {
  it('pass systemd-analyze verify (system and --user units, with a config file and a randomized delay)', async () => {
    const configFile = join(workDir, 'backup config.yaml'); // a space, to exercise ExecStart quoting
    await writeFile(configFile, 'targets:\n  - name: local\n    type: local\n    path: ./b\n');
    for (const userFlag of [[], ['--user']]) {
      const dir = join(workDir, `units${userFlag.length}`);
      const result = await cli(['--config', configFile, 'schedule', 'install', '--dir', dir, '--randomized-delay', '15m', '--at', '0 6 13 * FRI', ...userFlag]);
      expect(result.code, result.stderr).toBe(0);
      const service = await readFile(join(dir, 'mongo-backup.service'), 'utf8');
      expect(service).toContain(`ExecStart=${join(repoRoot, 'node_modules/node/bin/node')} ${join(repoRoot, 'bin/mongo-backup')} --config "${configFile}" create --type full --no-progress`);
      const timer = await readFile(join(dir, 'mongo-backup.timer'), 'utf8');
      expect(timer.match(/^OnCalendar=/gm)).toHaveLength(2);

      const runtimeDir = join(workDir, 'runtime');
      await mkdir(runtimeDir, { recursive: true, mode: 0o700 });
      const verify = await run(systemdAnalyze, ['verify', ...userFlag, join(dir, 'mongo-backup.service'), join(dir, 'mongo-backup.timer')], {
        cwd: dir,
        env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir, SYSTEMD_LOG_LEVEL: 'notice' },
      });
      expect({ code: verify.code, output: verify.stdout + verify.stderr }).toEqual({ code: 0, output: '' });
    }
  });

  it('verify catches a broken unit (so the check above means something)', async () => {
    const dir = join(workDir, 'broken');
    expect((await cli(['schedule', 'install', '--dir', dir])).code).toBe(0);
    const service = join(dir, 'mongo-backup.service');
    await writeFile(service, (await readFile(service, 'utf8')).replace('Nice=10', 'Nice=ten'));
    const verify = await run(systemdAnalyze, ['verify', service], { cwd: dir });
    expect(verify.stderr).toMatch(/nice/i);
  });

  // Each expression's OnCalendar lines must fire exactly at cron's times. Expressions cover steps,
  // ranges, lists, names, macros, leap days, and both of cron's day rules (OR and AND).
  const expressions = [
    '0 2 * * *',
    '*/15 * * * *',
    '0 3 * * 1-5',
    '30 4 1 * *',
    '0 6 13 * FRI',
    '0 0 1,15 * 1',
    '0 0 */2 * 5',
    '5-59/20 9-17/2 * * *',
    '0 8-18/3 * JAN,JUL 6,0',
    '45 23 28-31 2 *',
    '7 1 29 2 *',
    '@weekly',
    '@yearly',
  ];
  const baseTime = Date.UTC(2026, 0, 30, 21, 17, 30); // a Friday evening, mid-minute
  const iterations = 25;

  it.each(expressions)('OnCalendar for "%s" fires exactly when cron would', async (expression) => {
    const { onCalendar = [] } = await printUnits(expression);
    expect(onCalendar.length).toBeGreaterThan(0);
    const result = await run(
      systemdAnalyze,
      ['calendar', `--iterations=${iterations}`, `--base-time=@${baseTime / 1000}`, ...onCalendar],
      { env: { ...process.env, TZ: 'UTC' } },
    );
    expect(result.code, result.stderr).toBe(0);
    // A timer with several OnCalendar= lines fires at the union of their times.
    const fired = [...new Set([...result.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/g)].map((m) => m[1]))]
      .sort()
      .slice(0, iterations);
    expect(fired).toEqual(cronTimes(expression, baseTime, iterations));
  });
});

describe('schedule install / remove with --dir', () => {
  it('writes two units, reports them in JSON, and remove deletes exactly them', async () => {
    const dir = join(workDir, 'roundtrip');
    await mkdir(dir);
    await writeFile(join(dir, 'other.service'), '[Service]\nExecStart=/bin/true\n');
    const install = await cli(['--json', 'schedule', 'install', '--dir', dir, '--at', '@daily']);
    expect(install.code, install.stderr).toBe(0);
    const installed = (JSON.parse(install.stdout) as ScheduleJson).schedule;
    expect(installed).toMatchObject({ kind: 'systemd', installed: true, enabled: false, onCalendar: ['*-*-* 00:00:00'] });
    expect(installed.files.map((file) => file.path).sort()).toEqual([join(dir, 'mongo-backup.service'), join(dir, 'mongo-backup.timer')]);
    for (const file of installed.files) expect(await readFile(file.path, 'utf8')).toBe(file.content);
    // The human hint says what to do next, since --dir never touches systemctl.
    expect(install.stderr).toMatch(/systemctl daemon-reload && systemctl enable --now mongo-backup\.timer/);

    // Incrementals get their own service and timer beside the full one, hourly unless told otherwise.
    const incremental = await cli(['--json', 'schedule', 'install', '--dir', dir, '--type', 'incremental']);
    expect(incremental.code, incremental.stderr).toBe(0);
    const hourly = (JSON.parse(incremental.stdout) as ScheduleJson).schedule;
    expect(hourly).toMatchObject({ kind: 'systemd', installed: true, onCalendar: ['*-*-* *:00:00'] });
    const service = hourly.files.find((file) => file.path.endsWith('mongo-backup-incremental.service'));
    expect(service?.content).toMatch(/^ExecStart=.* create --type incremental /m);
    expect((await readdir(dir)).sort()).toEqual([
      'mongo-backup-incremental.service',
      'mongo-backup-incremental.timer',
      'mongo-backup.service',
      'mongo-backup.timer',
      'other.service',
    ]);

    const remove = await cli(['--json', 'schedule', 'remove', '--dir', dir]);
    expect(remove.code, remove.stderr).toBe(0);
    expect((JSON.parse(remove.stdout) as ScheduleJson).schedule.removed).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['mongo-backup-incremental.service', 'mongo-backup-incremental.timer', 'other.service']);
    const removeIncremental = await cli(['schedule', 'remove', '--dir', dir, '--type', 'incremental']);
    expect(removeIncremental.code, removeIncremental.stderr).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(['other.service']);

    const again = await cli(['schedule', 'remove', '--dir', dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Nothing to remove/);
  });

  it('does not delete a unit of the same name that it did not write', async () => {
    const dir = join(workDir, 'foreign');
    await mkdir(dir);
    await writeFile(join(dir, 'mongo-backup.service'), '[Service]\nExecStart=/bin/true\n');
    const remove = await cli(['schedule', 'remove', '--dir', dir]);
    expect(remove.code).toBe(0);
    expect(remove.stderr).toMatch(/not written by mongo-backup; left in place/);
    expect(existsSync(join(dir, 'mongo-backup.service'))).toBe(true);
  });

  it('print writes nothing', async () => {
    const dir = join(workDir, 'printed');
    const result = await cli(['schedule', 'print', '--dir', dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`# ${join(dir, 'mongo-backup.timer')}\n`);
    expect(result.stdout).toContain('OnCalendar=*-*-* 02:00:00');
    expect(existsSync(dir)).toBe(false);
  });

  it('a drill gets units of its own, monthly, running drill latest with its destination', async () => {
    const dir = join(workDir, 'drill-units');
    const result = await cli(['schedule', 'print', '--dir', dir, '--type', 'drill', '--drill-uri', 'mongodb://scratch:27017']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`# ${join(dir, 'mongo-backup-drill.timer')}\n`);
    expect(result.stdout).toContain('OnCalendar=*-*-01 04:00:00');
    expect(result.stdout).toMatch(/ExecStart=.* drill latest --uri mongodb:\/\/scratch:27017 --no-progress/);
    expect(result.stdout).toContain('Description=MongoDB restore drill (mongo-backup)');
  });

  it('install refuses with exit 2 when ENABLE_AUTO_BACKUP=false', async () => {
    const dir = join(workDir, 'disabled');
    const result = await cli(['schedule', 'install', '--dir', dir], { ENABLE_AUTO_BACKUP: 'false' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/ENABLE_AUTO_BACKUP=false/);
    expect(existsSync(dir)).toBe(false);
  });

  it('rejects a bad --at with exit 2, naming the field', async () => {
    const result = await cli(['--json', 'schedule', 'print', '--systemd', '--at', '0 25 * * *']);
    expect(result.code).toBe(2);
    const body = JSON.parse(result.stdout) as { success: boolean; error: { code: string; message: string } };
    expect(body.success).toBe(false);
    expect(body.error.message).toMatch(/hour field "25"/);
  });

  it('rejects --systemd together with --cron (exit 2)', async () => {
    expect((await cli(['schedule', 'print', '--systemd', '--cron'])).code).toBe(2);
  });
});

// ------------------------------------------------------------------------------------------------
// An independent cron evaluator for the test: field expansion plus Vixie cron's day rule, stepped
// minute by minute (whole days are skipped when the day cannot match), all in UTC.

const MACROS: Record<string, string> = { '@weekly': '0 0 * * 0', '@yearly': '0 0 1 1 *' };
const NAMES: Record<string, number> = Object.fromEntries([
  ...['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'].map((n, i) => [n, i + 1]),
  ...['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((n, i) => [n, i]),
]);

function expand(field: string, min: number, max: number): Set<number> {
  const values = new Set<number>();
  const number = (text: string): number => NAMES[text.toLowerCase()] ?? Number(text);
  for (const item of field.split(',')) {
    const [range = '', step = '1'] = item.split('/');
    const [low, high] = range === '*' ? [min, max] : range.includes('-') ? range.split('-').map(number) : [number(range), number(range)];
    for (let value = low ?? min; value <= (high ?? max); value += Number(step)) values.add(value);
  }
  return values;
}

function cronTimes(expression: string, after: number, count: number): string[] {
  const [minute = '', hour = '', dom = '', month = '', dow = ''] = (MACROS[expression] ?? expression).split(' ');
  const minutes = expand(minute, 0, 59);
  const hours = expand(hour, 0, 23);
  const days = expand(dom, 1, 31);
  const months = expand(month, 1, 12);
  const weekdays = new Set([...expand(dow, 0, 7)].map((day) => day % 7));
  const either = !dom.startsWith('*') && !dow.startsWith('*');
  const times: string[] = [];
  let t = Math.floor(after / 60_000) * 60_000 + 60_000;
  while (times.length < count) {
    const date = new Date(t);
    const dayOk = either
      ? days.has(date.getUTCDate()) || weekdays.has(date.getUTCDay())
      : days.has(date.getUTCDate()) && weekdays.has(date.getUTCDay());
    if (!months.has(date.getUTCMonth() + 1) || !dayOk) {
      t = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1);
      continue;
    }
    if (hours.has(date.getUTCHours()) && minutes.has(date.getUTCMinutes())) {
      times.push(date.toISOString().replace('T', ' ').slice(0, 19));
    }
    t += 60_000;
  }
  return times;
}
