/**
 * Plumbing shared by the remote targets (s3, gcs, azure, sftp, ftp):
 * - how they report failures: typed BackupErrors whose messages name the target and say what to
 *   check; each target maps its SDK's errors onto these few builders, so all fail the same way;
 * - secrets read from files (their paths resolved by the key check), registered for redaction (inline
 *   secrets are registered by the key check itself: kind `secret` in keys.ts);
 * - the save body: counted, abortable, and peeked at so small objects take a one-request path.
 */
import { pipeline, Readable } from 'node:stream';
import { ByteCounter } from '../streams.js';
import { BackupError, ErrorCodes, NotFoundError, redactSecrets, registerSecret } from '../errors.js';
import type { TargetConfigBase } from './types.js';
import { readConfiguredFile, readSecretFile } from '../settings/secret-file.js';
import { optionalString } from './util.js';

/** Who failed: enough to name the target in a message, never a secret. */
export interface FailureSource {
  readonly name: string;
  readonly type: string;
  describe(): string;
}

/** Socket-level error codes that mean "could not reach the server" (retried). */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** The first socket-level error code found in an error or its causes. */
export function networkErrorCode(error: unknown): string | undefined {
  for (const e of causeChain(error)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return code;
  }
  return undefined;
}

/** The error and its `cause`s, outermost first (bounded, in case of cycles). */
export function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current = error;
  while (current !== undefined && current !== null && chain.length < 8) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

function where(source: FailureSource): string {
  return `${source.type} ${source.describe()}`;
}

/** Bad or missing credentials: the message says what to check (brief: "authentication failed for target NAME (...): check ..."). */
export function authFailed(source: FailureSource, detail: string, check: string, cause?: unknown): BackupError {
  return new BackupError(
    ErrorCodes.TARGET_AUTH,
    redactSecrets(`authentication failed for target ${source.name} (${where(source)}: ${detail}): ${check}`),
    cause === undefined ? {} : { cause },
  );
}

export function unreachable(source: FailureSource, detail: string, cause?: unknown): BackupError {
  return new BackupError(ErrorCodes.TARGET_UNREACHABLE, redactSecrets(`target ${source.name} (${where(source)}) is unreachable: ${detail}`), {
    hint: 'check that the server is running and that host, port or endpoint are right',
    ...(cause === undefined ? {} : { cause }),
  });
}

export function targetFailed(source: FailureSource, action: string, detail: string, cause?: unknown): BackupError {
  return new BackupError(ErrorCodes.TARGET_FAILED, redactSecrets(`target ${source.name} (${where(source)}): could not ${action}: ${detail}`), {
    ...(cause === undefined ? {} : { cause }),
  });
}

export function notFound(source: FailureSource, key: string, cause?: unknown): NotFoundError {
  return new NotFoundError(`object ${key} in target ${source.name} (${where(source)})`, cause === undefined ? {} : { cause });
}

/** The secret in the file named by config[key] (see readSecretFile), registered for redaction. */
export function secretFromFile(config: TargetConfigBase, key: string): string | undefined {
  const file = optionalString(config, key);
  if (file === undefined) return undefined;
  const secret = readSecretFile(file, `targets.${config.name}.${key}`);
  registerSecret(secret);
  return secret;
}

/** The bytes of the file named by config[key] (a private key: `secret`, a CA certificate). */
export function fileFromConfig(config: TargetConfigBase, key: string, options: { secret?: boolean } = {}): Buffer | undefined {
  const file = optionalString(config, key);
  return file === undefined ? undefined : readConfiguredFile(file, `targets.${config.name}.${key}`, options);
}


/** Rejects a save whose signal is already aborted (or aborts later) with the signal's reason. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const error = new Error('the operation was aborted');
  error.name = 'AbortError';
  return error;
}

/** A save's body as the target reads it: counted, abortable, and remembering why it failed. */
export interface TrackedBody {
  /** What the target consumes (the body piped through a byte counter). */
  readonly stream: Readable;
  bytes(): number;
  /** The body's own error, or the abort reason: a failure that is not the target's fault. */
  sourceFailure(): unknown;
  /** True when the save's AbortSignal fired. */
  aborted(): boolean;
  /** Stops reading the body (after a target failure) and detaches from the signal. */
  dispose(): void;
}

