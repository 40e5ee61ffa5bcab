/**
 * Test-only fault injection (in the spirit of pgBackRest's test points): named places in `create`
 * (and `restore`) where a test can stop the process on purpose — SIGTERM to check the cleanup of an interrupted
 * run, SIGKILL to check what a crash leaves behind and that the next run copes with it.
 *
 * Off unless the test-only switch `MONGO_BACKUP_TEST_CHECKPOINTS=1` is set (the integration tests
 * set it; nothing else should). With it, and `MONGO_BACKUP_TEST_CHECKPOINT=<name>`, reaching that
 * checkpoint warns on stderr, writes the process id to the file named by
 * `MONGO_BACKUP_TEST_CHECKPOINT_FILE` (atomically, so a test that polls for the file never reads
 * it half-written) and then waits until the run's abort signal fires (SIGTERM/SIGINT), or until
 * the test removes that file to let the run go on. Afterwards the code continues as it would have,
 * and meets an abort itself: the test exercises the engine's own cleanup, not a special path.
 *
 * A checkpoint never holds a run (and its lock) for ever: after
 * `MONGO_BACKUP_TEST_CHECKPOINT_TIMEOUT_MS` (default 60 s) it fails the run with an error that
 * names the switch. Without the switch (every real run) a checkpoint returns at once and adds no
 * stage; the environment is read once, at load time.
 */
import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { BackupError, ErrorCodes } from '../errors.js';

export type CheckpointName =
  | 'dump-started'
  | 'upload-started'
  | 'before-manifest'
  // restore: the first bytes have reached mongorestore; the data is in, the counts come next
  | 'restore-started'
  | 'before-count-check';

export const CHECKPOINTS_SWITCH = 'MONGO_BACKUP_TEST_CHECKPOINTS';
const DEFAULT_TIMEOUT_MS = 60_000;
const RESUME_POLL_MS = 20;

export interface Checkpoints {
  /** True when a test asked to stop at `name` (callers may skip building test-only stages otherwise). */
  isArmed(name: CheckpointName): boolean;
  /** Returns at once unless a test armed this checkpoint; then announces the PID and waits (see above). */
  checkpoint(name: CheckpointName, signal: AbortSignal): Promise<void>;
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
  stage(name: CheckpointName, signal: AbortSignal, when: 'before-first-chunk' | 'after-first-chunk'): Transform | undefined;
}

/** Checkpoints as configured by `env`; `warn` receives the one line printed when a run is held. */
export function createCheckpoints(env: NodeJS.ProcessEnv, warn: (line: string) => void): Checkpoints {
  const enabled = env[CHECKPOINTS_SWITCH] === '1';
  const armed = enabled ? env['MONGO_BACKUP_TEST_CHECKPOINT'] : undefined;
  const file = env['MONGO_BACKUP_TEST_CHECKPOINT_FILE'];
  const timeoutMs = Number(env['MONGO_BACKUP_TEST_CHECKPOINT_TIMEOUT_MS']) || DEFAULT_TIMEOUT_MS;
  // Several targets reach `before-manifest` at once: announce (and warn) once, and all of them wait.
  let announcement: Promise<void> | undefined;

  const isArmed = (name: CheckpointName): boolean => armed === name;

  async function checkpoint(name: CheckpointName, signal: AbortSignal): Promise<void> {
    if (!isArmed(name)) return;
    announcement ??= (async () => {
      warn(
        `warning: test checkpoint "${name}" reached (${CHECKPOINTS_SWITCH}=1 is for tests only): holding this run and its lock ` +
          `for up to ${timeoutMs / 1000} s, until it is interrupted${file ? ` or ${file} is removed` : ''}`,
      );
      await announce(file);
    })();
    await announcement;
    await untilAbortedOrResumed(name, signal, file, timeoutMs);
  }

  function stage(name: CheckpointName, signal: AbortSignal, when: 'before-first-chunk' | 'after-first-chunk'): Transform | undefined {
    if (!isArmed(name)) return undefined;
    let passed: Promise<void> | undefined = when === 'before-first-chunk' ? checkpoint(name, signal) : undefined;
    // A failure to announce (or a timeout) surfaces when a chunk arrives, not as an unhandled rejection.
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

  return { isArmed, checkpoint, stage };
}

async function announce(file: string | undefined): Promise<void> {
  if (!file) return;
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, `${process.pid}\n`);
  await rename(partial, file);
}

function untilAbortedOrResumed(name: CheckpointName, signal: AbortSignal, file: string | undefined, timeoutMs: number): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    // The timer also keeps the event loop alive: an abort listener alone does not, and an
    // otherwise idle process would simply exit here instead of waiting for the test.
    const poll = setInterval(() => {
      if (file !== undefined && !existsSync(file)) finish();
    }, RESUME_POLL_MS);
    const timeout = setTimeout(() => {
      stopWaiting();
      reject(
        new BackupError(ErrorCodes.FAILED, `test checkpoint "${name}" was not released within ${timeoutMs / 1000} s; stopping this run`, {
          hint: `${CHECKPOINTS_SWITCH}=1 is a switch for the test suite only: unset it`,
        }),
      );
    }, timeoutMs);
    function stopWaiting(): void {
      clearInterval(poll);
      clearTimeout(timeout);
      signal.removeEventListener('abort', finish);
    }
    function finish(): void {
      stopWaiting();
      resolve();
    }
    signal.addEventListener('abort', finish, { once: true });
  });
}

const fromEnvironment = createCheckpoints(process.env, (line) => process.stderr.write(`mongo-backup: ${line}\n`));

/** Returns at once unless a test armed this checkpoint (see createCheckpoints). */
export const checkpoint = fromEnvironment.checkpoint;
/** A pipeline stage for an armed checkpoint, else undefined (see Checkpoints.stage). */
export const checkpointStage = fromEnvironment.stage;
