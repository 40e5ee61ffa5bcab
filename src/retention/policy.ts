/**
 * The retention policy engine behind `prune` (docs/REFERENCE.md#retention): pure logic, no I/O.
 *
 * How the rules combine — `applyRetention` follows these exactly, in this order:
 *
 * 1. Incomplete backups (status INCOMPLETE — a folder without a manifest — or FAILED) are never
 *    subject to keep rules. Once older than the grace period (default 24h) they are deleted;
 *    younger ones are kept, because a `create` may still be writing them.
 *
 * 2. Broken chains (docs/PITR.md): a COMPLETED incremental that continues no chain on this target
 *    (its parent or base gone or not COMPLETED, a gap in the oplog, a second child of one parent —
 *    `buildChains`' orphans) can restore nothing, so it is deleted with the reason, whatever the
 *    keep rules say. Only `minAge` still protects it (step 6).
 *
 * 3. Count rules, over COMPLETED **full** backups only, walked newest first — the semantics of
 *    restic's `forget` (internal/restic/snapshot_policy.go, ApplyPolicy):
 *    - `keepLast N` keeps the N newest.
 *    - `keepHourly/Daily/Weekly/Monthly/Yearly N` keeps the newest backup of each distinct period
 *      (UTC hour, UTC day, ISO week, UTC month, UTC year) until N periods have been kept. Periods
 *      without a backup do not count.
 *    - Like restic, when a rule still has periods left after the walk, the oldest COMPLETED full
 *      backup is kept by that rule too (it maximises the history kept while the quota is not used up).
 *    - Rules are independent; a backup kept by several rules records one reason per rule.
 *    Incrementals are not counted: hourly slices would otherwise push the full backups out of
 *    `keepLast`. A kept full keeps no incremental by itself.
 *
 * 4. `pitrWindow D` keeps every link needed to restore any moment of the last D: every link (base
 *    and incrementals) of each chain whose window reaches into [now - D, now] (`keptForWindow`).
 *    It is a keep rule like those of step 3. Without it, incrementals live only by step 6.
 *
 * 5. `maxAge` limits, it never keeps: a COMPLETED backup older than `maxAge` is deleted even when a
 *    keep rule (count rules or `pitrWindow`) matched it (so `keepMonthly 6` + `maxAge 90d` keeps
 *    about three months). This is the original design's "delete older than BACKUP_RETENTION_DAYS"
 *    AND "keep at most MAX_BACKUPS": both limit. With keep rules, a backup survives when some keep
 *    rule keeps it AND it is not older than `maxAge`. With `maxAge` alone, every backup (full or
 *    incremental) younger than it is kept. With neither keep rules nor `maxAge` the policy is empty
 *    (`isEmptyPolicy`): no COMPLETED backup is deleted except broken-chain incrementals — prune
 *    must never read "no rules" as "keep nothing".
 *
 * 6. Protections, which turn any "delete" above back into "keep":
 *    - `minAge`: a backup (of any status) younger than `minAge` is kept.
 *    - the newest COMPLETED backup that is not a broken-chain incremental is always kept, and so
 *      is the newest restore point (the last link of the chain reaching furthest), even when a
 *      newer backup that starts no chain (a `--db` dump) is the newest.
 *    - a backup that a kept backup depends on (`parent` and `base`, followed transitively, whatever
 *      the dependent's status — an incremental still being written needs its base too) is kept.
 *      So retention never breaks a chain: a chain loses only links after every kept one.
 *
 * A backup's age is `now - time`; a backup from the future (clock skew) has a negative age, so it
 * is never "older than" anything. Decisions come back newest first, each with at least one reason.
 */
import { BackupError, ErrorCodes } from '../errors.js';
import { formatDuration, parseDuration } from '../duration.js';
import { buildChains, keptForWindow, lastLink, type ChainMember, type OplogRange } from '../pitr/chain.js';

export interface RetentionPolicy {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  maxAgeMs?: number;
  minAgeMs?: number;
  /** Keep every link needed to restore any moment of this many ms back from now. */
  pitrWindowMs?: number;
}

