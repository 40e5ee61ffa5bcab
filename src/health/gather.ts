/**
 * The I/O half of `health`: reads the run journal and asks every target, in parallel and each
 * with a time limit, whether it is reachable, which backups it holds and (local targets) how much
 * space is left. A slow or dead target becomes "unreachable", never a hung health check.
 */
import { toBackupError } from '../errors.js';
import { readJournal, type RunRecord } from '../state/journal.js';
import type { Target } from '../targets/types.js';
import { newestCompletedBackup, type HealthBackup, type HealthConfig, type HealthDrill, type HealthInputs, type SourceOplog, type TargetState } from './evaluate.js';
import { chainMembers } from './pitr.js';
import { lockProblems, type LockRetentionConfig } from './locks.js';

export const DEFAULT_TARGET_TIMEOUT_MS = 30_000;

export interface GatherOptions<B extends HealthBackup = HealthBackup> {
  /** Lists one target's backups (the catalog's listBackups). */
  listBackups: (target: Target) => Promise<B[]>;
  /** Reads the drill records of the backups a target listed (the engine's drillSummariesOn). */
  listDrills?: (target: Target, backups: B[]) => Promise<HealthDrill[]>;
  timeoutMs?: number;
  now?: Date;
  warn?: (message: string) => void;
  /**
   * Reads the source's oldest and newest oplog entry (ms). Asked only when a target holds a
   * point-in-time backup, so a deployment without an oplog never connects to the source here.
   */
  readSourceOplog?: () => Promise<{ oldestMs: number; newestMs: number } | undefined>;
}

export async function gatherHealthInputs<B extends HealthBackup>(
  config: { health?: HealthConfig } & LockRetentionConfig,
  targets: Target[],
  stateDir: string,
  options: GatherOptions<B>,
): Promise<HealthInputs> {
  const warn = options.warn ?? (() => {});
  const timeoutMs = options.timeoutMs ?? DEFAULT_TARGET_TIMEOUT_MS;
  const now = options.now ?? new Date();
  const [runs, states] = await Promise.all([
    readRunsForHealth(stateDir, warn),
    Promise.all(targets.map((target) => probeTarget(target, options, timeoutMs, (backups) => lockProblems(target, backups, config, now)))),
  ]);
  markExpectedTargets(states, runs);
  const sourceOplog = await readSourceOplog(states, options.readSourceOplog, timeoutMs);
  return { now, config: config.health ?? {}, runs, targets: states, ...(sourceOplog ? { sourceOplog } : {}) };
}

async function readSourceOplog(states: TargetState[], read: GatherOptions['readSourceOplog'], timeoutMs: number): Promise<SourceOplog | undefined> {
  const pointInTime = states.some((s) => s.reachable && chainMembers(s.backups).some((m) => m.type === 'INCREMENTAL' || m.pointInTime === true));
  if (!read || !pointInTime) return undefined;
  try {
    const window = await withTimeout(read(), timeoutMs, 'the source server');
    return window ?? { error: 'the source has no oplog entries' };
  } catch (error) {
    return { error: toBackupError(error).message };
  }
}

async function readRunsForHealth(stateDir: string, warn: (message: string) => void): Promise<RunRecord[]> {
  try {
    const { runs, corruptLines } = await readJournal(stateDir);
    if (corruptLines > 0) warn(`skipped ${corruptLines} damaged line(s) in the run journal`);
    return runs;
  } catch (error) {
    warn(`${(error as Error).message}; checking without run history`);
    return [];
  }
}

/** Runs `work` with a time limit; the limit wins the race, the work is left to finish on its own. */
export async function withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what} did not answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function probeTarget<B extends HealthBackup>(
  target: Target,
  options: Pick<GatherOptions<B>, 'listBackups' | 'listDrills'>,
  timeoutMs: number,
  checkLocks: (backups: HealthBackup[]) => Promise<string[]>,
): Promise<TargetState> {
  const state: TargetState = { name: target.name, reachable: false, backups: [], expected: true };
  try {
    await withTimeout(
      (async () => {
        await target.check();
        const backups = await options.listBackups(target);
        state.backups = backups;
        if (options.listDrills) state.drills = await options.listDrills(target, backups);
        const space = target.capabilities.space;
        if (space) state.space = await space();
        const lockIssues = await checkLocks(state.backups);
        if (lockIssues.length > 0) state.lockProblems = lockIssues;
      })(),
      timeoutMs,
      `target ${target.name}`,
    );
    state.reachable = true;
  } catch (error) {
    state.error = toBackupError(error).message;
  }
  return state;
}

/**
 * Which targets should hold the newest backup: the ones its create run was meant for (the run's
 * `targets`, which reflect `--target`), or every configured target when the journal does not know
 * the backup (made on another machine, or the journal was lost).
 */
function markExpectedTargets(states: TargetState[], runs: RunRecord[]): void {
  const newest = newestCompletedBackup(states);
  if (!newest) return;
  const run = runs.filter((r) => r.command === 'create' && r.backupId === newest.id && r.targets).at(-1);
  if (!run?.targets) return;
  const meantFor = new Set(Object.keys(run.targets));
  for (const state of states) state.expected = meantFor.has(state.name);
}
