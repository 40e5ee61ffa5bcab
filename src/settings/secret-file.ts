/**
 * Files named by the configuration (password files, key files, CA certificates). Their paths were
 * resolved against the configuration file's folder by the key check (schema.ts), so these only
 * read; a file that cannot be read is a CONFIG_INVALID error naming the key, before any work.
 */
import { readFileSync } from 'node:fs';
import { configError } from './schema.js';

/** The bytes of the file `file` named by the key `key` (e.g. `targets.vault.privateKey`). */
export function readConfiguredFile(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw configError(key, `names a file that cannot be read (${reason}): ${file}`);
  }
}

/** A secret kept in a file: its text without the trailing line break(s) an editor adds. */
export function readSecretFile(file: string, key: string): string {
  return readConfiguredFile(file, key).toString('utf8').replace(/[\r\n]+$/, '');
}