/**
 * Pipes `body` through a counter. Call it only when the target is ready to consume: piping starts
 * reading the body, after which a save can no longer be retried (see retry.ts).
 */
export function trackBody(body: Readable, signal?: AbortSignal): TrackedBody {
  const counter = new ByteCounter();
  let sourceFailure: unknown;
  let aborted = false;
  body.once('error', (error) => {
    sourceFailure ??= error;
  });
  // pipeline() destroys both streams on any error, so the counter's consumer sees the failure too.
  pipeline(body, counter, () => undefined);
  const onAbort = () => {
    aborted = true;
    sourceFailure ??= abortReason(signal as AbortSignal);
    counter.destroy(sourceFailure as Error);
  };
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return {
    stream: counter,
    bytes: () => counter.bytes,
    sourceFailure: () => sourceFailure,
    aborted: () => aborted,
    dispose: () => {
      signal?.removeEventListener('abort', onAbort);
      if (!counter.writableFinished) counter.destroy();
    },
  };
}

/**
 * The error a failed save reports: the body's own typed error unchanged (e.g. mongodump failed),
 * an abort as a TARGET_FAILED naming the key, otherwise whatever the target's mapper makes of it.
 */
export function saveFailure(source: FailureSource, key: string, tracked: TrackedBody | undefined, error: unknown, mapError: (error: unknown) => BackupError): BackupError {
  const sourceFailure = tracked?.sourceFailure();
  if (sourceFailure instanceof BackupError) return sourceFailure;
  // When the target gives up while data still flows, Node destroys the body with an AbortError:
  // a symptom of the target's failure, not its cause — report the target's own error then.
  const bodyAbortedByTarget = isAbortError(sourceFailure) && !tracked?.aborted();
  if (sourceFailure !== undefined && !bodyAbortedByTarget) {
    const detail = tracked?.aborted() ? `the upload was aborted (${messageOf(sourceFailure)})` : `the data stream failed: ${messageOf(sourceFailure)}`;
    return targetFailed(source, `save ${key}`, detail, sourceFailure);
  }
  return mapError(error);
}

/**
 * A save whose object got stored just as its caller gave up: honour the abort by removing what was
 * stored, so an aborted save never leaves a visible object (docs/TARGETS.md, common to all types).
 */
export async function honourLateAbort(signal: AbortSignal | undefined, removeStored: () => Promise<unknown>): Promise<void> {
  if (!signal?.aborted) return;
  await removeStored().catch(() => undefined);
  throw signal.reason ?? new Error('aborted');
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || (error as NodeJS.ErrnoException).code === 'ABORT_ERR');
}

/** The start of a body: either all of it (it ended within `limit` bytes) or the start plus the rest. */
export type BodyHead = { ended: true; data: Buffer } | { ended: false; whole: Readable };

/**
 * Reads up to `limit` bytes. Small objects (manifests) can then be stored with one request instead
 * of a multi-request streaming upload; large ones continue as a stream that replays the head.
 */
export async function readHead(stream: Readable, limit: number): Promise<BodyHead> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let size = 0;
  while (size < limit) {
    const next = await iterator.next();
    if (next.done) return { ended: true, data: Buffer.concat(head) };
    head.push(next.value);
    size += next.value.length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    try {
      yield* head.splice(0);
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      // Stopped early (the upload failed): release the source too.
      await iterator.return?.();
    }
  }
  return { ended: false, whole: Readable.from(replay(), { objectMode: false }) };
}

/**
 * Destroys a load's stream when the caller's signal fires, and forgets the signal once the stream
 * is closed (one run-wide signal may serve many loads).
 */
export function destroyOnAbort(stream: Readable, signal: AbortSignal | undefined): void {
  if (!signal) return;
  if (signal.aborted) {
    stream.destroy(abortReason(signal));
    return;
  }
  const onAbort = () => stream.destroy(abortReason(signal));
  signal.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', onAbort));
}
