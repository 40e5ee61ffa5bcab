/**
 * The one configuration check: every section (targets included) declares its keys once, as data
 * (a KeySpec), and checkSection() validates a mapping against it. An unknown key is a
 * CONFIG_INVALID error (exit 2) naming it and the nearest known key; a value of the wrong kind
 * names the key. Value rules beyond the kind (ranges, enums, combinations) stay with the section
 * or target that owns them. docs/TARGETS.md ("Configuration keys") describes the kinds.
 */
import * as path from 'node:path';
import { BackupError, ErrorCodes, registerSecret } from '../errors.js';

/**
 * What a key holds.
 * - `string`, `secret` (text registered for redaction), `duration` (text such as 24h, parsed by its section)
 * - `number`, `integer`, `boolean`: a value `${VAR}` expansion turned into text is converted when it
 *   is exactly a number, or exactly `true`/`false` (expansion always yields text; YAML itself gives real values)
 * - `path`, `secretFile`: a file on this machine; a relative path is resolved against the folder of
 *   the configuration file (the working directory when there is none)
 * - `stringList`: a list of text
 * - `size`: bytes as a number, or text such as 64MiB (parsed by its owner)
 * - `value`: any scalar, checked by the module the key belongs to (retention rules)
 * - `{ booleanOr: [...] }`: true/false or one of the given words (ftp `secure: implicit`)
 * - `{ mapping: spec }`: a nested section with its own keys
 * - `{ list: 'mappings' }`: a list of mappings checked by their owner (targets)
 */
export type KeyKind =
  | 'string'
  | 'secret'
  | 'duration'
  | 'number'
  | 'integer'
  | 'boolean'
  | 'path'
  | 'secretFile'
  | 'stringList'
  | 'size'
  | 'value'
  | { readonly booleanOr: readonly string[] }
  | { readonly mapping: KeySpec }
  | { readonly list: 'mappings' };

/** A section's keys and what each holds. */
export type KeySpec = Readonly<Record<string, KeyKind>>;

export interface CheckOptions {
  /** Folder that relative `path`/`secretFile` values are resolved against; unset = leave them as given. */
  baseDir?: string;
}

export function configError(key: string, problem: string, hint?: string): BackupError {
  return new BackupError(ErrorCodes.CONFIG_INVALID, `configuration: ${key} ${problem}`, hint ? { hint } : {});
}

function keyPath(where: string, key: string): string {
  return where ? `${where}.${key}` : key;
}

/**
 * Checks `raw` against `spec` and returns a copy with text-from-expansion converted to the declared
 * kind and paths resolved. Keys without a value (undefined, or null from an empty YAML entry) are left out.
 */
export function checkSection(raw: Record<string, unknown>, where: string, spec: KeySpec, options: CheckOptions = {}): Record<string, unknown> {
  rejectUnknownKeys(raw, where, spec);
  const checked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (value !== undefined && value !== null) checked[key] = checkValue(value, keyPath(where, key), spec[key]!, options);
  }
  return checked;
}

/** Throws for the first key of `raw` that `spec` does not declare, naming the nearest known key. */
export function rejectUnknownKeys(raw: Record<string, unknown>, where: string, spec: KeySpec): void {
  const known = Object.keys(spec);
  for (const key of Object.keys(raw)) {
    if (Object.hasOwn(spec, key)) continue;
    const nearest = nearestKey(key, known);
    throw configError(keyPath(where, key), `is not a known key${nearest ? ` (did you mean ${nearest}?)` : ''}`, `known keys${where ? ` of ${where}` : ''}: ${known.join(', ')}`);
  }
}

function checkValue(value: unknown, key: string, kind: KeyKind, options: CheckOptions): unknown {
  if (typeof kind === 'object') {
    if ('mapping' in kind) return checkSection(asMapping(value, key), key, kind.mapping, options);
    if ('list' in kind) {
      if (!Array.isArray(value)) throw configError(key, 'must be a list');
      return value;
    }
    if (typeof value === 'string' && kind.booleanOr.includes(value)) return value;
    return asBoolean(value, key, `must be true, false or ${kind.booleanOr.join(', ')}`);
  }
  switch (kind) {
    case 'string':
    case 'duration':
      return asString(value, key);
    case 'secret':
      registerSecret(asString(value, key));
      return value;
    case 'path':
    case 'secretFile': {
      const file = asString(value, key);
      return options.baseDir && file !== '' ? path.resolve(options.baseDir, file) : file;
    }
    case 'number':
      return asNumber(value, key);
    case 'integer': {
      const n = asNumber(value, key);
      if (!Number.isInteger(n)) throw configError(key, `must be a whole number (got ${n})`);
      return n;
    }
    case 'boolean':
      return asBoolean(value, key, 'must be true or false');
    case 'stringList':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw configError(key, 'must be a list of strings');
      return value;
    case 'size':
      if (typeof value !== 'number' && typeof value !== 'string') throw configError(key, 'must be a size in bytes or like 64MiB');
      return value;
    case 'value':
      if (typeof value === 'object') throw configError(key, 'must be a single value, not a list or mapping');
      return value;
  }
}

export function asMapping(value: unknown, key: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw configError(key, 'must be a mapping');
  return value as Record<string, unknown>;
}

function asString(value: unknown, key: string): string {
  if (typeof value !== 'string') throw configError(key, `must be text (got ${JSON.stringify(value)})`);
  return value;
}

function asNumber(value: unknown, key: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw configError(key, `must be a number (got ${JSON.stringify(value)})`);
  return n;
}

function asBoolean(value: unknown, key: string, problem: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw configError(key, `${problem} (got ${JSON.stringify(value)})`);
}

/** The known key closest to `key` (case-insensitive edit distance), when it is plausibly a typo of it. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { key: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(key.length / 3)) ? best.key : undefined;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
