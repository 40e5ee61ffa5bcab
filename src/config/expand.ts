// `${VAR}` expansion, and the unset variables whose error waits until the part that names them
// is used (the source URI, one target, one alert channel), so a recovery host without those
// secrets can still list, verify and restore.
import type { BackupError } from '../errors.js';
import { rejectUnknownTargetKeys } from '../targets/keys.js';
import { configError } from '../settings/schema.js';

/** The error expanding `value` would raise (it names an unset variable), or undefined. */
function expansionProblem(value: unknown, env: NodeJS.ProcessEnv, key: string): BackupError | undefined {
  try {
    expandEnv(value, env, key);
    return undefined;
  } catch (error) {
    return error as BackupError;
  }
}

export function deferredUriProblem(raw: unknown, env: NodeJS.ProcessEnv): BackupError | undefined {
  const uri = (raw as { mongodb?: { uri?: unknown } } | null)?.mongodb?.uri;
  return typeof uri === 'string' ? expansionProblem(uri, env, 'mongodb.uri') : undefined;
}

/** Keys of a target entry that must expand for the configuration to make sense at all. */
const TARGET_IDENTITY_KEYS = ['name', 'type', 'prefix', 'retention'];

/**
 * Finds target entries with an unset `${VAR}` outside their identity (name, type, prefix,
 * retention) and reduces them to that identity, remembering the error by target name.
 */
export function deferTargetProblems(raw: unknown, env: NodeJS.ProcessEnv): { raw: unknown; problems: Map<string, BackupError> } {
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
export function deferAlertProblem(raw: unknown, env: NodeJS.ProcessEnv): { raw: unknown; problem?: BackupError } {
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

export function withoutMongoUri(raw: unknown): unknown {
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
