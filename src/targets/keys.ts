/**
 * Every target type's configuration keys, declared once as data and checked by the generic
 * configuration check (src/settings/schema.ts) before a factory runs. This module must not import a
 * target module: those pull in cloud SDKs and load lazily (registry.ts), while the keys are
 * checked for every configured target when the configuration is loaded. Adding a key = one line
 * here plus its use in the factory; docs/TARGETS.md lists them per type.
 */
import { BackupError, ErrorCodes } from '../errors.js';
import { asMapping, checkSection, configError, rejectUnknownKeys, type CheckOptions, type KeySpec } from '../settings/schema.js';
import type { TargetConfigBase } from './types.js';

/** A `retention:` block's keys; their values are checked by src/retention/policy.ts, where the rules live. */
export const RETENTION_KEYS: KeySpec = {
  keepLast: 'value',
  keepHourly: 'value',
  keepDaily: 'value',
  keepWeekly: 'value',
  keepMonthly: 'value',
  keepYearly: 'value',
  maxAge: 'value',
  minAge: 'value',
  pitrWindow: 'value',
};

/** Keys every target has. */
export const COMMON_TARGET_KEYS: KeySpec = {
  name: 'string',
  type: 'string',
  prefix: 'string',
  retention: { mapping: RETENTION_KEYS },
};

/** Each type's own keys. `path` is a local path for `local`, a path on the server for sftp and ftp. */
export const TARGET_KEYS: Readonly<Record<string, KeySpec>> = {
  local: { path: 'path' },
  s3: {
    bucket: 'string',
    region: 'string',
    endpoint: 'string',
    forcePathStyle: 'boolean',
    storageClass: 'string',
    sse: 'string',
    kmsKeyId: 'string',
    partSize: 'size',
    accessKeyId: 'string',
    secretAccessKey: 'secret',
    sessionToken: 'secret',
    objectLock: { mapping: { mode: 'string', days: 'integer' } },
  },
  gcs: { bucket: 'string', projectId: 'string', keyFilename: 'path', apiEndpoint: 'string' },
  azure: {
    container: 'string',
    connectionString: 'secret',
    account: 'string',
    accountKey: 'secret',
    sasUrl: 'secret',
    endpoint: 'string',
    accessTier: 'string',
  },
  sftp: {
    host: 'string',
    port: 'integer',
    username: 'string',
    privateKey: 'path',
    passwordFile: 'secretFile',
    path: 'string',
    hostFingerprint: 'string',
  },
  ftp: {
    host: 'string',
    port: 'integer',
    user: 'string',
    password: 'secret',
    passwordFile: 'secretFile',
    path: 'string',
    secure: { booleanOr: ['implicit'] },
    ca: 'path',
    allowSelfSigned: 'boolean',
    maxConnections: 'integer',
  },
};

/** Keys the loader itself sets on a target (never written in a file). */
const INTERNAL_KEYS = ['unavailable'];

export function declaredTargetTypes(): string[] {
  return Object.keys(TARGET_KEYS).sort();
}

/** Identifies an entry of `targets:` for error messages: its name when it has a usable one. */
function where(entry: Record<string, unknown>, index?: number): string {
  return typeof entry.name === 'string' && entry.name !== '' ? `targets.${entry.name}` : `targets[${index ?? '?'}]`;
}

function specFor(type: unknown, at: string): KeySpec {
  if (typeof type !== 'string' || type === '') throw configError(`${at}.type`, `is required (${declaredTargetTypes().join(', ')})`);
  const own = TARGET_KEYS[type];
  if (!own) {
    throw new BackupError(ErrorCodes.CONFIG_INVALID, `configuration: ${at}.type "${type}" is not a known target type (known: ${declaredTargetTypes().join(', ')})`);
  }
  return { ...COMMON_TARGET_KEYS, ...own };
}

/**
 * Checks one target entry against its type's declared keys: unknown keys and wrong kinds are
 * CONFIG_INVALID naming the key; returns the entry with values converted and paths resolved.
 */
export function checkTargetConfig(entry: unknown, options: CheckOptions & { index?: number } = {}): TargetConfigBase {
  const raw = asMapping(entry, `targets[${options.index ?? '?'}]`);
  const at = where(raw, options.index);
  const spec = specFor(raw.type, at);
  const internal = Object.fromEntries(Object.entries(raw).filter(([key]) => INTERNAL_KEYS.includes(key)));
  const fileKeys = Object.fromEntries(Object.entries(raw).filter(([key]) => !INTERNAL_KEYS.includes(key)));
  return { ...checkSection(fileKeys, at, spec, options), ...internal } as TargetConfigBase;
}

/** Only the key names of one entry (its values may still hold an unexpanded `${VAR}`). */
export function rejectUnknownTargetKeys(entry: Record<string, unknown>, index: number): void {
  const at = where(entry, index);
  rejectUnknownKeys(entry, at, specFor(entry.type, at));
}
