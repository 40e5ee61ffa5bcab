// Bundles the CLI (scripts/release/sea-entry.ts → src/cli.ts and everything it imports, the lazily
// imported cloud SDKs included) into ONE CommonJS file, which a Node single-executable needs
// (docs/PACKAGING.md). The version and build flavour are baked in, since no package.json ships.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.mjs';

/**
 * Writes `outfile`; returns esbuild's warnings as text (unresolved optional requires the
 * dependencies wrap in try/catch, such as ssh2's native crypto binding, are expected there).
 */
export async function bundleCli(outfile, flavour) {
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  const result = await build({
    entryPoints: [join(repoRoot, 'scripts/release/sea-entry.ts')],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node24',
    minify: false,
    legalComments: 'none',
    logLevel: 'silent',
    // esbuild leaves import.meta empty in CommonJS output: point import.meta.url at the bundle.
    define: {
      MONGO_BACKUP_BUNDLED_BUILD: JSON.stringify({ version, flavour }),
      'import.meta.url': '__mongoBackupImportMetaUrl',
    },
    banner: { js: "const __mongoBackupImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    // Native add-ons cannot live inside the executable; the libraries that try them fall back.
    external: ['*.node'],
  });
  return result.warnings.map((warning) => `${warning.location?.file ?? ''}: ${warning.text}`);
}
