// Retention policy engine. Every expected list below was worked out by hand from the calendar
// (weekdays and ISO weeks checked with `date -u +%a %G-W%V`), not computed by the code under test.
import { describe, expect, it } from 'vitest';
import { BackupError } from '../../src/errors.js';
import {
  applyRetention,
  describePolicy,
  isEmptyPolicy,
  isoWeek,
  policyFromConfig,
  type RetentionCandidate,
  type RetentionDecision,
  type RetentionPolicy,
} from '../../src/retention/policy.js';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** '2026-03-01T06:00' (UTC) -> Date */
function at(minute: string): Date {
  return new Date(`${minute}:00Z`);
}

/** The id a backup taken at that minute would have. */
function idAt(minute: string): string {
  return `backup-${minute.slice(0, 10)}-${minute.slice(11, 13)}${minute.slice(14, 16)}00-000000`;
}

function backup(minute: string, status: RetentionCandidate['status'] = 'COMPLETED', parent?: string): RetentionCandidate {
  const candidate: RetentionCandidate = { id: idAt(minute), time: at(minute), status };
  if (parent !== undefined) candidate.parent = idAt(parent);
  return candidate;
}

/** '2026-01-31' .. '2026-03-01' inclusive, at 02:00 each day. */
function dailyAt0200(firstDay: string, lastDay: string): string[] {
  const minutes: string[] = [];
  for (let t = at(`${firstDay}T02:00`).getTime(); t <= at(`${lastDay}T02:00`).getTime(); t += DAY) {
    minutes.push(new Date(t).toISOString().slice(0, 16));
  }
  return minutes;
}

function minuteOf(decision: RetentionDecision): string {
  return decision.time.toISOString().slice(0, 16);
}

function kept(decisions: RetentionDecision[]): string[] {
  return decisions.filter((d) => d.action === 'keep').map(minuteOf);
}

function reasonsAt(decisions: RetentionDecision[], minute: string): string[] {
  const decision = decisions.find((d) => minuteOf(d) === minute);
  if (!decision) throw new Error(`no decision for ${minute}`);
  return decision.reasons;
}

function expectWellFormed(decisions: RetentionDecision[], candidates: RetentionCandidate[]): void {
  expect(decisions).toHaveLength(candidates.length);
  for (let i = 1; i < decisions.length; i++) {
    expect(decisions[i - 1]!.time.getTime()).toBeGreaterThanOrEqual(decisions[i]!.time.getTime());
  }
  for (const decision of decisions) expect(decision.reasons.length, `${decision.id} has no reason`).toBeGreaterThan(0);
}

// ---------------------------------------------------------------------------------------------
// Two years of history: one backup a day at 02:00 from 2024-03-01 to 2026-03-01 (731 backups),
// an hourly cluster on the last day, and four incomplete or failed folders.
// 2026-03-01 is a Sunday, the last day of ISO week 2026-W09 (Mon 02-23 .. Sun 03-01).
const NOW = at('2026-03-01T12:00');
const CLUSTER = ['2026-03-01T04:00', '2026-03-01T05:00', '2026-03-01T05:30', '2026-03-01T06:00'];
const TWO_YEARS: RetentionCandidate[] = [
  ...dailyAt0200('2024-03-01', '2026-03-01').map((m) => backup(m)),
  ...CLUSTER.map((m) => backup(m)),
  backup('2026-03-01T11:00', 'INCOMPLETE'), // 1h old: maybe still being written
  backup('2026-02-28T13:00', 'INCOMPLETE'), // 23h old: still within the 24h grace period
  backup('2026-02-27T14:00', 'FAILED'), // 46h old
  backup('2026-02-25T03:00', 'INCOMPLETE'), // 4d 9h old
];
const RECENT_INCOMPLETE = ['2026-03-01T11:00', '2026-02-28T13:00'];

interface Case {
  name: string;
  policy: RetentionPolicy;
  /** completed backups that survive, newest first */
  keptCompleted: string[];
  /** incomplete/failed backups that survive, newest first */
  keptIncomplete?: string[];
}

