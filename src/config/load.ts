/**
 * Configuration: a YAML/JSON file (discover.ts), `${VAR}` expansion (expand.ts), the one key check
 * (schema.ts, with the keys declared in keys.ts and src/targets/keys.ts), then each section
 * resolved (sections.ts, targets.ts); environment variables override the file; secrets may come
 * from files. Every problem is a CONFIG_INVALID error (exit 2) that names the bad key. The keys
 * are described in backuprc.example.yaml and docs/TARGETS.md.
 */
import * as path from 'node:path';
import type { BackupError } from '../errors.js';
import type { TargetConfigBase } from '../targets/types.js';
import { loadTargetTypes } from '../targets/registry.js';
import { DEFAULT_INCOMPLETE_GRACE_MS } from '../retention/policy.js';
import { DEFAULT_STALE_AFTER_MS } from '../state/lock.js';
import { DEFAULT_RETRIES } from '../targets/retry.js';
import type { CompressionAlgorithm } from '../engine/manifest.js';
import { readConfigFile } from './discover.js';
import { deferAlertProblem, deferredUriProblem, deferTargetProblems, expandEnv, withoutMongoUri } from './expand.js';
import { CONFIG_KEYS, type CheckedConfig } from './keys.js';
import { checkSection, configError } from '../settings/schema.js';
import {
  inRange,
  optionalDuration,
  optionalEnvInt,
  resolveAlerts,
  resolveCompression,
  resolveEncryption,
  resolveHealth,
  resolveMongo,
  resolveStateDir,
} from './sections.js';
import { resolveTargets } from './targets.js';

export { configError } from '../settings/schema.js';
export { SYSTEM_CONFIG_FILE } from './discover.js';
export { expandEnv } from './expand.js';
export { validateMongoUri } from './sections.js';

export interface ResolvedConfig {
  /** The file the configuration came from, if any. */
  configFile?: string;
  mongodb: {
    uri?: string;
    /** Why `uri` is missing when the file names one (an unset `${VAR}`); reported when the URI is needed. */
    uriProblem?: BackupError;
    mongodump: string;
    mongorestore: string;
    dumpArgs: string[];
    restoreArgs: string[];
    /** mongorestore --numParallelCollections for restore and drill. */
    restoreParallelCollections: number;
    /** mongorestore --numInsertionWorkersPerCollection for restore and drill. */
    restoreInsertionWorkers: number;
  };
  compression: { algorithm: CompressionAlgorithm; level?: number };
  encryption: {
    /** Symmetric master key (32 bytes), when configured. */
    key?: Buffer;
    /** Public-key recipients (mbpub1...). */
    recipients: string[];
    /** Private identities (mbsec1...) used to decrypt. */
    identities: string[];
  };
  stateDir: string;
  autoPrune: boolean;
  targets: TargetConfigBase[];
  retentionDefaults: { maxBackups?: number; retentionDays?: number };
  health: { maxAgeHours: number; minSuccessRate: number; minFreeDiskPercent?: number; minFreeDiskBytes?: number; rpoMinutes: number; incrementalIntervalMs: number; maxDrillAgeDays: number; rtoHours: number };
  /** `problem`: a channel named an unset variable and was left out; alerts report it instead of being sent. */
  alerts: { webhook?: string; command?: string; notifyOnSuccess?: boolean; webhookTimeoutMs?: number; problem?: BackupError };
  /** ENABLE_AUTO_BACKUP=false makes `schedule install` refuse. */
  autoBackupEnabled: boolean;
  /** Incomplete backups (no manifest) younger than this are left alone by prune. */
  incompleteGraceMs: number;
  /** Retries for transient target errors. */
  retries: number;
  /** A lock older than this is taken over even when its process still runs (raise it for backups that take days). */
  lockStaleAfterMs: number;
}

export interface LoadConfigOptions {
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<ResolvedConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const { raw, file } = await readConfigFile(options.configFile, cwd);
  // The source URI is needed only by create and restore: an unset variable in it must not stop
  // list, show or verify on a recovery host (docs/REFERENCE.md#variable-expansion), so its error waits until the URI is used.
  const uriProblem = deferredUriProblem(raw, env);
  // Likewise a target whose settings name an unset variable (the offsite copy's secret on a
  // recovery host): only that target fails, when it is used.
  const deferred = deferTargetProblems(uriProblem ? withoutMongoUri(raw) : raw, env);
  // And an alert channel: an unset webhook or command must not stop a restore; the alert that
  // cannot be sent says why instead (notify/index.ts).
  const alerts = deferAlertProblem(deferred.raw, env);
  const expanded = expandEnv(alerts.raw, env, '') as Record<string, unknown>;
  const config = resolveConfig(expanded, env, file, cwd);
  if (alerts.problem) config.alerts.problem = alerts.problem;
  if (uriProblem && !config.mongodb.uri) config.mongodb.uriProblem = uriProblem;
  for (const target of config.targets) {
    const problem = deferred.problems.get(target.name);
    if (problem) target.unavailable = problem;
  }
  await loadTargetTypes(config.targets.map((t) => t.type));
  return config;
}

function resolveConfig(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, file: string | undefined, cwd: string): ResolvedConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw configError('file', 'must be a mapping of keys');
  // Relative paths in the file are relative to the file; those from the environment and the defaults to the working directory.
  const baseDir = file ? path.dirname(file) : cwd;
  const checked = checkSection(raw, '', CONFIG_KEYS, { baseDir }) as CheckedConfig;
  const config: ResolvedConfig = {
    mongodb: resolveMongo(checked.mongodb ?? {}, env),
    compression: resolveCompression(checked.compression ?? {}),
    encryption: resolveEncryption(checked.encryption ?? {}, env),
    stateDir: resolveStateDir(checked.stateDir, env),
    autoPrune: checked.autoPrune ?? false,
    targets: resolveTargets(checked.targets, env, cwd, baseDir),
    // The original design's defaults: keep at most 10, delete older than 30 days.
    retentionDefaults: {
      maxBackups: 10,
      retentionDays: 30,
      ...optionalEnvInt(env, 'MAX_BACKUPS', 'maxBackups'),
      ...optionalEnvInt(env, 'BACKUP_RETENTION_DAYS', 'retentionDays'),
    },
    health: resolveHealth(checked.health ?? {}),
    alerts: resolveAlerts(checked.alerts ?? {}),
    autoBackupEnabled: (env.ENABLE_AUTO_BACKUP ?? 'true').toLowerCase() !== 'false',
    incompleteGraceMs: optionalDuration(checked.incompleteGracePeriod, 'incompleteGracePeriod') ?? DEFAULT_INCOMPLETE_GRACE_MS,
    lockStaleAfterMs: optionalDuration(checked.lockStaleAfter, 'lockStaleAfter') ?? DEFAULT_STALE_AFTER_MS,
    retries: inRange(checked.retries, 'retries', 0, 20) ?? DEFAULT_RETRIES,
  };
  // A top-level `retention:` block is the policy of every target that has none of its own.
  if (checked.retention) for (const t of config.targets) t.retention ??= checked.retention;
  if (file) config.configFile = file;
  return config;
}
