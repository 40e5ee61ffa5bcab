/**
 * Test-only fault injection (in the spirit of pgBackRest's test points): named places in `create`
 * where a test can stop the process on purpose — SIGTERM to check the cleanup of an interrupted
 * run, SIGKILL to check what a crash leaves behind and that the next run copes with it.
 *
 * With `MONGO_BACKUP_TEST_CHECKPOINT=<name>` in the environment, reaching that checkpoint writes
 * the process id to the file named by `MONGO_BACKUP_TEST_CHECKPOINT_FILE` (atomically, so a test
 * that polls for the file never reads it half-written) and then waits until the run's abort
 * signal fires (SIGTERM/SIGINT), or until the test removes that file to let the run go on.
 * Afterwards the code continues as it would have, and meets an abort itself: the test exercises
 * the engine's own cleanup, not a special path. Without the variable (every real run) a
 * checkpoint returns at once; the environment is read once, at load time.
 */
import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';

export type CheckpointName = 'dump-started' | 'upload-started' | 'before-manifest';

const armedCheckpoint = process.env['MONGO_BACKUP_TEST_CHECKPOINT'];
const announceFile = process.env['MONGO_BACKUP_TEST_CHECKPOINT_FILE'];

/** True when a test asked to stop at `name` (callers may skip building test-only stages otherwise). */
export function isCheckpointArmed(name: CheckpointName): boolean {
  return armedCheckpoint === name;
}

/** Returns at once unless a test armed this checkpoint; then announces the PID and waits for the abort. */
export async function checkpoint(name: CheckpointName, signal: AbortSignal): Promise<void> {
  if (armedCheckpoint !== name) return;
  // Several targets reach `before-manifest` at once: announce once, and all of them wait.
  announcement ??= announce();
  await announcement;
  await untilAbortedOrResumed(signal, announceFile);
}

let announcement: Promise<void> | undefined;

async function announce(): Promise<void> {
  if (!announceFile) return;
  const partial = `${announceFile}.${process.pid}.partial`;
  await writeFile(partial, `${process.pid}\n`);
  await rename(partial, announceFile);
}

const RESUME_POLL_MS = 20;

function untilAbortedOrResumed(signal: AbortSignal, file: string | undefined): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    // The timer also keeps the event loop alive: an abort listener alone does not, and an
    // otherwise idle process would simply exit here instead of waiting for the test.
    const poll = setInterval(() => {
      if (file !== undefined && !existsSync(file)) finish();
    }, RESUME_POLL_MS);
    function finish(): void {
      clearInterval(poll);
      signal.removeEventListener('abort', finish);
      resolve();
    }
    signal.addEventListener('abort', finish, { once: true });
  });
}

/**
 * A pass-through stage for checkpoints inside a stream pipeline; undefined when `name` is not
 * armed, so real runs carry no extra stage. Stopping is done by withholding the transform
 * callback, which blocks the pipeline right there (back-pressure holds; nothing is buffered
 * beyond the streams' own limits).
 *
 * - `before-first-chunk`: announces at once (call it when the pipeline is built) and lets nothing
 *   through until the checkpoint is passed. The upstream is already being consumed, which matters
 *   for a child's stdout: Node discards the output of a child that exits while nobody reads it.
 * - `after-first-chunk`: passes the first chunk on downstream (so it reaches the next stage,
 *   e.g. the fan-out and the targets), then stops.
 */
export function checkpointStage(name: CheckpointName, signal: AbortSignal, when: 'before-first-chunk' | 'after-first-chunk'): Transform | undefined {
  if (!isCheckpointArmed(name)) return undefined;
  let passed: Promise<void> | undefined = when === 'before-first-chunk' ? checkpoint(name, signal) : undefined;
  // A failure to announce surfaces when the first chunk arrives, not as an unhandled rejection.
  passed?.catch(() => undefined);
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      if (when === 'after-first-chunk') {
        this.push(chunk);
        passed ??= checkpoint(name, signal);
        passed.then(() => callback(), callback);
        return;
      }
      (passed as Promise<void>).then(() => callback(null, chunk), callback);
    },
    flush(callback: TransformCallback): void {
      (passed ?? Promise.resolve()).then(() => callback(), callback);
    },
  });
}