const CASES: Case[] = [
  {
    name: 'keepLast 5 keeps the five newest (the cluster and 02:00 of the last day)',
    policy: { keepLast: 5 },
    keptCompleted: ['2026-03-01T06:00', '2026-03-01T05:30', '2026-03-01T05:00', '2026-03-01T04:00', '2026-03-01T02:00'],
  },
  {
    name: 'keepHourly 3 keeps the newest of each of the three newest hours',
    policy: { keepHourly: 3 },
    keptCompleted: ['2026-03-01T06:00', '2026-03-01T05:30', '2026-03-01T04:00'],
  },
  {
    // restic docs style: 7 daily, 4 weekly, 6 monthly; yearly 5 but only 3 years exist, so the
    // oldest backup is kept as well (restic keeps the oldest while a rule has quota left).
    name: 'daily 7 + weekly 4 + monthly 6 + yearly 5',
    policy: { keepDaily: 7, keepWeekly: 4, keepMonthly: 6, keepYearly: 5 },
    keptCompleted: [
      '2026-03-01T06:00', // daily, weekly W09, monthly 2026-03, yearly 2026
      '2026-02-28T02:00', // daily, monthly 2026-02
      '2026-02-27T02:00',
      '2026-02-26T02:00',
      '2026-02-25T02:00',
      '2026-02-24T02:00',
      '2026-02-23T02:00', // 7th day
      '2026-02-22T02:00', // weekly W08 (Sunday)
      '2026-02-15T02:00', // weekly W07
      '2026-02-08T02:00', // weekly W06
      '2026-01-31T02:00', // monthly 2026-01
      '2025-12-31T02:00', // monthly 2025-12, yearly 2025
      '2025-11-30T02:00', // monthly 2025-11
      '2025-10-31T02:00', // monthly 2025-10 (6th month)
      '2024-12-31T02:00', // yearly 2024
      '2024-03-01T02:00', // oldest, yearly quota left
    ],
  },
  {
    name: 'yearly 2 uses up its quota, so the oldest backup is not kept',
    policy: { keepYearly: 2 },
    keptCompleted: ['2026-03-01T06:00', '2025-12-31T02:00'],
  },
  {
    name: 'maxAge 30d alone keeps everything younger than 30 days',
    policy: { maxAgeMs: 30 * DAY },
    // cutoff 2026-01-30T12:00: 01-30 02:00 is 30d 10h old, 01-31 02:00 is 29d 10h old
    keptCompleted: [...CLUSTER.slice().reverse(), ...dailyAt0200('2026-01-31', '2026-03-01').reverse()],
  },
  {
    name: 'maxAge 30d + keepLast 10: keepLast is the tighter limit',
    policy: { maxAgeMs: 30 * DAY, keepLast: 10 },
    keptCompleted: [
      '2026-03-01T06:00', '2026-03-01T05:30', '2026-03-01T05:00', '2026-03-01T04:00', '2026-03-01T02:00',
      '2026-02-28T02:00', '2026-02-27T02:00', '2026-02-26T02:00', '2026-02-25T02:00', '2026-02-24T02:00',
    ],
  },
  {
    name: 'keepLast 10 + maxAge 2d: maxAge is the tighter limit',
    policy: { keepLast: 10, maxAgeMs: 2 * DAY },
    keptCompleted: ['2026-03-01T06:00', '2026-03-01T05:30', '2026-03-01T05:00', '2026-03-01T04:00', '2026-03-01T02:00', '2026-02-28T02:00'],
  },
  {
    name: 'keepLast 2 + minAge 1d: everything younger than a day survives',
    policy: { keepLast: 2, minAgeMs: DAY },
    keptCompleted: ['2026-03-01T06:00', '2026-03-01T05:30', '2026-03-01T05:00', '2026-03-01T04:00', '2026-03-01T02:00'],
  },
  {
    name: 'empty policy deletes no completed backup, only old incomplete ones',
    policy: {},
    keptCompleted: [...CLUSTER.slice().reverse(), ...dailyAt0200('2024-03-01', '2026-03-01').reverse()],
  },
  {
    name: 'minAge alone is still an empty policy; it also protects a young failed backup',
    policy: { minAgeMs: 3 * DAY },
    keptCompleted: [...CLUSTER.slice().reverse(), ...dailyAt0200('2024-03-01', '2026-03-01').reverse()],
    keptIncomplete: ['2026-03-01T11:00', '2026-02-28T13:00', '2026-02-27T14:00'],
  },
];

