/**
 * Configuration (SPEC §4): a YAML/JSON file found by cosmiconfig (module `backup`), else
 * /etc/mongo-backup/backuprc.yaml, or `--config FILE`; `${VAR}` expansion; environment variables
 * override the file; secrets may come from files. Every problem is a CONFIG_INVALID error (exit 2)
 * that names the bad key.
 */
import { readFileSync, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cosmiconfig } from 'cosmiconfig';
import { parse as parseYaml } from 'yaml';
import { BackupError, ErrorCodes, registerSecret } from '../errors.js';
import type { TargetConfigBase } from '../targets/types.js';
import { checkTargetConfig, rejectUnknownTargetKeys } from '../targets/keys.js';
import { loadTargetTypes } from '../targets/registry.js';
import { HEALTH_DEFAULTS } from '../health/evaluate.js';
import { DEFAULT_INCOMPLETE_GRACE_MS } from '../retention/policy.js';
import { DEFAULT_STALE_AFTER_MS } from '../state/lock.js';
import { CONFIG_KEYS, type CheckedConfig } from './keys.js';
import { checkSection, configError } from './schema.js';
import { readSecretFile } from './secret-file.js';

export { configError } from './schema.js';
import type { CompressionAlgorithm } from '../engine/manifest.js';
import { parseHexKey, parseIdentities, recipientFingerprint } from '../crypto/index.js';
import { parseDuration } from '../duration.js';

export const SYSTEM_CONFIG_FILE = '/etc/mongo-backup/backuprc.yaml';

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
  health: { maxAgeHours: number; minSuccessRate: number; minFreeDiskPercent?: number; minFreeDiskBytes?: number };
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
  // list, show or verify on a recovery host (SPEC §7), so its error waits until the URI is used.
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

async function readConfigFile(configFile: string | undefined, cwd: string): Promise<{ raw: unknown; file?: string }> {
  if (configFile) {
    const file = path.resolve(cwd, configFile);
    if (!existsSync(file)) throw configError('file', `${file} does not exist`, 'check the --config path');
    return { raw: parseConfigText(file), file };
  }
  try {
    const found = await cosmiconfig('backup', { searchStrategy: 'none' }).search(cwd);
    if (found && !found.isEmpty) return { raw: found.config, file: found.filepath };
  } catch (error) {
    throw configError('file', `could not be read: ${(error as Error).message}`, 'fix the YAML/JSON syntax at the position given');
  }
  if (existsSync(SYSTEM_CONFIG_FILE)) return { raw: parseConfigText(SYSTEM_CONFIG_FILE), file: SYSTEM_CONFIG_FILE };
  return { raw: {} };
}

