import { describe, expect, it } from 'vitest';
import { cronToOnCalendar } from '../../src/schedule/calendar.js';
import { nextCronRuns, parseCron } from '../../src/schedule/cron.js';
import { removeTaggedLines, renderCronLine, shellQuote, upsertTaggedLine } from '../../src/schedule/crontab.js';
import { quoteExecArgument } from '../../src/schedule/systemd.js';
import { BackupError } from '../../src/errors.js';

function usageFailure(expression: string): BackupError {
  try {
    parseCron(expression);
  } catch (error) {
    expect(error).toBeInstanceOf(BackupError);
    expect((error as BackupError).exitCode).toBe(2);
    return error as BackupError;
  }
  throw new Error(`"${expression}" was accepted`);
}

describe('cron parser', () => {
  it('expands ranges, lists, steps and names', () => {
    const schedule = parseCron('5-20/5,59 */6 1,15 jan-mar MON-FRI');
    expect(schedule.minutes).toEqual([5, 10, 15, 20, 59]);
    expect(schedule.hours).toEqual([0, 6, 12, 18]);
    expect(schedule.daysOfMonth).toEqual([1, 15]);
    expect(schedule.months).toEqual([1, 2, 3]);
    expect(schedule.daysOfWeek).toEqual([1, 2, 3, 4, 5]);
  });

  it('treats day-of-week 7 as Sunday', () => {
    expect(parseCron('0 0 * * 7').daysOfWeek).toEqual([0]);
    expect(parseCron('0 0 * * 5-7').daysOfWeek).toEqual([0, 5, 6]);
  });

  it('expands the @ macros', () => {
    expect(parseCron('@daily').fields.join(' ')).toBe('0 0 * * *');
    expect(parseCron('@hourly').fields.join(' ')).toBe('0 * * * *');
    expect(parseCron('@weekly').fields.join(' ')).toBe('0 0 * * 0');
    expect(parseCron('@monthly').fields.join(' ')).toBe('0 0 1 * *');
    expect(parseCron('@yearly').fields.join(' ')).toBe('0 0 1 1 *');
    expect(parseCron('@ANNUALLY').fields.join(' ')).toBe('0 0 1 1 *');
  });

  it('uses cron\'s OR rule only when both day fields are restricted', () => {
    expect(parseCron('0 0 1 * MON').dayMatchesEither).toBe(true);
    expect(parseCron('0 0 * * MON').dayMatchesEither).toBe(false);
    // Vixie cron looks at the first character: a stepped star still means "AND".
    expect(parseCron('0 0 */2 * MON').dayMatchesEither).toBe(false);
  });

  it.each([
    ['0 2 * *', /expected 5 fields.*got 4/],
    ['0 2 * * * *', /expected 5 fields.*got 6/],
    ['60 2 * * *', /minute field "60": 60 is outside 0-59/],
    ['0 24 * * *', /hour field "24"/],
    ['0 2 0 * *', /day-of-month field "0": 0 is outside 1-31/],
    ['0 2 * 13 *', /month field "13"/],
    ['0 2 * * 8', /day-of-week field "8"/],
    ['0 2 * FOO *', /month field "FOO": "FOO" is not a number or a name/],
    ['0 2 * * MON-', /day-of-week field "MON-": missing number/],
    ['0 17-9 * * *', /hour field "17-9": range 17-9 runs backwards/],
    ['*/0 * * * *', /minute field "\*\/0": step must be at least 1/],
    ['5/15 * * * *', /minute field "5\/15": a step needs a range: write 5-59\/15/],
    ['0 2 1,,2 * *', /day-of-month field "1,,2": empty list element/],
    ['0 2 * * 1/2/3', /more than one "\/"/],
    ['0 0 30 2 *', /never fires/],
    ['@reboot', /@reboot is not a time schedule/],
    ['@sometimes', /unknown cron macro/],
  ])('rejects %s with a message naming the problem', (expression, message) => {
    expect(usageFailure(expression).message).toMatch(message);
  });

  it('accepts 31 in a month list that has a long month', () => {
    expect(parseCron('0 0 31 2,3 *').months).toEqual([2, 3]);
  });

  it('finds the next runs in local time', () => {
    const from = new Date(2026, 0, 1, 1, 59, 30);
    expect(nextCronRuns(parseCron('0 2 * * *'), from, 2)).toEqual([new Date(2026, 0, 1, 2, 0), new Date(2026, 0, 2, 2, 0)]);
  });
});

