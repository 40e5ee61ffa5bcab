/**
 * The tool's version and how this copy was built (docs/PACKAGING.md).
 *
 * TOOL_VERSION is the bare version (package.json is the single source of truth) and is what
 * manifests record; TOOL_VERSION_LINE is what `--version` prints, with the build flavour:
 * `0.1.0 (npm)`, `0.1.0 (executable)`, `0.1.0 (deb)` or `0.1.0 (source)` for a checkout.
 */
import { readFileSync } from 'node:fs';

/** How a copy of the tool was built and installed. */
export type BuildFlavour = 'source' | 'npm' | 'executable' | 'deb';

interface BundledBuild {
  version: string;
  flavour: BuildFlavour;
}

// Replaced by scripts/release/bundle.mjs (esbuild `define`) in the single executable and the .deb,
// which carry no package.json; an undeclared global, so `typeof` is 'undefined' in the tsc build.
declare const MONGO_BACKUP_BUNDLED_BUILD: BundledBuild | undefined;

function bundledBuild(): BundledBuild | undefined {
  return typeof MONGO_BACKUP_BUNDLED_BUILD === 'undefined' ? undefined : MONGO_BACKUP_BUNDLED_BUILD;
}

function packageVersion(): string {
  const file = new URL('../package.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/** An npm install lives in …/node_modules/mongo-backup/; anything else runs from a checkout. */
function unbundledFlavour(): BuildFlavour {
  return import.meta.url.includes('/node_modules/mongo-backup/') ? 'npm' : 'source';
}

const build = bundledBuild();

export const TOOL_VERSION: string = build?.version ?? packageVersion();
export const BUILD_FLAVOUR: BuildFlavour = build?.flavour ?? unbundledFlavour();
export const TOOL_VERSION_LINE = `${TOOL_VERSION} (${BUILD_FLAVOUR})`;
