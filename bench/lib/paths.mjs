import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = resolve(benchDir, '..');
/** Git-ignored: the cached seed archive and the results of each run. */
export const benchOut = join(benchDir, 'out');
