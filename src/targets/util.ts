/** Small helpers shared by target implementations. */
import { randomBytes } from 'node:crypto';
import { BackupError, ErrorCodes } from '../errors.js';
import { configError as sectionError } from '../settings/schema.js';
import type { TargetConfigBase, TemporaryCleanupOptions } from './types.js';

/** Normalises a configured prefix to '' or 'some/path/' (no leading slash, one trailing slash). */
export function normalizePrefix(prefix: unknown): string {
  if (prefix === undefined || prefix === null || prefix === '') return '';
  if (typeof prefix !== 'string') throw configError('prefix', 'must be a string');
  const trimmed = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

/**
 * Targets that write under a temporary name and rename (local, sftp, ftp) start that name with
 * this, so list() skips it and removeStaleTemporaries() finds the leftovers of killed runs.
 */
export const TEMP_MARKER = '.tmp-';

/** A fresh temporary name, in the same folder, for an object whose file name is `baseName`. */
export function temporaryName(baseName: string): string {
  return `${TEMP_MARKER}${baseName}-${randomBytes(4).toString('hex')}`;
}

/** Rejects keys that could escape the target's prefix or are otherwise unusable. */
export function assertValidKey(key: string): void {
  if (key === '' || key.startsWith('/') || key.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    throw new BackupError(ErrorCodes.FAILED, `invalid object key "${key}"`);
  }
}

/** A CONFIG_INVALID error naming `targets.NAME.KEY`. */
export function configError(key: string, problem: string, targetName?: string): BackupError {
  return sectionError(targetName ? `targets.${targetName}.${key}` : key, problem);
}

/*
 * The readers below run after the key check (keys.ts, src/settings/schema.ts), which has already
 * refused unknown keys and values of the wrong kind, and turned `${VAR}` text into numbers and
 * booleans; they only pick the value out, with the type the factory needs.
 */

export function requireString(config: TargetConfigBase, key: string): string {
  const value = config[key];
  if (typeof value !== 'string' || value === '') {
    throw configError(key, `is required for a ${config.type} target`, config.name);
  }
  return value;
}

export function optionalString(config: TargetConfigBase, key: string): string | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw configError(key, 'must be a string', config.name);
  return value;
}

export function optionalNumber(config: TargetConfigBase, key: string): number | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw configError(key, 'must be a number', config.name);
  return value;
}

export function optionalBoolean(config: TargetConfigBase, key: string): boolean | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  throw configError(key, 'must be true or false', config.name);
}

/**
 * The common end of every removeStaleTemporaries(): a dry run only names the stale leftovers;
 * otherwise each is removed, and one that was gone already (its save finished or cleaned up
 * meanwhile: `remove` returns false) is left out of the result.
 */
export async function removeStaleLeftovers<T>(
  stale: T[],
  keyOf: (leftover: T) => string,
  remove: (leftover: T) => Promise<boolean>,
  options: TemporaryCleanupOptions,
): Promise<string[]> {
  if (options.dryRun) return stale.map(keyOf);
  const removed: string[] = [];
  for (const leftover of stale) {
    if (await remove(leftover)) removed.push(keyOf(leftover));
  }
  return removed;
}
