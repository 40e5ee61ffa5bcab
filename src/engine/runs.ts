/**
 * Bookkeeping around every state-changing run: the exclusive lock (SPEC §8), the run journal and
 * alerts (SPEC §7). None of the bookkeeping can fail a backup: journal and alert problems are warnings.
 */
import type { ResolvedConfig } from '../config/load.js';
import { ErrorCodes, ExitCode, toBackupError } from '../errors.js';
import { alertOnRunFailure, clearRunFailure, notifyRunSuccess } from '../state/alerts.js';
import { beginRun, recordRunOrWarn, type RunCommand, type RunRecord, type RunStatus } from '../state/journal.js';
import { acquireLock } from '../state/lock.js';

type Warn = (message: string) => void;

/** Runs `fn` holding the state directory's lock; a stale lock is taken over with a warning. */
export async function withLock<T>(config: ResolvedConfig, commandLine: string, warn: Warn, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(config.stateDir, commandLine, {
    staleAfterMs: config.lockStaleAfterMs,
    onTakeover: (previous, reason) =>
      warn(`took over a stale lock held by PID ${previous.pid} on ${previous.host} (${previous.command}, since ${previous.since}): ${reason}`),
  });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

export type RunDetails = Partial<Omit<RunRecord, 'runId' | 'command' | 'status' | 'startTime' | 'endTime' | 'duration' | 'host'>>;

/**
 * Runs `fn`, then appends the run to the journal and raises or clears alerts. `fn` returns the
 * status and details of a run that finished (SUCCESS or PARTIAL); a thrown error is recorded as
 * FAILED (or INTERRUPTED) and rethrown.
 */
export async function recordedRun<T>(
  config: ResolvedConfig,
  command: RunCommand,
  warn: Warn,
  fn: () => Promise<{ value: T; status: RunStatus; details: RunDetails }>,
  failureDetails: () => RunDetails = () => ({}),
  options: { alertOnUsageErrors?: boolean } = {},
): Promise<T> {
  const run = beginRun(command);
  const settings = { stateDir: config.stateDir, alerts: config.alerts };
  try {
    const { value, status, details } = await fn();
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
    const record = run.finish(status, { ...failureDetails(), ...detailsOf(e), error: { code: e.code, message: e.message } });
    await recordRunOrWarn(config.stateDir, record, warn);
    // A refusal caught before any work (exit 2) in an interactive command is the operator's to fix
    // at the prompt, not an incident to page anyone about.
    if (e.exitCode !== ExitCode.USAGE || options.alertOnUsageErrors !== false) await alertOnRunFailure(settings, record, { warn });
    throw e;
  }
}

function detailsOf(error: { details?: Record<string, unknown> }): RunDetails {
  const outcomes = error.details?.outcomes;
  if (!Array.isArray(outcomes)) return {};
  const targets: NonNullable<RunDetails['targets']> = {};
  for (const o of outcomes as Array<{ name: string; ok: boolean; error?: { message: string } }>) {
    targets[o.name] = o.ok ? { status: 'ok' } : { status: 'failed', ...(o.error ? { error: o.error.message } : {}) };
  }
  return { targets };
}
