/**
 * A Target wrapper that retries transient failures (connection refused/reset, timeouts, HTTP 5xx,
 * throttling, FTP 4xx "try again" replies) with exponential back-off and jitter (docs/TARGETS.md#retries).
 *
 * What is retried, and what is not:
 * - stat, remove, check, opening a load and the optional operations of `capabilities` (space,
 *   removeStaleTemporaries: both read-only or idempotent) are retried as a whole.
 * - list is retried only until it has yielded its first entry; after that a retry would repeat
 *   entries, so a later failure is rethrown.
 * - save of an in-memory body (bufferBody(): manifests) is retried as a whole, each attempt with a
 *   fresh stream of the same bytes.
 * - save of any other body is retried only when the failure came before the body gave up any byte
 *   (the body is neither read nor destroyed, e.g. the SFTP/FTP login failed): a stream cannot be
 *   rewound, so once bytes have flowed the error is rethrown and the engine decides (it can re-run
 *   the dump).
 *   The cloud SDKs retry individual multipart parts/blocks themselves, which covers most
 *   mid-upload hiccups for S3, GCS and Azure.
 * - NotFound, authentication and configuration errors, and aborts, are never retried.
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackupError, ErrorCodes } from '../errors.js';
import { bufferBody, inMemoryBytes } from './body.js';
import { causeChain, networkErrorCode } from './remote.js';
import type { LoadOptions, ObjectInfo, SaveOptions, SaveResult, Target, TargetCapabilities } from './types.js';
import { wrapCapabilities } from './types.js';

/** Extra attempts after the first one, unless configured (`retries:`). */
export const DEFAULT_RETRIES = 3;

export interface RetryOptions {
  /** Extra attempts after the first one (default DEFAULT_RETRIES). */
  retries?: number;
  /** Delay before the first retry, doubled each time (default 250 ms). */
  baseDelayMs?: number;
  /** Upper bound of one delay (default 8 s). */
  maxDelayMs?: number;
  /** Told about each retry (for -v logging). */
  onRetry?: (event: { target: string; operation: string; attempt: number; delayMs: number; error: unknown }) => void;
}

/** HTTP statuses worth another try. */
const RETRYABLE_HTTP = new Set([408, 429, 500, 502, 503, 504]);
/** FTP replies that mean "not now" (RFC 959 transient negative completions, plus 421 service closing). */
const RETRYABLE_FTP = new Set([421, 425, 426, 450, 451]);
/** Error names the cloud SDKs use for throttling and server-side trouble. */
const RETRYABLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequests',
  'TooManyRequestsException',
  'RequestTimeout',
  'RequestTimeoutException',
  'ServiceUnavailable',
  'InternalError',
  'TimeoutError',
  'ServerBusy',
  'OperationTimedOut',
]);
/** Typed failures that another attempt cannot fix. */
const PERMANENT_CODES = new Set<string>([
  ErrorCodes.NOT_FOUND,
  ErrorCodes.TARGET_AUTH,
  ErrorCodes.CONFIG_INVALID,
  ErrorCodes.USAGE,
  ErrorCodes.INTERRUPTED,
  ErrorCodes.OBJECT_LOCKED, // the lock ends at its date, not on a retry
]);

/** True for failures that may go away on their own: network trouble, 5xx, throttling. */
export function isTransientError(error: unknown): boolean {
  if (error instanceof BackupError) {
    if (PERMANENT_CODES.has(error.code)) return false;
    if (error.code === ErrorCodes.TARGET_UNREACHABLE) return true;
  }
  if (networkErrorCode(error) !== undefined) return true;
  for (const e of causeChain(error)) {
    if (typeof e !== 'object' || e === null) continue;
    const fields = e as Record<string, unknown>;
    if (fields['name'] === 'AbortError') return false;
    if (typeof fields['name'] === 'string' && RETRYABLE_NAMES.has(fields['name'])) return true;
    if (fields['$retryable']) return true;
    const metadata = fields['$metadata'] as { httpStatusCode?: unknown } | undefined;
    for (const status of [metadata?.httpStatusCode, fields['statusCode'], fields['status']]) {
      if (typeof status === 'number' && RETRYABLE_HTTP.has(status)) return true;
    }
    // GCS ApiError carries the HTTP status in `code`; basic-ftp's FTPError the FTP reply code.
    const code = fields['code'];
    if (typeof code === 'number' && (RETRYABLE_HTTP.has(code) || RETRYABLE_FTP.has(code))) return true;
  }
  return false;
}

