// The npm package (docs/PACKAGING.md): `npm pack` run in a copy of the sources laid out like a fresh
// clone (no dist/), so the package's own `prepack` builds dist/ exactly as it would for a
// maintainer, and the worktree's dist/ (which running tests import) is never rewritten.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.mjs';

/** What a fresh clone holds that `npm pack` and its prepack need. */
const SOURCES = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'bin', 'completions', 'docs', 'backuprc.example.yaml', 'LICENSE', 'README.md'];

/** Packs into `destination`; returns the tarball's path. */
export function buildNpmPackage(destination, scratch) {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  for (const entry of SOURCES) cpSync(join(repoRoot, entry), join(scratch, entry), { recursive: true });
  // prepack's tsc comes from the dev dependencies; npm pack reads node_modules, never writes it.
  symlinkSync(join(repoRoot, 'node_modules'), join(scratch, 'node_modules'));
  mkdirSync(destination, { recursive: true });
  const output = execFileSync('npm', ['pack', '--json', '--pack-destination', destination, '--loglevel=error'], {
    cwd: scratch,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${join(repoRoot, 'node_modules/.bin')}:${process.env.PATH ?? ''}` },
  });
  const [{ filename }] = JSON.parse(output.slice(output.indexOf('[')));
  return join(destination, filename);
}

export function packageVersion() {
  return JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version;
}
