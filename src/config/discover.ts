// Where the configuration comes from (docs/REFERENCE.md#where-the-file-is-found): `--config FILE`,
// else the first data file (YAML/JSON) of a fixed list in the working directory, else the system
// file. Code is never searched for: an operator often runs the tool as root from whatever folder
// the shell is in, and a `backup.config.js` planted there would run as root. A JavaScript or
// TypeScript configuration is loaded only when named with --config.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { defaultLoaders } from 'cosmiconfig';
import { parse as parseYaml } from 'yaml';
import { BackupError } from '../errors.js';
import { configError } from '../settings/schema.js';
import { checkFileTrust, readTrustedFile, warnIfReadableByOthers, warnOnce } from '../settings/secret-file.js';
import { TARGET_KEYS } from '../targets/keys.js';
import { ENCRYPTION_KEYS } from './keys.js';

export const SYSTEM_CONFIG_FILE = '/etc/mongo-backup/backuprc.yaml';

/**
 * The names searched in the working directory, in order: the data formats of cosmiconfig's search
 * for the module name `backup` (which this list replaces: its search also runs `.js`/`.ts` files
 * and a `.config/config.js` of its own).
 */
export const SEARCHED_FILES = [
  'package.json',
  '.backuprc',
  '.backuprc.json',
  '.backuprc.yaml',
  '.backuprc.yml',
  '.config/backuprc',
  '.config/backuprc.json',
  '.config/backuprc.yaml',
  '.config/backuprc.yml',
] as const;

/** The code configurations cosmiconfig's search used to run, named when one is left unloaded. */
const IGNORED_CODE_FILES = ['.backuprc.js', '.backuprc.ts', '.backuprc.cjs', '.backuprc.mjs', 'backup.config.js', 'backup.config.ts', 'backup.config.cjs', 'backup.config.mjs'];

/** Extensions of configurations that are code: loaded only from an explicit --config. */
const CODE_EXTENSIONS = new Set(['.js', '.cjs', '.mjs', '.ts']);

/** The parsed file and its path; `{}` and no path when there is none. */
export async function readConfigFile(configFile: string | undefined, cwd: string): Promise<{ raw: unknown; file?: string }> {
  if (configFile) {
    const file = path.resolve(cwd, configFile);
    if (!existsSync(file)) throw configError('file', `${file} does not exist`, 'check the --config path');
    const raw = CODE_EXTENSIONS.has(path.extname(file)) ? await loadCode(file) : parseConfigText(file);
    return trusted(raw, file);
  }
  const found = searchWorkingDirectory(cwd);
  if (found) return found;
  warnAboutIgnoredCode(cwd);
  if (existsSync(SYSTEM_CONFIG_FILE)) {
    return trusted(parseConfigText(SYSTEM_CONFIG_FILE), SYSTEM_CONFIG_FILE);
  }
  return { raw: {} };
}

/** Says so when the working directory holds a code configuration that was not loaded (it may be what the operator meant). */
function warnAboutIgnoredCode(cwd: string): void {
  const file = IGNORED_CODE_FILES.map((name) => path.join(cwd, name)).find((candidate) => existsSync(candidate));
  if (file) warnOnce(`${file} is not loaded: a JavaScript/TypeScript configuration runs only when named with --config`);
}

/** The first file of SEARCHED_FILES in `cwd` that holds a configuration (package.json: its `backup` key). */
function searchWorkingDirectory(cwd: string): { raw: unknown; file: string } | undefined {
  for (const name of SEARCHED_FILES) {
    const file = path.join(cwd, name);
    if (!existsSync(file)) continue;
    if (name === 'package.json') {
      // Any project's package.json may lie here: only one with a `backup` key is the configuration,
      // and only that one must pass the permission check.
      const section = (parseConfigText(file, { checked: false }) as Record<string, unknown> | null)?.['backup'];
      if (section === undefined || section === null) continue;
      checkFileTrust(file, 'file');
      return trusted(section, file);
    }
    const raw = parseConfigText(file);
    // An empty file is no configuration: the search goes on, as cosmiconfig's did.
    if (raw === null || (typeof raw === 'object' && Object.keys(raw as object).length === 0)) continue;
    return trusted(raw, file);
  }
  return undefined;
}

/** The configuration read from `file`, after the warning a file with inline secrets gets when every user can read it. */
function trusted(raw: unknown, file: string): { raw: unknown; file: string } {
  if (holdsInlineSecret(raw)) warnIfReadableByOthers(file, 'the configuration file');
  return { raw, file };
}

/** A value written into the file itself, not taken from the environment with `${VAR}`. */
function isInline(value: unknown): boolean {
  return typeof value === 'string' && value !== '' && !value.includes('${');
}

/**
 * Whether the file holds a secret itself: a key of kind `secret` (encryption.key, a target's
 * secretAccessKey, password, ...), or a password in mongodb.uri.
 */
function holdsInlineSecret(raw: unknown): boolean {
  if (typeof raw !== 'object' || raw === null) return false;
  const config = raw as Record<string, unknown>;
  const section = (name: string): Record<string, unknown> => (typeof config[name] === 'object' && config[name] !== null ? (config[name] as Record<string, unknown>) : {});
  const uriPassword = /^[a-z+]+:\/\/[^:@/]*:([^@/]+)@/i.exec(String(section('mongodb')['uri'] ?? ''))?.[1];
  if (isInline(uriPassword)) return true;
  if (Object.entries(ENCRYPTION_KEYS).some(([key, kind]) => kind === 'secret' && isInline(section('encryption')[key]))) return true;
  const targets = Array.isArray(config['targets']) ? (config['targets'] as unknown[]) : [];
  return targets.some((target) => {
    if (typeof target !== 'object' || target === null) return false;
    const entry = target as Record<string, unknown>;
    const keys = TARGET_KEYS[String(entry['type'])] ?? {};
    return Object.entries(keys).some(([key, kind]) => kind === 'secret' && isInline(entry[key]));
  });
}

/** The file's YAML/JSON content, read after the permission check (docs/REFERENCE.md#file-permissions). */
function parseConfigText(file: string, options: { checked: boolean } = { checked: true }): unknown {
  let text: string;
  try {
    text = (options.checked ? readTrustedFile(file, 'file') : readFileSync(file)).toString('utf8');
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw configError('file', `${file} could not be read: ${(error as Error).message}`);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    throw configError('file', `${file} is not valid YAML/JSON: ${(error as Error).message.split('\n')[0]}`, 'fix the YAML/JSON syntax at the position given');
  }
}

/** Runs a JavaScript/TypeScript configuration named with --config and takes what it exports. */
async function loadCode(file: string): Promise<unknown> {
  // Node's loader reads the file by name itself: the check runs just before.
  checkFileTrust(file, 'file');
  const load = defaultLoaders[path.extname(file) as keyof typeof defaultLoaders] ?? defaultLoaders['.js'];
  try {
    const exported: unknown = await load(file, readFileSync(file, 'utf8'));
    return exported ?? {};
  } catch (error) {
    throw configError('file', `${file} could not be loaded: ${(error as Error).message.split('\n')[0]}`);
  }
}
