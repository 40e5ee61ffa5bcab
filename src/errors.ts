/**
 * Typed errors. Every failure the tool reports is a BackupError with a stable `code`; this file is
 * the one place that maps codes to exit codes (docs/REFERENCE.md#exit-codes) and to the `--json`
 * error shape. Commands and the engine name exit codes by these constants, never by number.
 */

export const ExitCode = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  INTEGRITY: 3,
  LOCKED: 4,
  INTERRUPTED: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Error codes, grouped by the exit code they produce. */
export const ErrorCodes = {
  // exit 2: bad usage or configuration, caught before any work
  USAGE: 'USAGE',
  CONFIG_INVALID: 'CONFIG_INVALID',
  NOT_SUPPORTED: 'NOT_SUPPORTED',
  TOOL_NOT_FOUND: 'TOOL_NOT_FOUND',
  URI_INVALID: 'URI_INVALID',
  NAMESPACE_NOT_EMPTY: 'NAMESPACE_NOT_EMPTY',
  KEY_MISSING: 'KEY_MISSING',
  IDENTITY_MISSING: 'IDENTITY_MISSING',
  TARGET_UNKNOWN: 'TARGET_UNKNOWN',
  // exit 1: the operation failed
  FAILED: 'FAILED',
  BACKUP_NOT_FOUND: 'BACKUP_NOT_FOUND',
  NOT_FOUND: 'NOT_FOUND',
  MONGODUMP_FAILED: 'MONGODUMP_FAILED',
  MONGORESTORE_FAILED: 'MONGORESTORE_FAILED',
  SOURCE_UNREACHABLE: 'SOURCE_UNREACHABLE',
  TARGET_FAILED: 'TARGET_FAILED',
  TARGET_AUTH: 'TARGET_AUTH',
  TARGET_UNREACHABLE: 'TARGET_UNREACHABLE',
  INCOMPLETE_BACKUP: 'INCOMPLETE_BACKUP',
  OPLOG_ROLLED_OVER: 'OPLOG_ROLLED_OVER',
  NO_CHAIN: 'NO_CHAIN',
  /** An object is under an S3 Object Lock retention that has not ended (docs/TARGETS.md#object-lock). */
  OBJECT_LOCKED: 'OBJECT_LOCKED',
  // exit 3: integrity failure
  INTEGRITY: 'INTEGRITY',
  CHECKSUM_MISMATCH: 'CHECKSUM_MISMATCH',
  AUTH_FAILED: 'AUTH_FAILED',
  WRONG_KEY: 'WRONG_KEY',
  ARCHIVE_CORRUPT: 'ARCHIVE_CORRUPT',
  COUNT_MISMATCH: 'COUNT_MISMATCH',
  // exit 4
  LOCKED: 'LOCKED',
  // exit 130
  INTERRUPTED: 'INTERRUPTED',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const { OK, FAILED, USAGE, INTEGRITY, LOCKED, INTERRUPTED } = ExitCode;
const EXIT_BY_CODE: Record<ErrorCode, ExitCodeValue> = {
  USAGE: USAGE,
  CONFIG_INVALID: USAGE,
  NOT_SUPPORTED: USAGE,
  TOOL_NOT_FOUND: USAGE,
  URI_INVALID: USAGE,
  NAMESPACE_NOT_EMPTY: USAGE,
  KEY_MISSING: USAGE,
  IDENTITY_MISSING: USAGE,
  TARGET_UNKNOWN: USAGE,
  FAILED: FAILED,
  BACKUP_NOT_FOUND: FAILED,
  NOT_FOUND: FAILED,
  MONGODUMP_FAILED: FAILED,
  MONGORESTORE_FAILED: FAILED,
  SOURCE_UNREACHABLE: FAILED,
  TARGET_FAILED: FAILED,
  TARGET_AUTH: FAILED,
  TARGET_UNREACHABLE: FAILED,
  INCOMPLETE_BACKUP: FAILED,
  OPLOG_ROLLED_OVER: FAILED,
  NO_CHAIN: FAILED,
  OBJECT_LOCKED: FAILED,
  INTEGRITY: INTEGRITY,
  CHECKSUM_MISMATCH: INTEGRITY,
  AUTH_FAILED: INTEGRITY,
  WRONG_KEY: INTEGRITY,
  ARCHIVE_CORRUPT: INTEGRITY,
  COUNT_MISMATCH: INTEGRITY,
  LOCKED: LOCKED,
  INTERRUPTED: INTERRUPTED,
};

/** The exit code of an error code (an unknown code, e.g. from an old journal entry, is a failure). */
export function exitCodeFor(code: string): ExitCodeValue {
  return EXIT_BY_CODE[code as ErrorCode] ?? FAILED;
}

/** The exit code of `health`, which is its status: a warning exits like a failure, critical like bad configuration. */
export const HEALTH_EXIT_CODE = { HEALTHY: OK, WARNING: FAILED, CRITICAL: USAGE } as const;

/** An integrity failure (exit 3): the data itself is damaged or is not what the manifest says. */
export function isIntegrityFailure(error: unknown): error is BackupError {
  return error instanceof BackupError && error.exitCode === INTEGRITY;
}

export interface BackupErrorOptions {
  /** What the operator should do about it; appended to the message for people. */
  hint?: string;
  cause?: unknown;
  /** Extra machine-readable detail for `--json` (never secrets). */
  details?: Record<string, unknown>;
}

export class BackupError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: BackupErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackupError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  get exitCode(): ExitCodeValue {
    return EXIT_BY_CODE[this.code];
  }
}

/** Thrown by a target when an object does not exist (load/stat/remove of a missing key). */
export class NotFoundError extends BackupError {
  constructor(what: string, options: BackupErrorOptions = {}) {
    super(ErrorCodes.NOT_FOUND, `${what} does not exist`, options);
    this.name = 'NotFoundError';
  }
}

export function isNotFound(error: unknown): error is NotFoundError {
  return error instanceof BackupError && error.code === ErrorCodes.NOT_FOUND;
}

export function usageError(message: string, hint?: string): BackupError {
  return new BackupError(ErrorCodes.USAGE, message, hint === undefined ? {} : { hint });
}

/** Wraps anything thrown into a BackupError, keeping typed errors as they are. */
export function toBackupError(error: unknown): BackupError {
  if (error instanceof BackupError) return error;
  if (error instanceof Error) {
    return new BackupError(ErrorCodes.FAILED, redactSecrets(error.message), { cause: error });
  }
  return new BackupError(ErrorCodes.FAILED, redactSecrets(String(error)));
}


export interface JsonError {
  success: false;
  error: { code: ErrorCode; message: string; hint?: string; details?: Record<string, unknown> };
}

export function toJsonError(error: unknown): JsonError {
  const e = toBackupError(error);
  const body: JsonError['error'] = { code: e.code, message: redactSecrets(e.message) };
  if (e.hint) body.hint = e.hint;
  if (e.details) body.details = e.details;
  return { success: false, error: body };
}

const knownSecrets = new Set<string>();

/** Remembers a secret (key, password) so that redactSecrets() removes it from any text. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 4) knownSecrets.add(secret);
}

/**
 * Removes credentials from any text before it is shown or stored: the password part of
 * `scheme://user:password@host` URIs, and every secret registered with registerSecret().
 */
export function redactSecrets(text: string): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):([^@\s]*)@/gi, '$1:***@');
  for (const secret of knownSecrets) out = out.split(secret).join('***');
  return out;
}