function parseConfigText(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw configError('file', `${file} could not be read: ${(error as Error).message}`);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    throw configError('file', `${file} is not valid YAML/JSON: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** The error expanding `value` would raise (it names an unset variable), or undefined. */
function expansionProblem(value: unknown, env: NodeJS.ProcessEnv, key: string): BackupError | undefined {
  try {
    expandEnv(value, env, key);
    return undefined;
  } catch (error) {
    return error as BackupError;
  }
}

function deferredUriProblem(raw: unknown, env: NodeJS.ProcessEnv): BackupError | undefined {
  const uri = (raw as { mongodb?: { uri?: unknown } } | null)?.mongodb?.uri;
  return typeof uri === 'string' ? expansionProblem(uri, env, 'mongodb.uri') : undefined;
}

/** Keys of a target entry that must expand for the configuration to make sense at all. */
const TARGET_IDENTITY_KEYS = ['name', 'type', 'prefix', 'retention'];

/**
 * Finds target entries with an unset `${VAR}` outside their identity (name, type, prefix,
 * retention) and reduces them to that identity, remembering the error by target name.
 */
function deferTargetProblems(raw: unknown, env: NodeJS.ProcessEnv): { raw: unknown; problems: Map<string, BackupError> } {
  const problems = new Map<string, BackupError>();
  const targets = (raw as { targets?: unknown } | null)?.targets;
  if (!Array.isArray(targets)) return { raw, problems };
  const reduced = targets.map((entry: unknown, index: number) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return entry;
    const fields = entry as Record<string, unknown>;
    if (typeof fields.name !== 'string') return entry;
    // A misspelt key must fail even in a target left aside for an unset variable.
    rejectUnknownTargetKeys(fields, index);
    const problem = expansionProblem(entry, env, `targets.${fields.name}`);
    if (!problem) return entry;
    problems.set(fields.name, problem);
    return Object.fromEntries(Object.entries(fields).filter(([key]) => TARGET_IDENTITY_KEYS.includes(key)));
  });
  return problems.size === 0 ? { raw, problems } : { raw: { ...(raw as Record<string, unknown>), targets: reduced }, problems };
}

/** Drops alert channels (webhook, command) that name an unset variable, remembering the first error. */
function deferAlertProblem(raw: unknown, env: NodeJS.ProcessEnv): { raw: unknown; problem?: BackupError } {
  const section = (raw as { alerts?: unknown } | null)?.alerts;
  if (typeof section !== 'object' || section === null || Array.isArray(section)) return { raw };
  const channels = { ...(section as Record<string, unknown>) };
  let problem: BackupError | undefined;
  for (const key of ['webhook', 'command']) {
    const channelProblem = expansionProblem(channels[key], env, `alerts.${key}`);
    if (!channelProblem) continue;
    problem ??= channelProblem;
    delete channels[key];
  }
  return problem ? { raw: { ...(raw as Record<string, unknown>), alerts: channels }, problem } : { raw };
}

function withoutMongoUri(raw: unknown): unknown {
  const copy = { ...(raw as Record<string, unknown>) };
  const { uri: _unused, ...mongodb } = copy.mongodb as Record<string, unknown>;
  copy.mongodb = mongodb;
  return copy;
}

/** Replaces `${VAR}` (and `${VAR:-default}`) in every string value; a missing variable is an error naming the key. */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, key: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      throw configError(key || 'value', `refers to environment variable ${name}, which is not set`);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, `${key}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, expandEnv(v, env, key ? `${key}.${k}` : k)]),
    );
  }
  return value;
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
    retries: inRange(checked.retries, 'retries', 0, 20) ?? 3,
  };
  // A top-level `retention:` block is the policy of every target that has none of its own.
  if (checked.retention) for (const t of config.targets) t.retention ??= checked.retention;
  if (file) config.configFile = file;
  return config;
}

function optionalDuration(value: string | undefined, key: string): number | undefined {
  return value === undefined ? undefined : parseDuration(value, key);
}

/** A checked number (schema.ts made it one) within [min, max]. */
function inRange(value: number | undefined, key: string, min: number, max: number): number | undefined {
  if (value !== undefined && (value < min || value > max)) throw configError(key, `must be a number between ${min} and ${max} (got ${value})`);
  return value;
}

function resolveMongo(raw: NonNullable<CheckedConfig['mongodb']>, env: NodeJS.ProcessEnv): ResolvedConfig['mongodb'] {
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
  };
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

function resolveCompression(raw: NonNullable<CheckedConfig['compression']>): ResolvedConfig['compression'] {
  const algorithm = raw.algorithm ?? 'zstd';
  if (!['zstd', 'gzip', 'none'].includes(algorithm)) throw configError('compression.algorithm', `must be zstd, gzip or none (got "${algorithm}")`);
  const level = inRange(raw.level, 'compression.level', algorithm === 'zstd' ? -7 : 0, algorithm === 'zstd' ? 22 : 9);
  return { algorithm: algorithm as CompressionAlgorithm, ...(level !== undefined ? { level } : {}) };
}