describe('applyRetention on two years of daily backups', () => {
  it.each(CASES)('$name', ({ policy, keptCompleted, keptIncomplete = RECENT_INCOMPLETE }) => {
    const decisions = applyRetention(TWO_YEARS, policy, NOW);
    expectWellFormed(decisions, TWO_YEARS);
    const expected = [...keptCompleted, ...keptIncomplete];
    expect(kept(decisions).sort()).toEqual(expected.sort());
  });

  it('does not depend on the order of its input', () => {
    // a fixed scramble: sort by the id read backwards
    const backwards = (c: RetentionCandidate): string => [...c.id].reverse().join('');
    const shuffled = [...TWO_YEARS].sort((a, b) => backwards(a).localeCompare(backwards(b)));
    expect(shuffled.map((c) => c.id)).not.toEqual(TWO_YEARS.map((c) => c.id));
    const policy = { keepDaily: 7, keepWeekly: 4, keepMonthly: 6, keepYearly: 5 };
    expect(applyRetention(shuffled, policy, NOW)).toEqual(applyRetention(TWO_YEARS, policy, NOW));
  });

  it('records one reason per rule that keeps a backup, and why the rest go', () => {
    const d = applyRetention(TWO_YEARS, { keepDaily: 7, keepWeekly: 4, keepMonthly: 6, keepYearly: 5 }, NOW);
    expect(reasonsAt(d, '2026-03-01T06:00')).toEqual([
      'daily 2026-03-01',
      'weekly 2026-W09',
      'monthly 2026-03',
      'yearly 2026',
      'newest completed backup (always kept)',
    ]);
    expect(reasonsAt(d, '2026-02-28T02:00')).toEqual(['daily 2026-02-28', 'monthly 2026-02']);
    expect(reasonsAt(d, '2026-02-22T02:00')).toEqual(['weekly 2026-W08']);
    expect(reasonsAt(d, '2025-12-31T02:00')).toEqual(['monthly 2025-12', 'yearly 2025']);
    expect(reasonsAt(d, '2024-03-01T02:00')).toEqual(['yearly 2024 (oldest backup, yearly quota not used up)']);
    expect(reasonsAt(d, '2026-02-21T02:00')).toEqual(['not kept by any keep rule']);
    expect(reasonsAt(d, '2026-03-01T05:30')).toEqual(['not kept by any keep rule']);
  });

  it('explains keepLast positions and a maxAge that overrides them', () => {
    const d = applyRetention(TWO_YEARS, { keepLast: 10, maxAgeMs: 2 * DAY }, NOW);
    expect(reasonsAt(d, '2026-03-01T05:30')).toEqual(['last 10 (#2)']);
    expect(reasonsAt(d, '2026-02-27T02:00')).toEqual(['older than maxAge 2d', 'maxAge overrides: last 10 (#7)']);
    expect(reasonsAt(d, '2026-02-20T02:00')).toEqual(['older than maxAge 2d']);
  });

  it('explains minAge and grace-period decisions', () => {
    const d = applyRetention(TWO_YEARS, { keepLast: 2, minAgeMs: DAY }, NOW);
    expect(reasonsAt(d, '2026-03-01T02:00')).toEqual(['within minAge 1d']);
    expect(reasonsAt(d, '2026-03-01T06:00')).toEqual(['last 2 (#1)', 'within minAge 1d', 'newest completed backup (always kept)']);
    expect(reasonsAt(d, '2026-03-01T11:00')).toEqual(['incomplete (no manifest), within grace period 1d', 'within minAge 1d']);
    expect(reasonsAt(d, '2026-02-27T14:00')).toEqual(['failed, older than grace period 1d']);
    expect(reasonsAt(d, '2026-02-25T03:00')).toEqual(['incomplete (no manifest), older than grace period 1d']);
  });

  it('uses the given grace period for incomplete backups', () => {
    const d = applyRetention(TWO_YEARS, {}, NOW, { incompleteGraceMs: 2 * HOUR });
    expect(kept(d).filter((m) => !m.endsWith('T02:00') && !CLUSTER.includes(m))).toEqual(['2026-03-01T11:00']);
    expect(reasonsAt(d, '2026-02-28T13:00')).toEqual(['incomplete (no manifest), older than grace period 2h']);
  });
});

