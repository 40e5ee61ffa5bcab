/**
 * The alert log, kept in `stateDir/alerts.json` (replaced atomically). An alert is identified by its
 * condition, (type, target): raising a condition that already has an unresolved alert only bumps
 * that alert's lastSeenAt and occurrences, so a failing cron job does not page anyone every hour.
 * New alerts and automatic resolutions are delivered to the configured notifiers after the file
 * is written. Nothing here ever blocks a backup: a damaged file is moved aside with a warning, and
 * every failure to read, write or notify becomes a warning.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { BackupError, ErrorCodes, redactSecrets } from '../errors.js';
import { deliver, type AlertEvent, type AlertLevel, type NotifyConfig } from '../notify/index.js';
import { writeFileAtomic, type RunCommand, type RunRecord } from './journal.js';
import { processExists } from './lock.js';

export type { AlertLevel } from '../notify/index.js';

export const ALERTS_FILE = 'alerts.json';
const STORE_VERSION = 1;
/** Resolved alerts are history; keep a bounded amount of it. */
const KEEP_RESOLVED = 500;
const KEEP_RESOLVED_DAYS = 90;

export interface Alert {
  id: string;
  level: AlertLevel;
  type: string;
  message: string;
  target?: string;
  createdAt: string;
  lastSeenAt: string;
  occurrences: number;
  resolvedAt?: string;
  resolution?: 'auto' | 'manual';
  note?: string;
}

export interface AlertCondition {
  level: AlertLevel;
  type: string;
  message: string;
  target?: string;
}

/** What alert functions need; a ResolvedConfig fits. */
export interface AlertSettings {
  stateDir: string;
  alerts?: NotifyConfig;
}

export interface AlertOptions {
  warn?: (message: string) => void;
  now?: Date;
  /** For tests: the webhook back-off between tries. */
  retryDelaysMs?: number[];
  /** For tests: how long to wait for another process's lock on the alert log (default ALERT_LOCK_WAIT_MS). */
  lockWaitMs?: number;
}

interface Store {
  version: number;
  alerts: Alert[];
}

export function alertsPath(stateDir: string): string {
  return path.join(stateDir, ALERTS_FILE);
}

export function isActive(alert: Alert): boolean {
  return alert.resolvedAt === undefined;
}

const sameCondition = (alert: Alert, type: string, target: string | undefined): boolean =>
  alert.type === type && (alert.target ?? undefined) === (target ?? undefined);

/** Every alert, newest first. A missing file is an empty log; a damaged one is moved aside. */
export async function loadAlerts(stateDir: string, warn: (message: string) => void = () => {}): Promise<Alert[]> {
  return (await readStore(stateDir, warn)).alerts.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

async function readStore(stateDir: string, warn: (message: string) => void): Promise<Store> {
  const file = alertsPath(stateDir);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: STORE_VERSION, alerts: [] };
    throw error;
  }
  const store = parseStore(text);
  if (store) return store;
  const aside = `${file}.corrupt-${Date.now()}`;
  await fs.rename(file, aside).catch(() => undefined);
  warn(`the alert log ${file} was damaged; moved it to ${aside} and started a new one`);
  return { version: STORE_VERSION, alerts: [] };
}

function parseStore(text: string): Store | undefined {
  try {
    const value = JSON.parse(text) as Partial<Store>;
    if (!Array.isArray(value.alerts)) return undefined;
    const alerts = value.alerts.filter(
      (a): a is Alert => typeof a === 'object' && a !== null && typeof a.id === 'string' && typeof a.type === 'string' && typeof a.createdAt === 'string',
    );
    return { version: STORE_VERSION, alerts };
  } catch {
    return undefined;
  }
}

function trimHistory(alerts: Alert[], now: Date): Alert[] {
  const cutoff = now.getTime() - KEEP_RESOLVED_DAYS * 86_400_000;
  const active = alerts.filter(isActive);
  const resolved = alerts
    .filter((a) => !isActive(a) && Date.parse(a.resolvedAt ?? a.lastSeenAt) >= cutoff)
    .sort((a, b) => (b.resolvedAt ?? '').localeCompare(a.resolvedAt ?? ''))
    .slice(0, KEEP_RESOLVED);
  return [...active, ...resolved];
}

