/**
 * Bookkeeping around every state-changing run: the exclusive lock (docs/REFERENCE.md#lock),
 * the run journal and alerts. None of the bookkeeping can fail a backup: journal and alert
 * problems are warnings. Commands do not call these directly: operations.ts wraps each
 * operation in them, so the order (lock, then journal, then the work) lives in one place.
 */
import type { ResolvedConfig } from '../config/load.js';
import { ErrorCodes, ExitCode, toBackupError } from '../errors.js';
import { alertOnRunFailure, clearRunFailure, notifyRunSuccess } from '../state/alerts.js';
import { beginRun, recordRunOrWarn, type RunCommand, type RunRecord, type RunStatus, type RunTargetResult } from '../state/journal.js';
import { acquireLock } from '../state/lock.js';

export type Warn = (message: string) => void;

/** What the bookkeeping needs to know about the command that runs. */
export interface RunBooking {
  /** The command line as typed, for the lock file. */
  commandLine: string;
  /** Where journal, alert and lock warnings go. */
  warn: Warn;
}

export type RunDetails = Partial<Omit<RunRecord, 'runId' | 'command' | 'status' | 'startTime' | 'endTime' | 'duration' | 'host'>>;

/** How a run that did not throw ended: its value, and what the journal records about it. */
export interface RunOutcome<T> {
  value: T;
  status: RunStatus;
  details: RunDetails;
}

export interface RecordOptions {
  /** Hold the state directory's lock for the run: every run that changes stored backups does. */
  exclusive: boolean;
  /**
   * Whether a refusal caught before any work (exit 2) raises an alert. An interactive command's
   * refusal is the operator's to fix at the prompt, not an incident to page anyone about.
   */
  alertOnUsageErrors?: boolean;
}

/** Runs `work` recorded in the journal (with alerts), holding the lock when `exclusive`. */
export function bookedRun<T>(
  config: ResolvedConfig,
  command: RunCommand,
  booking: RunBooking,
  options: RecordOptions,
  work: () => Promise<RunOutcome<T>>,
): Promise<T> {
  const recorded = (): Promise<T> => recordedRun(config, command, booking.warn, work, options.alertOnUsageErrors ?? true);
  return options.exclusive ? withLock(config, booking, recorded) : recorded();
}

/** Runs `fn` holding the state directory's lock; a stale lock is taken over with a warning. */
export async function withLock<T>(config: ResolvedConfig, booking: RunBooking, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(config.stateDir, booking.commandLine, {
    staleAfterMs: config.lockStaleAfterMs,
    onTakeover: (previous, reason) =>
      booking.warn(`took over a stale lock held by PID ${previous.pid} on ${previous.host} (${previous.command}, since ${previous.since}): ${reason}`),
  });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * Runs `work`, then appends the run to the journal and raises or clears alerts. `work` returns the
 * status and details of a run that finished (SUCCESS, PARTIAL, or FAILED without throwing); a
 * thrown error is recorded as FAILED (or INTERRUPTED) and rethrown.
 */
export async function recordedRun<T>(
  config: ResolvedConfig,
  command: RunCommand,
  warn: Warn,
  work: () => Promise<RunOutcome<T>>,
  alertOnUsageErrors = true,
): Promise<T> {
  const run = beginRun(command);
  const settings = { stateDir: config.stateDir, alerts: config.alerts };
  try {
    const { value, status, details } = await work();
    const record = run.finish(status, details);
    await recordRunOrWarn(config.stateDir, record, warn);
    if (status === 'SUCCESS') {
      await clearRunFailure(settings, command, { warn });
      await notifyRunSuccess(settings, record, { warn });
    } else {
      await alertOnRunFailure(settings, record, { warn });
    }
    return value;
  } catch (error) {
    const e = toBackupError(error);
    // A lost lock race is not a failed run: nothing was attempted.
    if (e.code === ErrorCodes.LOCKED) throw e;
    const status: RunStatus = e.code === ErrorCodes.INTERRUPTED ? 'INTERRUPTED' : 'FAILED';
    const record = run.finish(status, { ...detailsOf(e), error: { code: e.code, message: e.message } });
    await recordRunOrWarn(config.stateDir, record, warn);
    if (e.exitCode !== ExitCode.USAGE || alertOnUsageErrors) await alertOnRunFailure(settings, record, { warn });
    throw e;
  }
}

/** One target's part in a run, as an operation reports it. */
export interface TargetPart {
  name: string;
  ok: boolean;
  error?: string;
}

/** The journal's per-target entries: the one mapping from target outcomes to the journal. */
export function targetEntries(parts: TargetPart[]): Record<string, RunTargetResult> {
  return Object.fromEntries(
    parts.map((p) => [p.name, p.ok ? { status: 'ok' as const } : { status: 'failed' as const, ...(p.error !== undefined ? { error: p.error } : {}) }]),
  );
}

/** SUCCESS when nothing failed, FAILED when everything did, PARTIAL in between. */
export function statusOf(failed: number, total: number): RunStatus {
  return failed === 0 ? 'SUCCESS' : failed === total ? 'FAILED' : 'PARTIAL';
}

/** A failure carrying per-target outcomes (create failing on every target) records them too. */
function detailsOf(error: { details?: Record<string, unknown> }): RunDetails {
  const outcomes = error.details?.outcomes;
  if (!Array.isArray(outcomes)) return {};
  const parts = (outcomes as Array<{ name: string; ok: boolean; error?: { message: string } }>).map((o) => ({
    name: o.name,
    ok: o.ok,
    ...(o.error ? { error: o.error.message } : {}),
  }));
  return { targets: targetEntries(parts) };
}
