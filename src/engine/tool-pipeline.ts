/**
 * A MongoDB tool in the middle of a stream pipeline, once for every use: mongodump's archive on
 * stdout feeding the backup stages (create), the restore stages feeding mongorestore's stdin
 * (restore), and any later use of the same shape (an oplog replay, an incremental dump).
 *
 * It does the plumbing those must all get right: the tool gets the connection string through a
 * private config file (spawnTool), a failure anywhere (or the run's abort) stops the tool and every
 * stream, both the pipeline and the tool are waited for, and the error reported is the cause: the
 * tool failing on its own explains the broken pipe it leaves behind, not the other way round.
 */
import { pipeline } from 'node:stream/promises';
import type { Duplex, Readable, Writable } from 'node:stream';
import { BackupError, ErrorCodes, isIntegrityFailure, toBackupError } from '../errors.js';
import { spawnTool, toolErrorCode, type SpawnToolOptions } from './mongo-tools.js';

/**
 * Where the tool sits: `source` = its stdout (the archive) is the pipeline's first stream;
 * `sink` = the pipeline ends in its stdin.
 */
export type ToolRole = 'source' | 'sink';

export type PipelineStream = Readable | Writable | Duplex;

export interface ToolPipelineOptions {
  /** The tool, its arguments and the URI it connects with (never on its command line). */
  tool: Omit<SpawnToolOptions, 'signal'>;
  role: ToolRole;
  /**
   * Builds the streams on the other side of the tool, in order, before it starts: a stage that
   * cannot be built fails the run instead of leaving the tool blocked on a pipe nobody serves.
   * `signal` fires when the run is aborted or any part of the pipeline fails; streams that do
   * their own I/O (a target's load or save) should stop on it.
   */
  streams: (signal: AbortSignal) => PipelineStream[] | Promise<PipelineStream[]>;
  /** The run's signal (SIGINT/SIGTERM). */
  signal: AbortSignal;
  /** The message of the INTERRUPTED error thrown when the run's signal fired. */
  interrupted: string;
  /** Cleanup after a failure, before the error is reported (e.g. removing partial uploads). */
  onFailure?: () => Promise<void>;
}

/** How long a tool whose end of the pipe closed may take to exit on its own before it is stopped. */
const OWN_EXIT_WAIT_MS = 2_000;

/** Waits for `promise` to settle, at most `ms`; never throws. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Runs the tool and its pipeline to the end; throws the failure's cause (see chooseFailure). */
export async function runToolPipeline(options: ToolPipelineOptions): Promise<void> {
  const abort = new AbortController();
  const onRunAbort = (): void => abort.abort(options.signal.reason);
  options.signal.addEventListener('abort', onRunAbort, { once: true });
  let toolDone: Promise<void> | undefined;
  let toolLog: () => string[] = () => [];
  let toolSideClosed = false;
  try {
    const streams = await options.streams(abort.signal);
    const tool = await spawnTool({ ...options.tool, signal: abort.signal }).catch((error: unknown) => {
      // Built but never connected: release what they hold, quietly (nobody listens for errors yet).
      for (const stream of streams) stream.destroy();
      throw error;
    });
    toolDone = tool.done;
    toolLog = tool.log;
    // The tool's own end of the pipe closing first (its output ended, its input broke) means it is
    // exiting, or crashed: its exit status, not what the streams made of the cut, is the cause.
    if (options.role === 'source') tool.child.stdout!.once('end', () => (toolSideClosed = true));
    else tool.child.stdin!.once('error', () => (toolSideClosed = true));
    const ends: PipelineStream[] = options.role === 'source' ? [tool.child.stdout!, ...streams] : [...streams, tool.child.stdin!];
    await Promise.all([pipeline(ends, { signal: abort.signal }), tool.done]);
  } catch (error) {
    if (toolSideClosed && toolDone && !options.signal.aborted) await settledWithin(toolDone, OWN_EXIT_WAIT_MS);
    abort.abort(error);
    await options.onFailure?.();
    const toolFailure = toolDone ? await toolDone.then(() => undefined, (failure: unknown) => failure) : undefined;
    throw chooseFailure(error, toolFailure, toolLog(), toolSideClosed, options);
  } finally {
    options.signal.removeEventListener('abort', onRunAbort);
  }
}

/**
 * The cause of a failed tool pipeline:
 * - the run was aborted: INTERRUPTED, whatever broke on the way down;
 * - the tool failed on its own (not stopped by us): its exit status and last lines, because a
 *   failing tool breaks the pipe on its side and the streams only see that; except
 *   - a source tool that only complains of the broken pipe: a later stage broke it;
 *   - a sink tool whose input failed an integrity check: the damaged data is the cause;
 * - a source tool whose output is not a whole archive (it ended early, or is empty) while the
 *   tool's own failure was not seen (it exited 0, or hung and was stopped): the tool is still the
 *   cause, not damaged data; exit 3 is for stored bytes that are damaged (docs/REFERENCE.md#exit-codes);
 * - a source tool whose failure was not seen but which logged something, when the pipeline only
 *   saw a premature end: the tool's own lines.
 */
function chooseFailure(error: unknown, toolFailure: unknown, log: string[], toolSideClosed: boolean, options: ToolPipelineOptions): BackupError {
  if (options.signal.aborted) return new BackupError(ErrorCodes.INTERRUPTED, options.interrupted);
  // Its output ended before anything on our side failed: a broken pipe it reports is its own.
  const pipeBrokenByUs = options.role === 'source' && !toolSideClosed;
  const ownFailure =
    toolFailure instanceof BackupError &&
    toolFailure.code !== ErrorCodes.INTERRUPTED &&
    !(pipeBrokenByUs && /broken pipe/i.test(toolFailure.message));
  if (ownFailure && !(options.role === 'sink' && isIntegrityFailure(error))) return toolFailure;
  const e = toBackupError(error);
  if (options.role === 'source' && e.code === ErrorCodes.ARCHIVE_CORRUPT) {
    const tool = options.tool.tool;
    const what =
      toolFailure === undefined
        ? `${tool} exited normally, but its output is not a whole archive`
        : toolSideClosed
          ? `${tool}'s output ended early and it did not exit (it was stopped)`
          : `${tool}'s output is not a valid archive (it was stopped)`;
    return new BackupError(toolErrorCode(tool), `${what}: ${e.message}${lastLines(log)}`, {
      hint: `run again with --verbose to see all of ${tool}'s output`,
      details: { log: log.slice(-10) },
      cause: e,
    });
  }
  if (options.role === 'source' && e.code === ErrorCodes.FAILED && log.length > 0 && /premature|EPIPE|aborted/i.test(e.message)) {
    return new BackupError(toolErrorCode(options.tool.tool), `${options.tool.tool} failed: ${log.slice(-3).join(' | ')}`);
  }
  return e;
}

function lastLines(log: string[]): string {
  return log.length > 0 ? `; its last lines: ${log.slice(-3).join(' | ')}` : '';
}