describe('ISO weeks and UTC periods', () => {
  it.each([
    ['2026-03-01T23:59', '2026-W09'], // Sunday ends the week
    ['2026-03-02T00:00', '2026-W10'], // Monday starts the next
    ['2026-12-28T02:00', '2026-W53'],
    ['2026-12-31T02:00', '2026-W53'], // 2026 starts on a Thursday, so it has 53 weeks
    ['2027-01-01T02:00', '2026-W53'], // Friday 1 January still belongs to 2026's last week
    ['2027-01-03T23:00', '2026-W53'],
    ['2027-01-04T00:00', '2027-W01'],
    ['2024-12-30T00:00', '2025-W01'], // Monday 30 December already belongs to 2025
  ])('%s is in %s', (minute, week) => {
    expect(isoWeek(at(minute))).toBe(week);
  });

  const sundayMonday = [
    backup('2026-02-28T02:00'), // Saturday, W09
    backup('2026-03-01T02:00'), // Sunday, W09
    backup('2026-03-01T23:00'), // Sunday, W09
    backup('2026-03-02T00:30'), // Monday, W10
  ];
  const yearEnd = [
    backup('2026-12-28T02:00'), // Monday, 2026-W53
    backup('2026-12-31T02:00'), // Thursday, 2026-W53
    backup('2027-01-01T02:00'), // Friday, 2026-W53
    backup('2027-01-03T23:00'), // Sunday, 2026-W53
    backup('2027-01-04T02:00'), // Monday, 2027-W01
  ];

  it.each([
    ['weekly 2 across Sunday/Monday', sundayMonday, { keepWeekly: 2 }, ['2026-03-02T00:30', '2026-03-01T23:00']],
    ['weekly 2 across the year end', yearEnd, { keepWeekly: 2 }, ['2027-01-04T02:00', '2027-01-03T23:00']],
    ['weekly 3 across the year end (only two weeks: oldest kept)', yearEnd, { keepWeekly: 3 }, ['2027-01-04T02:00', '2027-01-03T23:00', '2026-12-28T02:00']],
    ['yearly 2 across the year end (calendar years)', yearEnd, { keepYearly: 2 }, ['2027-01-04T02:00', '2026-12-31T02:00']],
    ['monthly 1 across the year end', yearEnd, { keepMonthly: 1 }, ['2027-01-04T02:00']],
    ['daily 2 across the year end', yearEnd, { keepDaily: 2 }, ['2027-01-04T02:00', '2027-01-03T23:00']],
  ] as const)('%s', (_name, candidates, policy, expected) => {
    const decisions = applyRetention([...candidates], policy, at('2027-02-01T00:00'));
    expectWellFormed(decisions, [...candidates]);
    expect(kept(decisions)).toEqual(expected);
  });

  it('buckets by UTC day, whatever offset the time was written with', () => {
    const candidates: RetentionCandidate[] = [
      { id: 'backup-a', time: new Date('2026-03-01T23:30:00-05:00'), status: 'COMPLETED' }, // 03-02 04:30 UTC
      { id: 'backup-b', time: new Date('2026-03-02T01:00:00Z'), status: 'COMPLETED' }, // 03-02 UTC, older
      { id: 'backup-c', time: new Date('2026-03-01T22:00:00Z'), status: 'COMPLETED' }, // 03-01 UTC
    ];
    // Run in a time zone where backup-b falls on 1 March locally, so local-time bucketing would differ.
    const savedTz = process.env.TZ;
    process.env.TZ = 'America/New_York';
    let decisions: RetentionDecision[];
    try {
      expect(new Date('2026-03-02T01:00:00Z').getDate()).toBe(1);
      decisions = applyRetention(candidates, { keepDaily: 2 }, at('2026-03-03T00:00'));
    } finally {
      if (savedTz === undefined) delete process.env.TZ;
      else process.env.TZ = savedTz;
    }
    expect(decisions.map((d) => [d.id, d.action, d.reasons[0]])).toEqual([
      ['backup-a', 'keep', 'daily 2026-03-02'],
      ['backup-b', 'delete', 'not kept by any keep rule'],
      ['backup-c', 'keep', 'daily 2026-03-01'],
    ]);
  });
});