/** Exponential back-off with "equal jitter": half fixed, half random, so retries spread out. */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export function withRetry(target: Target, options: RetryOptions = {}): Target {
  return new RetryingTarget(target, options);
}

class RetryingTarget implements Target {
  readonly name: string;
  readonly type: string;
  /** The wrapped target's capabilities, each optional operation retried as a whole (see above). */
  readonly capabilities: TargetCapabilities;
  private readonly retries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    readonly inner: Target,
    private readonly options: RetryOptions,
  ) {
    this.name = inner.name;
    this.type = inner.type;
    this.retries = options.retries ?? DEFAULT_RETRIES;
    this.baseDelayMs = options.baseDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 8000;
    this.capabilities = wrapCapabilities(inner.capabilities, (operation, run) => this.attempt(operation, run));
  }

  describe(): string {
    return this.inner.describe();
  }

  save(key: string, body: Readable, options: SaveOptions = {}): Promise<SaveResult> {
    const bytes = inMemoryBytes(body);
    if (bytes !== undefined) {
      // The first attempt takes the caller's stream; later ones a fresh stream of the same bytes.
      let next = body;
      return this.attempt('save', () => {
        const attemptBody = next;
        next = bufferBody(bytes);
        return this.inner.save(key, attemptBody, options);
      }, options.signal);
    }
    // Only a body that has not given up a byte (and is still usable) can be offered again.
    const bodyUntouched = () => !body.readableDidRead && !body.destroyed;
    return this.attempt('save', () => this.inner.save(key, body, options), options.signal, bodyUntouched);
  }

  load(key: string, options: LoadOptions = {}): Promise<Readable> {
    return this.attempt('load', () => this.inner.load(key, options), options.signal);
  }

  stat(key: string): Promise<ObjectInfo> {
    return this.attempt('stat', () => this.inner.stat(key));
  }

  async *list(prefix = ''): AsyncIterable<ObjectInfo> {
    for (let attempt = 0; ; attempt++) {
      let yielded = false;
      try {
        for await (const info of this.inner.list(prefix)) {
          yielded = true;
          yield info;
        }
        return;
      } catch (error) {
        if (yielded || !(await this.shouldRetry('list', attempt, error))) throw error;
      }
    }
  }

  remove(key: string): Promise<void> {
    return this.attempt('remove', () => this.inner.remove(key));
  }

  check(): Promise<void> {
    return this.attempt('check', () => this.inner.check());
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async attempt<T>(operation: string, run: () => Promise<T>, signal?: AbortSignal, canRetry: () => boolean = () => true): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        if (signal?.aborted || !canRetry() || !(await this.shouldRetry(operation, attempt, error, signal))) throw error;
      }
    }
  }

  /** Decides whether to try again; if so, waits the back-off delay first. */
  private async shouldRetry(operation: string, attempt: number, error: unknown, signal?: AbortSignal): Promise<boolean> {
    if (attempt >= this.retries || !isTransientError(error)) return false;
    const delayMs = backoffDelay(attempt, this.baseDelayMs, this.maxDelayMs);
    this.options.onRetry?.({ target: this.name, operation, attempt: attempt + 1, delayMs, error });
    try {
      await sleep(delayMs, undefined, signal ? { signal } : {});
    } catch {
      return false; // aborted while waiting: give up with the original error
    }
    return true;
  }
}