/**
 * Reads, changes and writes the store under a small lock file, so a `health` run and a backup
 * finishing at the same moment do not lose each other's changes. See acquireStoreLock for what
 * happens when the lock cannot be had.
 */
async function updateStore<T>(stateDir: string, warn: (message: string) => void, change: (store: Store) => T, lockWaitMs?: number): Promise<T> {
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const release = await acquireStoreLock(`${alertsPath(stateDir)}.lock`, warn, lockWaitMs);
  try {
    const store = await readStore(stateDir, warn);
    const result = change(store);
    store.alerts = trimHistory(store.alerts, new Date());
    await writeFileAtomic(alertsPath(stateDir), `${JSON.stringify(store, null, 2)}\n`);
    return result;
  } finally {
    await release();
  }
}

/** How long to wait for another process's hold on the alert log (held for milliseconds normally). */
export const ALERT_LOCK_WAIT_MS = 10_000;
/** A lock file older than this was left by a process that died holding it. */
const ALERT_LOCK_STALE_MS = 30_000;
const ALERT_LOCK_RETRY_MS = 25;

/**
 * Takes the alert log's lock file, retrying while another process holds it. A lock whose holder
 * is gone (its PID no longer exists on this host, or the file is older than ALERT_LOCK_STALE_MS) is
 * taken over at once.
 *
 * When the lock cannot be had — still held after `waitMs`, or the lock file cannot be created —
 * the change goes ahead without it, with a warning saying so. Giving up instead would lose this
 * change for certain (an alert about a failed backup neither recorded nor sent), while going ahead
 * can lose only a change written at the very same moment, which the next run or `health` raises
 * again; the warning makes either visible.
 */