describe('safety rules', () => {
  it('never deletes the newest completed backup, even when every backup is older than maxAge', () => {
    const candidates = [backup('2026-01-01T02:00'), backup('2026-01-02T02:00'), backup('2026-01-03T02:00'), backup('2026-01-04T02:00', 'INCOMPLETE')];
    const decisions = applyRetention(candidates, { maxAgeMs: 7 * DAY, keepLast: 3 }, at('2026-03-01T00:00'));
    expect(decisions.map((d) => [minuteOf(d), d.action])).toEqual([
      ['2026-01-04T02:00', 'delete'], // incomplete: not "the newest completed"
      ['2026-01-03T02:00', 'keep'],
      ['2026-01-02T02:00', 'delete'],
      ['2026-01-01T02:00', 'delete'],
    ]);
    expect(reasonsAt(decisions, '2026-01-03T02:00')).toEqual(['newest completed backup (always kept)']);
  });

  it('counts exactly maxAge old as not older than maxAge', () => {
    const now = at('2026-03-31T02:00');
    const candidates = [backup('2026-03-30T02:00'), backup('2026-03-01T02:00'), { ...backup('2026-03-01T01:59'), id: 'backup-older' }];
    candidates[2]!.time = new Date(at('2026-03-01T02:00').getTime() - 1);
    expect(kept(applyRetention(candidates, { maxAgeMs: 30 * DAY }, now))).toEqual(['2026-03-30T02:00', '2026-03-01T02:00']);
  });

  // F1 <- I1 <- I2 and F2 <- I3 <- I4: fulls and the incrementals built on them.
  const chain = [
    backup('2026-03-01T02:00'), // F1
    backup('2026-03-02T02:00', 'COMPLETED', '2026-03-01T02:00'), // I1
    backup('2026-03-03T02:00', 'COMPLETED', '2026-03-02T02:00'), // I2
    backup('2026-03-04T02:00'), // F2
    backup('2026-03-05T02:00', 'COMPLETED', '2026-03-04T02:00'), // I3
    backup('2026-03-06T02:00', 'COMPLETED', '2026-03-05T02:00'), // I4
  ];
  const chainNow = at('2026-03-10T12:00');

  it('keeps every backup a kept backup depends on, transitively', () => {
    const decisions = applyRetention(chain, { keepLast: 1 }, chainNow);
    expect(kept(decisions)).toEqual(['2026-03-06T02:00', '2026-03-05T02:00', '2026-03-04T02:00']);
    expect(reasonsAt(decisions, '2026-03-05T02:00')).toEqual([`needed by ${idAt('2026-03-06T02:00')}`]);
    expect(reasonsAt(decisions, '2026-03-04T02:00')).toEqual([`needed by ${idAt('2026-03-05T02:00')}`]);
    // I2 is deleted, so it protects nothing: I1 and F1 go too
    expect(decisions.filter((d) => d.action === 'delete').map(minuteOf)).toEqual(['2026-03-03T02:00', '2026-03-02T02:00', '2026-03-01T02:00']);
  });

  it('protects the base of an incremental that is still being written', () => {
    const inProgress = backup('2026-03-10T11:00', 'INCOMPLETE', '2026-03-03T02:00'); // on top of I2
    const decisions = applyRetention([...chain, inProgress], { keepLast: 1 }, chainNow);
    expect(decisions.every((d) => d.action === 'keep')).toBe(true);
    expect(reasonsAt(decisions, '2026-03-03T02:00')).toEqual([`needed by ${inProgress.id}`]);
    expect(reasonsAt(decisions, '2026-03-01T02:00')).toEqual([`needed by ${idAt('2026-03-02T02:00')}`]);
  });

  it('adds the dependency to the reasons of a backup kept anyway, and ignores parents it cannot see', () => {
    const orphan = { ...backup('2026-03-07T02:00'), parent: 'backup-not-on-this-target' };
    const decisions = applyRetention([...chain, orphan], { keepLast: 3 }, chainNow);
    expect(kept(decisions)).toEqual(['2026-03-07T02:00', '2026-03-06T02:00', '2026-03-05T02:00', '2026-03-04T02:00']);
    expect(reasonsAt(decisions, '2026-03-05T02:00')).toEqual(['last 3 (#3)', `needed by ${idAt('2026-03-06T02:00')}`]);
  });

  it('returns nothing for no backups', () => {
    expect(applyRetention([], { keepLast: 3 }, NOW)).toEqual([]);
  });
});

