// The single executable for Linux x64 (docs/PACKAGING.md): the bundled CLI injected into a copy of
// the pinned Node 24 binary (node_modules/node), following Node's single-executable-applications
// steps: a preparation blob from `node --experimental-sea-config`, then postject with the fuse.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleCli } from './bundle.mjs';
import { repoRoot } from './paths.mjs';

// The fuse string Node's binary checks at start-up to know a blob was injected (Node docs).
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** The pinned Node 24 (the npm `node` package), resolved through node_modules/.bin's symlink. */
export function pinnedNode() {
  return realpathSync(join(repoRoot, 'node_modules/.bin/node'));
}

/** Builds the executable at `output` from a bundle made in `scratch`, baked with `flavour`. */
export async function buildExecutable(output, flavour, scratch) {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const bundle = join(scratch, 'mongo-backup.cjs');
  const warnings = await bundleCli(bundle, flavour);
  const blob = join(scratch, 'sea-prep.blob');
  const seaConfig = join(scratch, 'sea-config.json');
  writeFileSync(
    seaConfig,
    `${JSON.stringify(
      {
        main: bundle,
        output: blob,
        disableExperimentalSEAWarning: true,
        // V8's code cache for the 19 MB bundle: start-up without compiling it again (docs/PACKAGING.md).
        useCodeCache: true,
      },
      null,
      2,
    )}\n`,
  );
  const node = pinnedNode();
  execFileSync(node, ['--experimental-sea-config', seaConfig], { stdio: 'pipe' });
  rmSync(output, { force: true });
  copyFileSync(node, output);
  chmodSync(output, 0o755);
  // The npm `node` binary carries 18 MB of debug symbols nobody running backups needs (and a
  // .comment section lintian flags).
  execFileSync('strip', ['--strip-all', '--remove-section=.comment', output]);
  // postject's LIEF prints "Can't find string offset for section name '.note…'" for this binary;
  // harmless, so its output is shown only when it fails (execFileSync's error carries it).
  execFileSync(node, [join(repoRoot, 'node_modules/postject/dist/cli.js'), output, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], {
    stdio: 'pipe',
  });
  return { output, warnings };
}
