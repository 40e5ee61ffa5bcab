// The sections of the configuration file after the key check (schema.ts): each turned into its
// part of ResolvedConfig, with the rules beyond the kind of each value (ranges, enumerations,
// files to read, environment overrides).
import * as os from 'node:os';
import * as path from 'node:path';
import { BackupError, ErrorCodes, registerSecret } from '../errors.js';
import type { CompressionAlgorithm } from '../engine/manifest.js';
import { parseHexKey, parseIdentities, recipientFingerprint } from '../crypto/index.js';
import { parseDuration } from '../duration.js';
import { HEALTH_DEFAULTS } from '../health/evaluate.js';
import type { CheckedConfig } from './keys.js';
import type { ResolvedConfig } from './load.js';
import { configError } from '../settings/schema.js';
import { readSecretFile } from '../settings/secret-file.js';

export function optionalDuration(value: string | undefined, key: string): number | undefined {
  return value === undefined ? undefined : parseDuration(value, key);
}

/** A checked number (schema.ts made it one) within [min, max]. */
export function inRange(value: number | undefined, key: string, min: number, max: number): number | undefined {
  if (value !== undefined && (value < min || value > max)) throw configError(key, `must be a number between ${min} and ${max} (got ${value})`);
  return value;
}

export function resolveMongo(raw: NonNullable<CheckedConfig['mongodb']>, env: NodeJS.ProcessEnv): ResolvedConfig['mongodb'] {
  let uri = env.MONGODB_URI || raw.uri;
  if (!uri && raw.uriFile) uri = readSecretFile(raw.uriFile, 'mongodb.uriFile').trim();
  if (uri) {
    validateMongoUri(uri, env.MONGODB_URI ? 'MONGODB_URI' : 'mongodb.uri');
    registerUriPassword(uri);
  }
  const dumpArgs = raw.dumpArgs ?? [];
  const restoreArgs = raw.restoreArgs ?? [];
  refuseToolOwnedArgs(dumpArgs, 'mongodb.dumpArgs');
  refuseToolOwnedArgs(restoreArgs, 'mongodb.restoreArgs');
  return {
    ...(uri ? { uri } : {}),
    mongodump: raw.mongodump ?? 'mongodump',
    mongorestore: raw.mongorestore ?? 'mongorestore',
    dumpArgs,
    restoreArgs,
    restoreParallelCollections: inRange(raw.restoreParallelCollections, 'mongodb.restoreParallelCollections', 1, 256) ?? defaultRestoreParallelism().collections,
    restoreInsertionWorkers: inRange(raw.restoreInsertionWorkers, 'mongodb.restoreInsertionWorkers', 1, 256) ?? defaultRestoreParallelism().insertionWorkers,
  };
}

/**
 * mongorestore's parallelism when the configuration sets none (docs/REFERENCE.md#restore): one
 * collection per core up to mongorestore's own default of 4, and one insertion worker per
 * collection for every 4 cores (at least one), so a small host is not oversubscribed and a large
 * one is used.
 */
export function defaultRestoreParallelism(cores: number = os.availableParallelism()): { collections: number; insertionWorkers: number } {
  const n = Math.max(1, Math.floor(cores));
  return { collections: Math.min(4, n), insertionWorkers: Math.max(1, Math.floor(n / 4)) };
}

/** Arguments the tool sets itself; a secret among them would end up in argv. */
function refuseToolOwnedArgs(args: string[], key: string): void {
  for (const arg of args) {
    if (/^--(password|uri|config|archive)\b/.test(arg)) {
      throw configError(key, `must not contain ${arg.split('=')[0]}: the tool sets it (secrets never go into argv)`);
    }
  }
}

/** Checks a connection string's shape (the server is not contacted here). */
export function validateMongoUri(uri: string, key: string): void {
  const bad = (problem: string): never => {
    throw new BackupError(ErrorCodes.URI_INVALID, `${key} is not a valid MongoDB connection string: ${problem}`, {
      hint: 'expected mongodb://[user:password@]host[:port][/db][?options] or mongodb+srv://...',
    });
  };
  const m = /^(mongodb(?:\+srv)?):\/\/(?:([^@/]*)@)?([^/?]+)(\/[^?]*)?(\?.*)?$/.exec(uri);
  if (!m) bad(uri.includes('://') ? 'it does not have the form scheme://host' : 'it must start with mongodb:// or mongodb+srv://');
  const hosts = m![3]!.split(',');
  for (const host of hosts) {
    const hm = /^(\[[0-9a-fA-F:]+\]|[^:]+)(?::(\d+))?$/.exec(host);
    if (!hm) bad(`bad host "${host}"`);
    if (hm![2] !== undefined && (Number(hm![2]) < 1 || Number(hm![2]) > 65535)) bad(`bad port in "${host}"`);
  }
  if (m![1] === 'mongodb+srv' && hosts.length !== 1) bad('mongodb+srv takes exactly one host');
}

function registerUriPassword(uri: string): void {
  const m = /^[a-z+]+:\/\/[^:@/]*:([^@/]*)@/i.exec(uri);
  if (m?.[1]) {
    registerSecret(m[1]);
    try {
      registerSecret(decodeURIComponent(m[1]));
    } catch {
      /* not percent-encoded */
    }
  }
}