describe('isEmptyPolicy and describePolicy', () => {
  it.each([
    [{}, true],
    [{ minAgeMs: DAY }, true],
    [{ keepLast: 0, keepDaily: 0, maxAgeMs: 0 }, true],
    [{ keepDaily: 1 }, false],
    [{ maxAgeMs: DAY }, false],
  ] as const)('%j empty: %s', (policy, empty) => {
    expect(isEmptyPolicy(policy)).toBe(empty);
  });

  it('describes a policy on one line', () => {
    expect(describePolicy({ keepLast: 10, keepDaily: 7, keepWeekly: 4, maxAgeMs: 30 * DAY, minAgeMs: DAY })).toBe(
      'keep last 10, 7 daily, 4 weekly; delete older than 30d; never delete backups younger than 1d',
    );
    expect(describePolicy({})).toMatch(/nothing is deleted/);
    expect(describePolicy({})).not.toContain('\n');
  });
});

describe('policyFromConfig', () => {
  const envDefaults = { maxBackups: 10, retentionDays: 30 };

  it('uses MAX_BACKUPS and BACKUP_RETENTION_DAYS when the config gives no rule', () => {
    expect(policyFromConfig(undefined, envDefaults)).toEqual({ keepLast: 10, maxAgeMs: 30 * DAY });
    expect(policyFromConfig({}, { maxBackups: '5', retentionDays: '7' })).toEqual({ keepLast: 5, maxAgeMs: 7 * DAY });
    expect(policyFromConfig({ minAge: '1d' }, envDefaults)).toEqual({ keepLast: 10, maxAgeMs: 30 * DAY, minAgeMs: DAY });
    expect(policyFromConfig(undefined, { maxBackups: 0, retentionDays: 0 })).toEqual({});
    expect(policyFromConfig(undefined, {})).toEqual({});
  });

  it('ignores the environment defaults once the config sets any rule', () => {
    expect(policyFromConfig({ keepDaily: 7, keepWeekly: 4, keepMonthly: 6, maxAge: '90d' }, envDefaults)).toEqual({
      keepDaily: 7,
      keepWeekly: 4,
      keepMonthly: 6,
      maxAgeMs: 90 * DAY,
    });
    expect(policyFromConfig({ keepLast: 3 }, envDefaults)).toEqual({ keepLast: 3 });
    expect(policyFromConfig({ maxAge: '2w' }, envDefaults)).toEqual({ maxAgeMs: 14 * DAY });
  });

  it('accepts whole numbers written as strings (after ${VAR} substitution)', () => {
    expect(policyFromConfig({ keepLast: '12', keepHourly: 24, keepYearly: '0' }, {})).toEqual({ keepLast: 12, keepHourly: 24, keepYearly: 0 });
  });

  it.each([
    [{ keepLast: -1 }, {}, 'retention.keepLast', '-1'],
    [{ keepDaily: 1.5 }, {}, 'retention.keepDaily', '1.5'],
    [{ keepWeekly: 'four' }, {}, 'retention.keepWeekly', 'four'],
    [{ maxAge: '30' }, {}, 'retention.maxAge', '30'],
    [{ minAge: 'soon' }, {}, 'retention.minAge', 'soon'],
    [undefined, { maxBackups: 'ten' }, 'MAX_BACKUPS', 'ten'],
    [undefined, { retentionDays: -3 }, 'BACKUP_RETENTION_DAYS', '-3'],
  ] as const)('rejects %j / %j naming %s', (config, defaults, key, value) => {
    let caught: unknown;
    try {
      policyFromConfig(config as never, defaults as never);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(BackupError);
    expect((caught as BackupError).code).toBe('CONFIG_INVALID');
    expect((caught as BackupError).exitCode).toBe(2);
    expect((caught as BackupError).message).toContain(key);
    expect((caught as BackupError).message).toContain(value);
  });

  it('names the key with the caller’s prefix', () => {
    expect(() => policyFromConfig({ keepLast: -2 }, {}, 'targets.offsite.retention')).toThrow(/targets\.offsite\.retention\.keepLast/);
  });
});