export interface RetentionCandidate {
  id: string;
  time: Date;
  status: 'COMPLETED' | 'FAILED' | 'INCOMPLETE';
  /** FULL when absent. */
  type?: 'FULL' | 'INCREMENTAL';
  /** Incrementals: the previous link of the chain, which this one continues. */
  parent?: string;
  /** Incrementals: the chain's full backup. */
  base?: string;
  /** The manifest's oplog range and point-in-time flag, which place the backup in a chain. */
  oplog?: OplogRange;
  pointInTime?: boolean;
}

export interface RetentionDecision {
  id: string;
  time: Date;
  action: 'keep' | 'delete';
  /** Why, for people: 'last 10 (#3)', 'daily 2026-02-18', 'older than maxAge 30d', ... */
  reasons: string[];
}

export interface RetentionOptions {
  /** How long an incomplete or failed backup may still be in progress (default 24h). */
  incompleteGraceMs?: number;
}

export const DEFAULT_INCOMPLETE_GRACE_MS = 24 * 60 * 60 * 1000;

type BucketRuleKey = 'keepHourly' | 'keepDaily' | 'keepWeekly' | 'keepMonthly' | 'keepYearly';

interface BucketRule {
  key: BucketRuleKey;
  /** singular label used in reasons and descriptions */
  label: string;
  /** the UTC period a time falls in, printed as it appears in reasons */
  period: (time: Date) => string;
}

const BUCKET_RULES: readonly BucketRule[] = [
  { key: 'keepHourly', label: 'hourly', period: (t) => `${utcDay(t)} ${pad(t.getUTCHours())}:00` },
  { key: 'keepDaily', label: 'daily', period: utcDay },
  { key: 'keepWeekly', label: 'weekly', period: isoWeek },
  { key: 'keepMonthly', label: 'monthly', period: (t) => `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}` },
  { key: 'keepYearly', label: 'yearly', period: (t) => String(t.getUTCFullYear()) },
];

const KEEP_RULE_KEYS = ['keepLast', ...BUCKET_RULES.map((rule) => rule.key)] as const;

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

function utcDay(t: Date): string {
  return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
}

/** ISO 8601 week `YYYY-Www` in UTC: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(t: Date): string {
  const day = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
  const weekday = day.getUTCDay() || 7; // Monday 1 ... Sunday 7
  day.setUTCDate(day.getUTCDate() + 4 - weekday); // the Thursday of this week decides the year
  const weekYear = day.getUTCFullYear();
  const firstOfYear = Date.UTC(weekYear, 0, 1);
  const week = Math.floor((day.getTime() - firstOfYear) / 86_400_000 / 7) + 1;
  return `${weekYear}-W${pad(week)}`;
}

function hasCountRules(policy: RetentionPolicy): boolean {
  return KEEP_RULE_KEYS.some((key) => (policy[key] ?? 0) > 0);
}

function hasKeepRules(policy: RetentionPolicy): boolean {
  return hasCountRules(policy) || (policy.pitrWindowMs ?? 0) > 0;
}

/** True when the policy would never delete a COMPLETED backup (no keep rule, no maxAge). */
export function isEmptyPolicy(policy: RetentionPolicy): boolean {
  return !hasKeepRules(policy) && !((policy.maxAgeMs ?? 0) > 0);
}

/** One line for output, e.g. `keep last 10, 7 daily, 4 weekly; delete older than 30d`. */
export function describePolicy(policy: RetentionPolicy): string {
  const keeps: string[] = [];
  if ((policy.keepLast ?? 0) > 0) keeps.push(`last ${policy.keepLast}`);
  for (const rule of BUCKET_RULES) {
    const count = policy[rule.key] ?? 0;
    if (count > 0) keeps.push(`${count} ${rule.label}`);
  }
  if ((policy.pitrWindowMs ?? 0) > 0) keeps.push(`every restore point of the last ${formatDuration(policy.pitrWindowMs as number)}`);
  const parts: string[] = [];
  if (keeps.length > 0) parts.push(`keep ${keeps.join(', ')}`);
  if ((policy.maxAgeMs ?? 0) > 0) parts.push(`delete older than ${formatDuration(policy.maxAgeMs as number)}`);
  if (parts.length === 0) parts.push('no retention rules: nothing is deleted except incomplete backups past their grace period');
  if ((policy.minAgeMs ?? 0) > 0) parts.push(`never delete backups younger than ${formatDuration(policy.minAgeMs as number)}`);
  return parts.join('; ');
}

