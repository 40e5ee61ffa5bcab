/**
 * A validator for the five-field cron expressions that Debian's cron (Vixie cron) accepts, so that
 * `schedule install` never writes an entry the cron daemon would reject or read differently.
 *
 * Accepted per field: `*`, numbers, `a-b` ranges, steps (`a-b/n`, and `*` followed by `/n`), comma
 * lists, and the three-letter names JAN..DEC / SUN..SAT (also inside ranges). Day of week 7 is Sunday, like 0.
 * Also accepted: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly.
 */
import { usageError } from '../errors.js';

export type CronFieldName = 'minute' | 'hour' | 'day-of-month' | 'month' | 'day-of-week';

interface FieldRule {
  name: CronFieldName;
  min: number;
  max: number;
  names?: readonly string[];
  /** First value that `names[0]` stands for. */
  namesStartAt?: number;
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const WEEKDAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

const FIELD_RULES: readonly FieldRule[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES, namesStartAt: 1 },
  // 7 is accepted as Sunday and folded into 0 after parsing.
  { name: 'day-of-week', min: 0, max: 7, names: WEEKDAY_NAMES, namesStartAt: 0 },
];

const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

export interface CronSchedule {
  /** The expression as given (trimmed). */
  source: string;
  /** The five fields after macro expansion, as written. */
  fields: readonly [string, string, string, string, string];
  minutes: readonly number[];
  hours: readonly number[];
  daysOfMonth: readonly number[];
  months: readonly number[];
  /** 0 = Sunday .. 6 = Saturday (7 folded into 0). */
  daysOfWeek: readonly number[];
  /**
   * cron's day rule: when both day fields are restricted (neither starts with `*`), a day matches
   * if EITHER field matches; otherwise both must match. Vixie cron decides "restricted" by the
   * first character, so a stepped star (every other day) counts as unrestricted here.
   */
  dayMatchesEither: boolean;
}

/** Parses and validates a cron expression; throws a usage error (exit 2) naming the bad field. */
export function parseCron(expression: string): CronSchedule {
  const source = expression.trim();
  const expanded = expandMacro(source);
  const parts = expanded.split(/\s+/).filter((part) => part !== '');
  if (parts.length !== 5) {
    throw usageError(
      `invalid cron expression "${source}": expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`,
      'for example --at "0 2 * * *" (daily at 02:00) or --at @hourly',
    );
  }
  const fields = parts as [string, string, string, string, string];
  const sets = fields.map((text, index) => parseField(text, FIELD_RULES[index] as FieldRule, source));
  const daysOfWeek = [...new Set((sets[4] as number[]).map((day) => day % 7))].sort((a, b) => a - b);
  const schedule: CronSchedule = {
    source,
    fields,
    minutes: sets[0] as number[],
    hours: sets[1] as number[],
    daysOfMonth: sets[2] as number[],
    months: sets[3] as number[],
    daysOfWeek,
    dayMatchesEither: !fields[2].startsWith('*') && !fields[4].startsWith('*'),
  };
  assertCanFire(schedule);
  return schedule;
}

/** Days in each month at most (February in a leap year). */
const LONGEST_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** Rejects schedules cron would accept but never run, such as "0 0 30 2 *" (no 30 February). */
function assertCanFire(schedule: CronSchedule): void {
  if (schedule.dayMatchesEither) return; // any matching weekday fires it
  const firstDay = schedule.daysOfMonth[0] ?? 1;
  const possible = schedule.months.some((month) => firstDay <= (LONGEST_MONTH[month - 1] ?? 31));
  if (!possible) {
    throw usageError(
      `cron expression "${schedule.source}" never fires: no month among ${schedule.fields[3]} has day ${schedule.fields[2]}`,
      'check the day-of-month and month fields',
    );
  }
}

function expandMacro(source: string): string {
  if (!source.startsWith('@')) return source;
  const macro = MACROS[source.toLowerCase()];
  if (macro !== undefined) return macro;
  if (source.toLowerCase() === '@reboot') {
    throw usageError('@reboot is not a time schedule and cannot be used with --at', 'use a time, for example --at @daily');
  }
  throw usageError(`unknown cron macro "${source}"`, `use one of ${Object.keys(MACROS).join(', ')}, or five fields`);
}