function resolveEncryption(raw: NonNullable<CheckedConfig['encryption']>, env: NodeJS.ProcessEnv): ResolvedConfig['encryption'] {
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

function resolveStateDir(configured: string | undefined, env: NodeJS.ProcessEnv): string {
  if (env.BACKUP_STATE_DIR) return path.resolve(env.BACKUP_STATE_DIR);
  if (configured) return configured;
  if (process.getuid?.() === 0 && !env.XDG_STATE_HOME) return '/var/lib/mongo-backup';
  const stateHome = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(stateHome, 'mongo-backup');
}

const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

function resolveTargets(raw: unknown[] | undefined, env: NodeJS.ProcessEnv, cwd: string, baseDir: string): TargetConfigBase[] {
  const targets = (raw ?? []).map((entry, index) => validateTarget(entry, index, baseDir));
  const storagePath = env.BACKUP_STORAGE_PATH;
  if (targets.length === 0) {
    targets.push({ name: 'local', type: 'local', path: path.resolve(cwd, storagePath || './backups') });
  } else if (storagePath) {
    // The local target: the only one of type local, or the one named "local" among several.
    const locals = targets.filter((t) => t.type === 'local');
    const local = locals.length === 1 ? locals[0] : locals.find((t) => t.name === 'local');
    if (local) local.path = path.resolve(cwd, storagePath);
    else if (locals.length > 1) {
      throw configError('BACKUP_STORAGE_PATH', `is set but there are several local targets (${locals.map((t) => t.name).join(', ')}) and none is named "local"`);
    }
  }
  if (env.AWS_S3_BUCKET && !targets.some((t) => t.type === 's3' && t.bucket === env.AWS_S3_BUCKET)) {
    targets.push({
      name: targets.some((t) => t.name === 's3') ? 's3-env' : 's3',
      type: 's3',
      bucket: env.AWS_S3_BUCKET,
      ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    });
  }
  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t.name)) throw configError(`targets.${t.name}`, 'is defined twice (names must be unique)');
    seen.add(t.name);
  }
  return targets;
}

/** Name first (messages use it), then the type's declared keys (src/targets/keys.ts). */
function validateTarget(entry: unknown, index: number, baseDir: string): TargetConfigBase {
  const name = (entry as { name?: unknown } | null)?.name;
  if (typeof name !== 'string' || !TARGET_NAME.test(name)) {
    throw configError(`targets[${index}].name`, 'is required: letters, digits, ".", "_" or "-" (at most 63)');
  }
  return checkTargetConfig(entry, { baseDir, index });
}

/** Thresholds given in the file; the defaults live once, in HEALTH_DEFAULTS (src/health/evaluate.ts). */
function resolveHealth(raw: NonNullable<CheckedConfig['health']>): ResolvedConfig['health'] {
  const minFreeDiskBytes = inRange(raw.minFreeDiskBytes, 'health.minFreeDiskBytes', 0, Number.MAX_SAFE_INTEGER);
  return {
    maxAgeHours: inRange(raw.maxAgeHours, 'health.maxAgeHours', 0.01, 24 * 366) ?? HEALTH_DEFAULTS.maxAgeHours,
    minSuccessRate: inRange(raw.minSuccessRate, 'health.minSuccessRate', 0, 1) ?? HEALTH_DEFAULTS.minSuccessRate,
    minFreeDiskPercent: inRange(raw.minFreeDiskPercent, 'health.minFreeDiskPercent', 0, 100) ?? HEALTH_DEFAULTS.minFreeDiskPercent,
    ...(minFreeDiskBytes !== undefined ? { minFreeDiskBytes } : {}),
  };
}

function resolveAlerts(raw: NonNullable<CheckedConfig['alerts']>): ResolvedConfig['alerts'] {
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

function optionalEnvInt(env: NodeJS.ProcessEnv, name: string, field: string): Record<string, number> {
  const value = env[name];
  if (value === undefined || value === '') return {};
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw configError(name, `must be a whole number ≥ 0 (got "${value}")`);
  return { [field]: n };
}