export function resolveCompression(raw: NonNullable<CheckedConfig['compression']>): ResolvedConfig['compression'] {
  const algorithm = raw.algorithm ?? 'zstd';
  if (!['zstd', 'gzip', 'none'].includes(algorithm)) throw configError('compression.algorithm', `must be zstd, gzip or none (got "${algorithm}")`);
  const level = inRange(raw.level, 'compression.level', algorithm === 'zstd' ? -7 : 0, algorithm === 'zstd' ? 22 : 9);
  return { algorithm: algorithm as CompressionAlgorithm, ...(level !== undefined ? { level } : {}) };
}

export function resolveEncryption(raw: NonNullable<CheckedConfig['encryption']>, env: NodeJS.ProcessEnv): ResolvedConfig['encryption'] {
  let key: Buffer | undefined;
  if (env.BACKUP_ENCRYPTION_KEY) {
    registerSecret(env.BACKUP_ENCRYPTION_KEY);
    key = parseHexKey(env.BACKUP_ENCRYPTION_KEY.trim(), 'BACKUP_ENCRYPTION_KEY');
  } else if (raw.key !== undefined) {
    key = parseHexKey(raw.key.trim(), 'encryption.key');
  } else if (raw.keyFile !== undefined) {
    const text = readSecretFile(raw.keyFile, 'encryption.keyFile').trim();
    registerSecret(text);
    key = parseHexKey(text, 'encryption.keyFile');
  }
  const recipients = (raw.recipients ?? []).map((r) => r.trim());
  for (const [i, r] of recipients.entries()) {
    try {
      recipientFingerprint(r);
    } catch (error) {
      throw configError(`encryption.recipients[${i}]`, `is not usable: ${(error as Error).message}`);
    }
  }
  let identities: string[] = [];
  if (raw.identityFile) {
    identities = parseIdentities(readSecretFile(raw.identityFile, 'encryption.identityFile'));
    identities.forEach(registerSecret);
  }
  return { ...(key ? { key } : {}), recipients, identities };
}

export function resolveStateDir(configured: string | undefined, env: NodeJS.ProcessEnv): string {
  if (env.BACKUP_STATE_DIR) return path.resolve(env.BACKUP_STATE_DIR);
  if (configured) return configured;
  if (process.getuid?.() === 0 && !env.XDG_STATE_HOME) return '/var/lib/mongo-backup';
  const stateHome = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(stateHome, 'mongo-backup');
}

/** Thresholds given in the file; the defaults live once, in HEALTH_DEFAULTS (src/health/evaluate.ts). */
export function resolveHealth(raw: NonNullable<CheckedConfig['health']>): ResolvedConfig['health'] {
  const minFreeDiskBytes = inRange(raw.minFreeDiskBytes, 'health.minFreeDiskBytes', 0, Number.MAX_SAFE_INTEGER);
  return {
    maxAgeHours: inRange(raw.maxAgeHours, 'health.maxAgeHours', 0.01, 24 * 366) ?? HEALTH_DEFAULTS.maxAgeHours,
    minSuccessRate: inRange(raw.minSuccessRate, 'health.minSuccessRate', 0, 1) ?? HEALTH_DEFAULTS.minSuccessRate,
    minFreeDiskPercent: inRange(raw.minFreeDiskPercent, 'health.minFreeDiskPercent', 0, 100) ?? HEALTH_DEFAULTS.minFreeDiskPercent,
    ...(minFreeDiskBytes !== undefined ? { minFreeDiskBytes } : {}),
    rpoMinutes: inRange(raw.rpoMinutes, 'health.rpoMinutes', 0.01, 60 * 24 * 366) ?? HEALTH_DEFAULTS.rpoMinutes,
    incrementalIntervalMs: positiveDuration(raw.incrementalInterval, 'health.incrementalInterval') ?? HEALTH_DEFAULTS.incrementalIntervalMs,
    maxDrillAgeDays: inRange(raw.maxDrillAgeDays, 'health.maxDrillAgeDays', 0, 3660) ?? HEALTH_DEFAULTS.maxDrillAgeDays,
    rtoHours: inRange(raw.rtoHours, 'health.rtoHours', 0.000001, 24 * 366) ?? HEALTH_DEFAULTS.rtoHours,
  };
}

function positiveDuration(value: string | undefined, key: string): number | undefined {
  const ms = optionalDuration(value, key);
  if (ms !== undefined && ms <= 0) throw configError(key, `must be a positive duration (got "${value}")`);
  return ms;
}

export function resolveAlerts(raw: NonNullable<CheckedConfig['alerts']>): ResolvedConfig['alerts'] {
  const { webhook, command, notifyOnSuccess } = raw;
  if (webhook && !/^https?:\/\//.test(webhook)) throw configError('alerts.webhook', 'must be an http(s) URL');
  const webhookTimeoutMs = inRange(raw.webhookTimeoutMs, 'alerts.webhookTimeoutMs', 100, 600_000);
  return {
    ...(webhook ? { webhook } : {}),
    ...(command ? { command } : {}),
    ...(notifyOnSuccess !== undefined ? { notifyOnSuccess } : {}),
    ...(webhookTimeoutMs !== undefined ? { webhookTimeoutMs } : {}),
  };
}

export function optionalEnvInt(env: NodeJS.ProcessEnv, name: string, field: string): Record<string, number> {
  const value = env[name];
  if (value === undefined || value === '') return {};
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw configError(name, `must be a whole number ≥ 0 (got "${value}")`);
  return { [field]: n };
}
