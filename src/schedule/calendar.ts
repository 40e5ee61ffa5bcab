/**
 * Converts a parsed cron schedule to systemd `OnCalendar=` expressions (systemd.time(7)), e.g.
 * `0 2 * * *` → `*-*-* 02:00:00` and `0 3 * * 1-5` → `Mon..Fri *-*-* 03:00:00`.
 *
 * One OnCalendar expression ANDs its weekday and day-of-month parts, while cron ORs them when both
 * are restricted; in that case the result is two expressions (a timer fires when either does).
 */
import type { CronSchedule } from './cron.js';

const WEEKDAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

export function cronToOnCalendar(schedule: CronSchedule): string[] {
  const time = `${renderNumbers(schedule.hours, 0, 23)}:${renderNumbers(schedule.minutes, 0, 59)}:00`;
  const month = renderNumbers(schedule.months, 1, 12);
  const dayOfMonth = renderNumbers(schedule.daysOfMonth, 1, 31);
  const weekdays = renderWeekdays(schedule.daysOfWeek);
  const expression = (days: string, weekdayPart: string): string =>
    `${weekdayPart === '' ? '' : `${weekdayPart} `}*-${month}-${days} ${time}`;

  if (!schedule.dayMatchesEither) return [expression(dayOfMonth, weekdays)];
  // Either day field matching is enough: a field that matches every day makes every day match.
  if (dayOfMonth === '*' || weekdays === '') return [expression('*', '')];
  return [expression('*', weekdays), expression(dayOfMonth, '')];
}

/**
 * A set of numbers in systemd's syntax: `*` for all, `05/15` for an arithmetic series that runs to
 * the end of the range, `09..17/2` for one that stops earlier, otherwise a comma list in which
 * runs of three or more become `A..B`.
 */
function renderNumbers(values: readonly number[], min: number, max: number): string {
  const pad = (value: number): string => String(value).padStart(2, '0');
  if (values.length === max - min + 1) return '*';
  const first = values[0];
  const second = values[1];
  const last = values[values.length - 1];
  if (values.length >= 3 && first !== undefined && second !== undefined && last !== undefined) {
    const step = second - first;
    const isSeries = values.every((value, index) => value === first + index * step);
    if (isSeries && step > 1) {
      return last + step > max ? `${pad(first)}/${step}` : `${pad(first)}..${pad(last)}/${step}`;
    }
  }
  return consecutiveRuns(values)
    .map(([from, to]) => (to - from >= 2 ? `${pad(from)}..${pad(to)}` : rangeValues(from, to).map(pad).join(',')))
    .join(',');
}

/** Weekdays Monday first (systemd's order; Sunday is 7); empty when every day is included. */
function renderWeekdays(daysOfWeek: readonly number[]): string {
  if (daysOfWeek.length === 7) return '';
  const mondayFirst = daysOfWeek.map((day) => (day === 0 ? 7 : day)).sort((a, b) => a - b);
  const name = (day: number): string => WEEKDAY_NAMES[day % 7] ?? '?';
  return consecutiveRuns(mondayFirst)
    .map(([from, to]) => (to - from >= 2 ? `${name(from)}..${name(to)}` : rangeValues(from, to).map(name).join(',')))
    .join(',');
}

function consecutiveRuns(sorted: readonly number[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const value of sorted) {
    const current = runs[runs.length - 1];
    if (current && value === current[1] + 1) current[1] = value;
    else runs.push([value, value]);
  }
  return runs;
}

function rangeValues(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}