describe('cron → systemd OnCalendar', () => {
  const calendar = (expression: string): string[] => cronToOnCalendar(parseCron(expression));

  it.each([
    ['0 2 * * *', ['*-*-* 02:00:00']],
    ['*/15 * * * *', ['*-*-* *:00/15:00']],
    ['0 3 * * 1-5', ['Mon..Fri *-*-* 03:00:00']],
    ['30 4 1 * *', ['*-*-01 04:30:00']],
    ['0 9-17 * * *', ['*-*-* 09..17:00:00']],
    ['0 9-17/2 * * *', ['*-*-* 09..17/2:00:00']],
    ['0,30 * * * *', ['*-*-* *:00,30:00']],
    ['0 0 * * 0', ['Sun *-*-* 00:00:00']],
    ['0 0 * * 6,0', ['Sat,Sun *-*-* 00:00:00']],
    ['0 0 1 1 *', ['*-01-01 00:00:00']],
  ])('%s → %j', (expression, expected) => {
    expect(calendar(expression)).toEqual(expected);
  });

  it('splits cron\'s "day of month OR day of week" into two expressions', () => {
    expect(calendar('0 6 13 * FRI')).toEqual(['Fri *-*-* 06:00:00', '*-*-13 06:00:00']);
  });

  it('keeps one expression when a star-led day field makes cron AND the days', () => {
    expect(calendar('0 0 */2 * 5')).toEqual(['Fri *-*-01/2 00:00:00']);
  });

  it('needs no weekday when the weekday field covers the whole week', () => {
    expect(calendar('0 0 1 * 0-6')).toEqual(['*-*-* 00:00:00']);
  });
});

describe('crontab editing', () => {
  const tag = 'mongo-backup:full';
  const line = `0 2 * * * /usr/bin/true # ${tag}`;
  const original = ['# m h dom mon dow command', 'MAILTO=ops@example.com', '', '*/5 * * * * /usr/local/bin/other-job', ''].join('\n');

  it('appends once, replaces on the second install, and removes back to the original bytes', () => {
    const installed = upsertTaggedLine(original, tag, line);
    expect(installed).toBe(`${original}${line}\n`);
    const replacement = `0 3 * * * /usr/bin/true # ${tag}`;
    const reinstalled = upsertTaggedLine(installed, tag, replacement);
    expect(reinstalled).toBe(`${original}${replacement}\n`);
    const { crontab, removed } = removeTaggedLines(reinstalled, tag);
    expect(removed).toEqual([replacement]);
    expect(crontab).toBe(original);
  });

  it('leaves commented-out entries and other tags alone', () => {
    const text = `# 0 2 * * * old # ${tag}\n0 4 * * * x # mongo-backup:incremental\n`;
    expect(removeTaggedLines(text, tag)).toEqual({ crontab: text, removed: [] });
  });

  it('ends an unterminated last line before appending', () => {
    expect(upsertTaggedLine('MAILTO=x', tag, line)).toBe(`MAILTO=x\n${line}\n`);
  });

  it('quotes for sh and escapes % for cron', () => {
    const rendered = renderCronLine({
      schedule: '0 2 * * *',
      command: ['/opt/node', '/srv/my app/bin/mongo-backup', 'create', '--description', "it's 100%"],
      workingDirectory: '/srv',
      logFile: '/var/log/mongo-backup.log',
      type: 'full',
    });
    expect(rendered).toBe(
      "0 2 * * * cd /srv && /opt/node '/srv/my app/bin/mongo-backup' create --description 'it'\\''s 100\\%' >> /var/log/mongo-backup.log 2>&1 # mongo-backup:full",
    );
    expect(shellQuote('')).toBe("''");
  });

  it('adds the user column for system crontabs', () => {
    const rendered = renderCronLine({ schedule: '0 2 * * *', command: ['/x'], workingDirectory: '/', logFile: '/l', type: 'full', runAsUser: 'backup' });
    expect(rendered.startsWith('0 2 * * * backup cd / && /x')).toBe(true);
  });
});

describe('systemd ExecStart quoting', () => {
  it('leaves plain paths alone and quotes/escapes the rest', () => {
    expect(quoteExecArgument('/usr/bin/node')).toBe('/usr/bin/node');
    expect(quoteExecArgument('/srv/my app/cfg.yaml')).toBe('"/srv/my app/cfg.yaml"');
    expect(quoteExecArgument('100%')).toBe('100%%');
    expect(quoteExecArgument('$HOME')).toBe('$$HOME');
    expect(quoteExecArgument('say "hi"')).toBe('"say \\"hi\\""');
  });
});
