// Where the configuration comes from: `--config FILE`, else a file cosmiconfig finds in the
// working directory (module `backup`: .backuprc.yaml, ...), else the system file; its YAML/JSON text parsed.
import { readFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { cosmiconfig } from 'cosmiconfig';
import { parse as parseYaml } from 'yaml';
import { configError } from '../settings/schema.js';

export const SYSTEM_CONFIG_FILE = '/etc/mongo-backup/backuprc.yaml';

/** The parsed file and its path; `{}` and no path when there is none. */
export async function readConfigFile(configFile: string | undefined, cwd: string): Promise<{ raw: unknown; file?: string }> {
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