async function acquireStoreLock(lockFile: string, warn: (message: string) => void, waitMs = ALERT_LOCK_WAIT_MS): Promise<() => Promise<void>> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const handle = await fs.open(lockFile, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n${hostname()}\n`);
      await handle.close();
      return () => fs.rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        warn(`could not lock the alert log (${(error as Error).message}); updating it unlocked, a change made at the same moment by another run may be lost`);
        return async () => {};
      }
      if (await holderIsGone(lockFile)) {
        await fs.rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        warn(`the alert log is still locked by another process after ${waitMs / 1000} s (${lockFile}); updating it anyway, a change made at the same moment may be lost`);
        return async () => {};
      }
      await new Promise((done) => setTimeout(done, ALERT_LOCK_RETRY_MS));
    }
  }
}

/** The lock file names its holder (PID, host); a holder that no longer runs, or an old file, is gone. */
async function holderIsGone(lockFile: string): Promise<boolean> {
  const st = await fs.stat(lockFile).catch(() => undefined);
  if (!st) return true;
  if (Date.now() - st.mtimeMs > ALERT_LOCK_STALE_MS) return true;
  const [pidText, host] = (await fs.readFile(lockFile, 'utf8').catch(() => '')).split('\n');
  const pid = Number(pidText);
  // Another host's PIDs mean nothing here; a file still being written names no one yet.
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  return !processExists(pid);
}

function newAlertId(): string {
  return `alert-${randomBytes(4).toString('hex')}`;
}

function eventOf(alert: Alert, status: AlertEvent['status']): AlertEvent {
  const event: AlertEvent = {
    id: alert.id,
    level: status === 'resolved' ? 'INFO' : alert.level,
    type: alert.type,
    message: status === 'resolved' ? `condition cleared: ${alert.message}` : alert.message,
    status,
    createdAt: alert.createdAt,
    occurrences: alert.occurrences,
  };
  if (alert.target !== undefined) event.target = alert.target;
  if (alert.resolvedAt !== undefined) event.resolvedAt = alert.resolvedAt;
  return event;
}

export interface AlertChanges {
  raised: Alert[];
  /** Conditions seen again while their alert was still open (no new notification). */
  repeated: Alert[];
  resolved: Alert[];
}

/**
 * Applies a batch of changes in one read-modify-write, then notifies: raises `conditions` (new or
 * repeated) and auto-resolves every other open alert whose (type, target) is listed in `cleared`
 * (or for which the `cleared` predicate returns true).
 */
export async function applyAlertChanges(
  settings: AlertSettings,
  conditions: AlertCondition[],
  cleared: Array<{ type: string; target?: string }> | ((alert: Alert) => boolean),
  options: AlertOptions = {},
): Promise<AlertChanges> {
  const isCleared =
    typeof cleared === 'function' ? cleared : (alert: Alert): boolean => cleared.some(({ type, target }) => sameCondition(alert, type, target));
  const warn = options.warn ?? (() => {});
  const now = (options.now ?? new Date()).toISOString();
  const changes: AlertChanges = { raised: [], repeated: [], resolved: [] };
  try {
    await updateStore(settings.stateDir, warn, (store) => {
      for (const condition of conditions) {
        const message = redactSecrets(condition.message);
        const open = store.alerts.find((a) => isActive(a) && sameCondition(a, condition.type, condition.target));
        if (open) {
          open.lastSeenAt = now;
          open.occurrences += 1;
          open.message = message;
          open.level = condition.level;
          changes.repeated.push(open);
          continue;
        }
        const alert: Alert = { id: newAlertId(), level: condition.level, type: condition.type, message, createdAt: now, lastSeenAt: now, occurrences: 1 };
        if (condition.target !== undefined) alert.target = condition.target;
        store.alerts.push(alert);
        changes.raised.push(alert);
      }
      const raisedNow = new Set([...changes.raised, ...changes.repeated]);
      for (const alert of store.alerts) {
        if (!isActive(alert) || raisedNow.has(alert) || !isCleared(alert)) continue;
        alert.resolvedAt = now;
        alert.resolution = 'auto';
        changes.resolved.push(alert);
      }
    }, options.lockWaitMs);
  } catch (error) {
    warn(`could not update the alert log in ${settings.stateDir}: ${(error as Error).message}`);
    return changes;
  }
  const notifyOptions = { warn, ...(options.retryDelaysMs ? { retryDelaysMs: options.retryDelaysMs } : {}) };
  await Promise.all([
    ...changes.raised.map((alert) => deliver(settings.alerts, eventOf(alert, 'raised'), notifyOptions)),
    ...changes.resolved.map((alert) => deliver(settings.alerts, eventOf(alert, 'resolved'), notifyOptions)),
  ]);
  return changes;
}

/** Raises one condition (de-duplicated while unresolved); returns the alert and whether it is new. */
export async function raiseAlert(settings: AlertSettings, condition: AlertCondition, options: AlertOptions = {}): Promise<{ alert?: Alert; isNew: boolean }> {
  const changes = await applyAlertChanges(settings, [condition], [], options);
  const alert = changes.raised[0] ?? changes.repeated[0];
  return { ...(alert ? { alert } : {}), isNew: changes.raised.length > 0 };
}

/** Auto-resolves the open alert for (type, target), if any, and notifies; returns what it resolved. */
export async function resolveCondition(settings: AlertSettings, type: string, target?: string, options: AlertOptions = {}): Promise<Alert[]> {
  const changes = await applyAlertChanges(settings, [], [target === undefined ? { type } : { type, target }], options);
  return changes.resolved;
}

/**
 * Resolves an alert by hand (`alerts resolve`). Accepts the full id or an unambiguous prefix.
 * Throws NOT_FOUND for an unknown id and FAILED for one already resolved.
 */
export async function resolveAlertById(stateDir: string, idOrPrefix: string, note?: string, options: AlertOptions = {}): Promise<Alert> {
  const warn = options.warn ?? (() => {});
  const now = (options.now ?? new Date()).toISOString();
  return updateStore(stateDir, warn, (store) => {
    const exact = store.alerts.find((a) => a.id === idOrPrefix);
    const matches = exact ? [exact] : store.alerts.filter((a) => a.id.startsWith(idOrPrefix));
    if (matches.length === 0) {
      throw new BackupError(ErrorCodes.NOT_FOUND, `no alert with id ${idOrPrefix}`, { hint: 'run `mongo-backup alerts list --all` to see the ids' });
    }
    if (matches.length > 1) {
      throw new BackupError(ErrorCodes.USAGE, `alert id ${idOrPrefix} is ambiguous: ${matches.map((a) => a.id).join(', ')}`);
    }
    const alert = matches[0] as Alert;
    if (!isActive(alert)) {
      throw new BackupError(ErrorCodes.FAILED, `alert ${alert.id} is already resolved (${alert.resolution ?? 'manual'}, ${alert.resolvedAt})`);
    }
    alert.resolvedAt = now;
    alert.resolution = 'manual';
    if (note !== undefined) alert.note = redactSecrets(note);
    return { ...alert };
  }, options.lockWaitMs);
}

// ---- The API that run commands (create, restore, verify, replicate, prune, delete) call ----

/** The alert type a failed run of each command raises; `verify_failed` matches health's check. */
export function runFailureType(command: RunCommand): string {
  return command === 'create' ? 'backup_failed' : `${command}_failed`;
}

/**
 * A failed verification is CRITICAL, and so is a broken point-in-time chain (the oplog rolled over
 * before an incremental could continue it: every moment since the chain's end is unrecoverable
 * until a new full backup); other failed runs are WARNING.
 */
function runFailureLevel(record: RunRecord): AlertLevel {
  return record.command === 'verify' || record.error?.code === ErrorCodes.OPLOG_ROLLED_OVER ? 'CRITICAL' : 'WARNING';
}

function describeRunFailure(record: RunRecord): string {
  const what = record.command === 'create' ? 'backup' : record.command;
  const subject = record.backupId ? `${what} ${record.backupId}` : `${what} run ${record.runId}`;
  if (record.status === 'PARTIAL') {
    const failed = Object.entries(record.targets ?? {})
      .filter(([, result]) => result.status === 'failed')
      .map(([name, result]) => `${name}${result.error ? ` (${result.error})` : ''}`);
    return `${subject} partially failed${failed.length ? `: target ${failed.join(', ')} failed` : ''}`;
  }
  const verb = record.status === 'INTERRUPTED' ? 'was interrupted' : 'failed';
  return `${subject} ${verb}${record.error ? `: ${record.error.message}` : ''}`;
}

/**
 * Call after a run that did not succeed (FAILED, INTERRUPTED or PARTIAL). Raises (or repeats) the
 * command's failure alert and notifies on a new one. Never throws.
 */
export async function alertOnRunFailure(settings: AlertSettings, record: RunRecord, options: AlertOptions = {}): Promise<void> {
  if (record.status === 'SUCCESS') return;
  await raiseAlert(settings, { level: runFailureLevel(record), type: runFailureType(record.command), message: describeRunFailure(record) }, options).catch(
    (error: unknown) => options.warn?.(`could not raise an alert: ${(error as Error).message}`),
  );
}

/** Call after a successful run: auto-resolves that command's failure alert (default: create's). Never throws. */
export async function clearRunFailure(settings: AlertSettings, command: RunCommand = 'create', options: AlertOptions = {}): Promise<void> {
  await resolveCondition(settings, runFailureType(command), undefined, options).catch((error: unknown) =>
    options.warn?.(`could not resolve alerts: ${(error as Error).message}`),
  );
}

/**
 * Call after a successful run: when `alerts.notifyOnSuccess` is set, sends an INFO notification
 * (status `ok`, not stored in the alert log). Never throws.
 */
export async function notifyRunSuccess(settings: AlertSettings, record: RunRecord, options: AlertOptions = {}): Promise<void> {
  if (!settings.alerts?.notifyOnSuccess || record.status !== 'SUCCESS') return;
  const what = record.command === 'create' ? 'backup' : record.command;
  const seconds = (record.duration / 1000).toFixed(1);
  const size = record.storedSize !== undefined ? `, ${record.storedSize} bytes stored` : '';
  const event: AlertEvent = {
    id: record.runId,
    level: 'INFO',
    type: `${record.command}_succeeded`,
    message: `${what}${record.backupId ? ` ${record.backupId}` : ''} succeeded in ${seconds}s${size}`,
    status: 'ok',
    createdAt: record.endTime,
  };
  await deliver(settings.alerts, event, { warn: options.warn ?? (() => {}), ...(options.retryDelaysMs ? { retryDelaysMs: options.retryDelaysMs } : {}) });
}
