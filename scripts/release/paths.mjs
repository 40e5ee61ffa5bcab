// Where the release build reads and writes (docs/PACKAGING.md).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Ignored by git: every artefact, SHA256SUMS and the intermediate files under work/. */
export const releaseDir = join(repoRoot, 'releases');
export const workDir = join(releaseDir, 'work');