function parseField(text: string, rule: FieldRule, source: string): number[] {
  const fail = (problem: string): never => {
    throw usageError(`invalid cron expression "${source}": ${rule.name} field "${text}": ${problem}`, fieldHint(rule));
  };
  const values = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') fail('empty list element');
    for (const value of parseItem(item, rule, fail)) values.add(value);
  }
  return [...values].sort((a, b) => a - b);
}

/** One list element: `*`, `N`, `A-B`, each optionally followed by `/STEP` (not after a lone `N`). */
function parseItem(item: string, rule: FieldRule, fail: (problem: string) => never): number[] {
  const [rangeText = '', stepText, extra] = item.split('/');
  if (extra !== undefined) fail(`"${item}" has more than one "/"`);
  let low: number;
  let high: number;
  if (rangeText === '*') {
    low = rule.min;
    high = rule.max;
  } else {
    const bounds = rangeText.split('-');
    if (bounds.length > 2) fail(`"${rangeText}" is not a range (use A-B)`);
    low = parseValue(bounds[0] ?? '', rule, fail);
    if (bounds.length === 2) {
      high = parseValue(bounds[1] ?? '', rule, fail);
      if (low > high) fail(`range ${rangeText} runs backwards (${low} > ${high})`);
    } else {
      // cron reads "5/15" as an error, not as "5-59/15"; say how to write it.
      if (stepText !== undefined) fail(`a step needs a range: write ${rangeText}-${rule.max}/${stepText} or */${stepText}`);
      high = low;
    }
  }
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d+$/.test(stepText)) fail(`step "${stepText}" is not a whole number`);
    step = Number(stepText);
    if (step < 1) fail('step must be at least 1');
  }
  const values: number[] = [];
  for (let value = low; value <= high; value += step) values.push(value);
  return values;
}

function parseValue(text: string, rule: FieldRule, fail: (problem: string) => never): number {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value < rule.min || value > rule.max) fail(`${value} is outside ${rule.min}-${rule.max}`);
    return value;
  }
  if (rule.names) {
    const index = rule.names.indexOf(text.toUpperCase());
    if (index >= 0) return index + (rule.namesStartAt ?? 0);
  }
  if (text === '') return fail('missing number');
  return fail(`"${text}" is not a number${rule.names ? ` or a name (${rule.names.join(' ')})` : ''}`);
}

function fieldHint(rule: FieldRule): string {
  const names = rule.names ? ` or ${rule.names[0]}..${rule.names[rule.names.length - 1]}` : '';
  return `${rule.name} takes ${rule.min}-${rule.max}${names}, as *, N, A-B, */STEP, A-B/STEP, or comma lists of those`;
}

/** The next `count` start times after `from` (local time), or fewer if none within eight years. */
export function nextCronRuns(schedule: CronSchedule, from: Date, count: number): Date[] {
  const runs: Date[] = [];
  const time = new Date(from.getTime());
  time.setSeconds(0, 0);
  time.setMinutes(time.getMinutes() + 1);
  const limit = from.getTime() + 8 * 366 * 24 * 3600_000;
  while (runs.length < count && time.getTime() <= limit) {
    if (!dayMatches(schedule, time)) {
      // Skip to the next midnight: nothing on this day can match.
      time.setDate(time.getDate() + 1);
      time.setHours(0, 0, 0, 0);
    } else if (!schedule.hours.includes(time.getHours())) {
      time.setHours(time.getHours() + 1, 0, 0, 0);
    } else {
      if (schedule.minutes.includes(time.getMinutes())) runs.push(new Date(time.getTime()));
      time.setMinutes(time.getMinutes() + 1);
    }
  }
  return runs;
}

function dayMatches(schedule: CronSchedule, time: Date): boolean {
  if (!schedule.months.includes(time.getMonth() + 1)) return false;
  const dayOfMonthOk = schedule.daysOfMonth.includes(time.getDate());
  const dayOfWeekOk = schedule.daysOfWeek.includes(time.getDay());
  return schedule.dayMatchesEither ? dayOfMonthOk || dayOfWeekOk : dayOfMonthOk && dayOfWeekOk;
}