function byNewestFirst(a: RetentionCandidate, b: RetentionCandidate): number {
  const byTime = b.time.getTime() - a.time.getTime();
  if (byTime !== 0) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * Step 3 of the module comment: which COMPLETED full backups the count rules keep, and why.
 * `completed` (full backups only) is newest first; the result maps index -> reasons.
 */
function keepRuleReasons(completed: readonly RetentionCandidate[], policy: RetentionPolicy): Map<number, string[]> {
  const reasons = new Map<number, string[]>();
  const add = (index: number, reason: string): void => {
    const list = reasons.get(index) ?? [];
    list.push(reason);
    reasons.set(index, list);
  };

  const keepLast = policy.keepLast ?? 0;
  for (let index = 0; index < Math.min(keepLast, completed.length); index++) {
    add(index, `last ${keepLast} (#${index + 1})`);
  }

  for (const rule of BUCKET_RULES) {
    let periodsLeft = policy[rule.key] ?? 0;
    let lastPeriod: string | undefined;
    for (let index = 0; index < completed.length && periodsLeft > 0; index++) {
      const period = rule.period((completed[index] as RetentionCandidate).time);
      const isOldest = index === completed.length - 1;
      if (period !== lastPeriod) {
        add(index, `${rule.label} ${period}`);
        lastPeriod = period;
        periodsLeft--;
      } else if (isOldest) {
        add(index, `${rule.label} ${period} (oldest backup, ${rule.label} quota not used up)`);
        periodsLeft--;
      }
    }
  }
  return reasons;
}

interface Verdict {
  candidate: RetentionCandidate;
  keep: boolean;
  reasons: string[];
  /** A COMPLETED incremental that continues no chain (step 2). */
  brokenChain?: boolean;
}

function isIncremental(candidate: RetentionCandidate): boolean {
  return candidate.type === 'INCREMENTAL';
}

function asChainMember(c: RetentionCandidate): ChainMember {
  const member: ChainMember = { id: c.id, type: c.type ?? 'FULL', status: c.status };
  if (c.parent !== undefined) member.parent = c.parent;
  if (c.base !== undefined) member.base = c.base;
  if (c.oplog !== undefined) member.oplog = c.oplog;
  if (c.pointInTime !== undefined) member.pointInTime = c.pointInTime;
  return member;
}

interface ChainVerdicts {
  /** Broken-chain incrementals (step 2) and why. */
  broken: Map<string, string>;
  /** What `pitrWindow` keeps (step 4). */
  window: Set<string>;
  /** The last link of the chain that reaches furthest: the newest restore point (step 6). */
  newestRestorePoint?: string;
}

function chainVerdicts(completed: readonly RetentionCandidate[], policy: RetentionPolicy, now: Date): ChainVerdicts {
  const { chains, orphans } = buildChains(completed.map(asChainMember));
  const broken = new Map(orphans.map((o) => [o.member.id, o.reason]));
  const windowMs = policy.pitrWindowMs ?? 0;
  const window = windowMs > 0 ? keptForWindow(chains, now.getTime(), windowMs) : new Set<string>();
  const tips = chains.map(lastLink).sort((a, b) => Date.parse(b.oplog!.toTime) - Date.parse(a.oplog!.toTime) || b.id.localeCompare(a.id));
  return { broken, window, ...(tips[0] ? { newestRestorePoint: tips[0].id } : {}) };
}

/** Steps 1–5 of the module comment: the verdict before protections. */
function initialVerdicts(
  sorted: readonly RetentionCandidate[],
  policy: RetentionPolicy,
  now: Date,
  graceMs: number,
  { broken, window }: ChainVerdicts,
): Verdict[] {
  const completed = sorted.filter((c) => c.status === 'COMPLETED');
  const fulls = completed.filter((c) => !isIncremental(c));
  const keepReasons = keepRuleReasons(fulls, policy);
  const fullIndex = new Map(fulls.map((c, index) => [c, index]));
  const withKeepRules = hasKeepRules(policy);
  const maxAgeMs = (policy.maxAgeMs ?? 0) > 0 ? (policy.maxAgeMs as number) : undefined;
  const empty = isEmptyPolicy(policy);

  return sorted.map((candidate): Verdict => {
    const age = now.getTime() - candidate.time.getTime();
    if (candidate.status !== 'COMPLETED') {
      const what = candidate.status === 'FAILED' ? 'failed' : 'incomplete (no manifest)';
      return age > graceMs
        ? { candidate, keep: false, reasons: [`${what}, older than grace period ${formatDuration(graceMs)}`] }
        : { candidate, keep: true, reasons: [`${what}, within grace period ${formatDuration(graceMs)}`] };
    }
    const brokenReason = broken.get(candidate.id);
    if (brokenReason !== undefined) return { candidate, keep: false, reasons: [`broken chain: ${brokenReason}`], brokenChain: true };
    if (empty) return { candidate, keep: true, reasons: ['no retention rules (empty policy keeps everything)'] };

    const matched = [...(keepReasons.get(fullIndex.get(candidate) ?? -1) ?? [])];
    if (window.has(candidate.id)) matched.push(`pitrWindow ${formatDuration(policy.pitrWindowMs as number)}`);
    if (maxAgeMs !== undefined && age > maxAgeMs) {
      const reasons = [`older than maxAge ${formatDuration(maxAgeMs)}`];
      if (matched.length > 0) reasons.push(`maxAge overrides: ${matched.join(', ')}`);
      return { candidate, keep: false, reasons };
    }
    if (!withKeepRules) return { candidate, keep: true, reasons: [`within maxAge ${formatDuration(maxAgeMs as number)}`] };
    if (matched.length > 0) return { candidate, keep: true, reasons: matched };
    return { candidate, keep: false, reasons: [notKeptReason(candidate, policy)] };
  });
}

function notKeptReason(candidate: RetentionCandidate, policy: RetentionPolicy): string {
  if (!isIncremental(candidate)) return 'not kept by any keep rule';
  const windowMs = policy.pitrWindowMs ?? 0;
  return windowMs > 0
    ? `incremental not needed for the pitrWindow ${formatDuration(windowMs)}`
    : 'incremental: count rules keep full backups only, and no pitrWindow is set';
}

/** Step 6 of the module comment: minAge, the newest COMPLETED backup, and dependencies. */
function applyProtections(verdicts: Verdict[], policy: RetentionPolicy, now: Date, newestRestorePoint: string | undefined): void {
  const protect = (verdict: Verdict, reason: string): void => {
    if (!verdict.keep) {
      verdict.keep = true;
      verdict.reasons = [];
    }
    if (!verdict.reasons.includes(reason)) verdict.reasons.push(reason);
  };

  const minAgeMs = policy.minAgeMs ?? 0;
  if (minAgeMs > 0) {
    for (const verdict of verdicts) {
      if (now.getTime() - verdict.candidate.time.getTime() < minAgeMs) {
        protect(verdict, `within minAge ${formatDuration(minAgeMs)}`);
      }
    }
  }

  const newestCompleted = verdicts.find((v) => v.candidate.status === 'COMPLETED' && !v.brokenChain);
  if (newestCompleted) protect(newestCompleted, 'newest completed backup (always kept)');
  // A newer backup that starts no chain (a --db dump, a standalone server) must not cost the chains
  // their newest restore point.
  const newestPoint = verdicts.find((v) => v.candidate.id === newestRestorePoint);
  if (newestPoint && newestPoint !== newestCompleted) protect(newestPoint, 'newest restore point (always kept)');

  // Keeping a link can make its own parent needed: walk until nothing changes. Each pass only
  // adds keeps, so this ends after at most one pass per backup.
  const byId = new Map(verdicts.map((v) => [v.candidate.id, v]));
  const queue = verdicts.filter((v) => v.keep);
  while (queue.length > 0) {
    const dependent = queue.shift() as Verdict;
    for (const neededId of new Set([dependent.candidate.parent, dependent.candidate.base])) {
      const needed = neededId === undefined ? undefined : byId.get(neededId);
      if (!needed || needed === dependent) continue;
      const wasKept = needed.keep;
      protect(needed, `needed by ${dependent.candidate.id}`);
      if (!wasKept) queue.push(needed);
    }
  }
}

/**
 * Decides, for every backup of one target, whether prune keeps or deletes it — see the module
 * comment for the exact rules. Returns the decisions newest first.
 */
export function applyRetention(
  candidates: RetentionCandidate[],
  policy: RetentionPolicy,
  now: Date,
  options: RetentionOptions = {},
): RetentionDecision[] {
  const graceMs = options.incompleteGraceMs ?? DEFAULT_INCOMPLETE_GRACE_MS;
  const sorted = [...candidates].sort(byNewestFirst);
  const chains = chainVerdicts(sorted.filter((c) => c.status === 'COMPLETED'), policy, now);
  const verdicts = initialVerdicts(sorted, policy, now, graceMs, chains);
  applyProtections(verdicts, policy, now, chains.newestRestorePoint);
  return verdicts.map(({ candidate, keep, reasons }) => ({
    id: candidate.id,
    time: candidate.time,
    action: keep ? 'keep' : 'delete',
    reasons,
  }));
}

/** Retention settings as they appear in a target's `retention:` block (values may be strings after `${VAR}`). */
export interface RetentionConfig {
  keepLast?: number | string;
  keepHourly?: number | string;
  keepDaily?: number | string;
  keepWeekly?: number | string;
  keepMonthly?: number | string;
  keepYearly?: number | string;
  maxAge?: string;
  minAge?: string;
  pitrWindow?: string;
}

/** The original design's environment defaults (MAX_BACKUPS, BACKUP_RETENTION_DAYS). */
export interface RetentionDefaults {
  maxBackups?: number | string;
  retentionDays?: number | string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Turns a target's `retention:` block into a policy, validating it (CONFIG_INVALID naming the key).
 * When the block sets no rule at all (absent, empty, or only `minAge`), the environment defaults
 * apply as a whole: MAX_BACKUPS -> keepLast, BACKUP_RETENTION_DAYS -> maxAge (0 turns either off).
 * When the block sets any rule, the defaults are ignored, so `{ keepDaily: 7 }` means exactly that.
 */
export function policyFromConfig(
  config: RetentionConfig | undefined,
  defaults: RetentionDefaults,
  keyPrefix = 'retention',
): RetentionPolicy {
  const policy: RetentionPolicy = {};
  const source = config ?? {};
  for (const key of KEEP_RULE_KEYS) {
    const value = source[key];
    if (value !== undefined && value !== null) policy[key] = nonNegativeInteger(value, `${keyPrefix}.${key}`);
  }
  if (source.maxAge !== undefined && source.maxAge !== null) {
    policy.maxAgeMs = parseDuration(source.maxAge, `${keyPrefix}.maxAge`);
  }
  if (source.minAge !== undefined && source.minAge !== null) {
    policy.minAgeMs = parseDuration(source.minAge, `${keyPrefix}.minAge`);
  }
  if (source.pitrWindow !== undefined && source.pitrWindow !== null) {
    policy.pitrWindowMs = parseDuration(source.pitrWindow, `${keyPrefix}.pitrWindow`);
  }

  const configGivesRules =
    KEEP_RULE_KEYS.some((key) => policy[key] !== undefined) || policy.maxAgeMs !== undefined || policy.pitrWindowMs !== undefined;
  if (!configGivesRules) {
    if (defaults.maxBackups !== undefined) {
      const keepLast = nonNegativeInteger(defaults.maxBackups, 'MAX_BACKUPS');
      if (keepLast > 0) policy.keepLast = keepLast;
    }
    if (defaults.retentionDays !== undefined) {
      const days = nonNegativeInteger(defaults.retentionDays, 'BACKUP_RETENTION_DAYS');
      if (days > 0) policy.maxAgeMs = days * DAY_MS;
    }
  }
  return policy;
}

function nonNegativeInteger(value: unknown, key: string): number {
  const number = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) {
    throw new BackupError(ErrorCodes.CONFIG_INVALID, `${key}: ${JSON.stringify(value)} is not a whole number ≥ 0`, {
      hint: `set ${key} to a count such as 7 (0 turns the rule off)`,
      details: { key, value: String(value) },
    });
  }
  return number;
}
