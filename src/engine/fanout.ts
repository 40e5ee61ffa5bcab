/**
 * Fan-out: one stream to several targets at once. Each chunk is handed to every live branch; the
 * next chunk is accepted only when every live branch has drained, so the slowest target sets the
 * pace and memory stays bounded (one highWaterMark per branch). A branch whose save fails is cut
 * off and the others go on (docs/REFERENCE.md#failure-semantics); the caller decides whether a partial result is acceptable.
 */
import { PassThrough, Writable } from 'node:stream';
import type { Target, SaveResult } from '../targets/types.js';
import { BackupError, ErrorCodes, toBackupError } from '../errors.js';

export interface BranchResult {
  target: Target;
  ok: boolean;
  result?: SaveResult;
  error?: BackupError;
}

interface Branch {
  target: Target;
  input: PassThrough;
  /** Bytes handed to this target so far (it is at most one buffer behind). */
  bytes: number;
  controller: AbortController;
  failed: boolean;
  /** Why its save failed: each target's own cause goes into the error when every branch is gone. */
  error?: BackupError;
  done: Promise<BranchResult>;
}

/**
 * Bytes buffered per branch (and in front of the fan-out). 1 MiB keeps a local disk or an
 * uploader busy (their own writes are 16 KiB to a few MiB); 4 MiB measured no faster and cost
 * 3 MiB more peak memory per target (docs/PERFORMANCE.md).
 */
const BRANCH_BUFFER = 1024 * 1024;

export class FanOut extends Writable {
  private readonly branches: Branch[];
  private readonly waiters = new Set<() => void>();

  /** `onBytes` is told, per target, how many bytes it has been handed (for progress). */
  constructor(
    targets: Target[],
    key: string,
    signal: AbortSignal,
    private readonly onBytes?: (target: string, bytes: number) => void,
  ) {
    super({ highWaterMark: BRANCH_BUFFER });
    this.branches = targets.map((target) => this.startBranch(target, key, signal));
  }

  private startBranch(target: Target, key: string, signal: AbortSignal): Branch {
    const input = new PassThrough({ highWaterMark: BRANCH_BUFFER });
    // A branch destroyed before its target attached listeners must not crash the process: the
    // save's rejection already reports the failure.
    input.on('error', () => undefined);
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const branch: Branch = { target, input, bytes: 0, controller, failed: false, done: undefined as never };
    branch.done = target
      .save(key, input, { signal: controller.signal })
      .then(
        (result): BranchResult => ({ target, ok: true, result }),
        (error: unknown): BranchResult => {
          branch.error = toBackupError(error);
          this.cutOff(branch);
          return { target, ok: false, error: branch.error };
        },
      )
      .finally(() => signal.removeEventListener('abort', onAbort));
    return branch;
  }

  /** Removes a failed branch from the fan-out and wakes any write waiting on it. */
  private cutOff(branch: Branch): void {
    if (branch.failed) return;
    branch.failed = true;
    branch.input.destroy();
    for (const wake of this.waiters) wake();
  }

  private live(): Branch[] {
    return this.branches.filter((b) => !b.failed);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const live = this.live();
    if (live.length === 0) {
      callback(this.everyTargetFailed());
      return;
    }
    const pending: Promise<void>[] = [];
    for (const branch of live) {
      branch.bytes += chunk.length;
      this.onBytes?.(branch.target.name, branch.bytes);
      if (!branch.input.write(chunk)) pending.push(this.drained(branch));
    }
    if (pending.length === 0) callback();
    else Promise.all(pending).then(() => callback(), callback);
  }

  /** The dump stops: every target failed, each for its own reason, and each reason is named. */
  private everyTargetFailed(): BackupError {
    const causes = this.branches.map((b) => `${b.target.name}: ${b.error?.message ?? 'failed'}`);
    // `outcomes`, shaped like create's per-target outcomes: --json shows them and the journal records them per target.
    const outcomes = this.branches.map((b) => ({ name: b.target.name, ok: false, error: { code: b.error?.code ?? ErrorCodes.TARGET_FAILED, message: b.error?.message ?? 'failed' } }));
    const only = this.branches.length === 1 ? this.branches[0]!.error : undefined;
    return new BackupError(ErrorCodes.TARGET_FAILED, `${this.branches.length === 1 ? 'the target failed' : 'every target failed'}; stopping the dump: ${causes.join('; ')}`, {
      ...(only?.hint ? { hint: only.hint } : {}),
      details: { outcomes },
      ...(only ? { cause: only } : {}),
    });
  }

  private drained(branch: Branch): Promise<void> {
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        branch.input.off('drain', finish);
        this.waiters.delete(finish);
        resolve();
      };
      branch.input.on('drain', finish);
      this.waiters.add(finish);
      if (branch.failed) finish();
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    for (const branch of this.live()) branch.input.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error) {
      for (const branch of this.branches) {
        branch.controller.abort(error);
        branch.input.destroy(error);
      }
    }
    callback(error);
  }

  /** Per-target outcomes; resolves once every branch's save has settled. */
  results(): Promise<BranchResult[]> {
    return Promise.all(this.branches.map((b) => b.done));
  }
}
