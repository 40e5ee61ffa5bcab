#!/usr/bin/env node
// Regenerates the shipped completion scripts in completions/ from the built CLI's command tree.
// Run after a build (npm run build); a test fails when the shipped files are stale.
//   node scripts/gen-completions.mjs          write the files
//   node scripts/gen-completions.mjs --check  exit 1 if any file differs
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'dist/cli.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(2);
}
const { buildProgram } = await import(join(root, 'dist/cli.js'));
const { generateCompletion, SHELLS, COMPLETION_FILES } = await import(join(root, 'dist/completion/index.js'));

const check = process.argv.includes('--check');
const outDir = join(root, 'completions');
mkdirSync(outDir, { recursive: true });
let stale = 0;
for (const shell of SHELLS) {
  const file = join(outDir, COMPLETION_FILES[shell]);
  const script = generateCompletion(shell, buildProgram());
  const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (current === script) continue;
  if (check) {
    console.error(`${file} is out of date`);
    stale++;
  } else {
    writeFileSync(file, script);
    console.log(`wrote ${file}`);
  }
}
if (stale > 0) {
  console.error('run: npm run build && node scripts/gen-completions.mjs');
  process.exit(1);
}
