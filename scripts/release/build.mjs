#!/usr/bin/env node
// `npm run release`: builds every artefact into releases/ (ignored by git) with SHA256SUMS and
// build-info.json (sizes, build times, the input hash). docs/PACKAGING.md describes each step.
//   node scripts/release/build.mjs             build everything
//   node scripts/release/build.mjs --if-stale  build only when the inputs changed since the last
//                                              build (the packaging tests call this; concurrent
//                                              callers wait for one build instead of racing)
//   --fast                                     gzip instead of xz inside the .deb (test builds)
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, cpSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildDeb, DEBIAN_REVISION } from './deb.mjs';
import { buildExecutable, pinnedNode } from './executable.mjs';
import { buildNpmPackage, packageVersion } from './npm.mjs';
import { releaseDir, repoRoot, workDir } from './paths.mjs';

/** Everything an artefact is made from: a change to any of these means a new build. */
const INPUTS = [
  'src', 'bin', 'completions', 'docs', 'scripts/release', 'scripts/gen-man.mjs', 'package.json',
  'package-lock.json', 'backuprc.example.yaml', 'LICENSE', 'README.md', 'tsconfig.json', 'tsconfig.build.json',
];
const INFO_FILE = join(releaseDir, 'build-info.json');
const LOCK_DIR = join(releaseDir, '.building');

function filesUnder(path) {
  const full = join(repoRoot, path);
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(repoRoot.length + 1));
}

/** SHA-256 over every input file's path and content, and the pinned Node's version. */
export function inputKey() {
  const hash = createHash('sha256');
  hash.update(execFileSync(pinnedNode(), ['--version'], { encoding: 'utf8' }));
  for (const file of INPUTS.flatMap(filesUnder).sort()) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(join(repoRoot, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

async function timed(label, timings, work) {
  const started = Date.now();
  const value = await work();
  timings[label] = Date.now() - started;
  process.stderr.write(`release: ${label} ${timings[label]} ms\n`);
  return value;
}

function manPages(stageDir, manDir) {
  // gen-man.mjs resolves dist/ next to itself: run it from the staged copy, whose dist/ prepack built.
  mkdirSync(join(stageDir, 'scripts'), { recursive: true });
  cpSync(join(repoRoot, 'scripts/gen-man.mjs'), join(stageDir, 'scripts/gen-man.mjs'));
  rmSync(manDir, { recursive: true, force: true });
  execFileSync(pinnedNode(), [join(stageDir, 'scripts/gen-man.mjs'), manDir], { stdio: 'pipe' });
}

export async function buildRelease(options = {}) {
  const version = packageVersion();
  const key = inputKey();
  const timings = {};
  const started = Date.now();
  for (const entry of existsSync(releaseDir) ? readdirSync(releaseDir) : []) {
    if (entry !== basename(LOCK_DIR)) rmSync(join(releaseDir, entry), { recursive: true, force: true });
  }
  mkdirSync(workDir, { recursive: true });
  const stageDir = join(workDir, 'npm');
  const npm = await timed('npm', timings, () => buildNpmPackage(releaseDir, stageDir));
  const executable = join(releaseDir, `mongo-backup-${version}-linux-x64`);
  const exe = await timed('executable', timings, () => buildExecutable(executable, 'executable', join(workDir, 'executable')));
  const deb = await timed('deb', timings, async () => {
    const manDir = join(workDir, 'man');
    manPages(stageDir, manDir);
    const debExecutable = join(workDir, 'deb-executable', 'mongo-backup');
    await buildExecutable(debExecutable, 'deb', join(workDir, 'deb-executable'));
    const date = process.env.SOURCE_DATE_EPOCH ? new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000) : new Date();
    const output = join(releaseDir, `mongo-backup_${version}-${DEBIAN_REVISION}_amd64.deb`);
    const compression = options.fast ? 'gzip' : 'xz';
    return buildDeb({ output, executable: debExecutable, stageDir, manDir, version, date, compression, scratch: join(workDir, 'deb') });
  });
  const artefacts = { npm, executable: exe.output, deb };
  const sums = Object.values(artefacts).map((file) => `${sha256(file)}  ${basename(file)}\n`);
  writeFileSync(join(releaseDir, 'SHA256SUMS'), sums.join(''));
  timings.total = Date.now() - started;
  const info = {
    key,
    version,
    artefacts: Object.fromEntries(Object.entries(artefacts).map(([kind, file]) => [kind, { file, bytes: statSync(file).size }])),
    timingsMs: timings,
    debCompression: options.fast ? 'gzip' : 'xz',
    bundleWarnings: exe.warnings,
  };
  writeFileSync(INFO_FILE, `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

function currentInfo(key) {
  if (!existsSync(INFO_FILE)) return undefined;
  const info = JSON.parse(readFileSync(INFO_FILE, 'utf8'));
  const complete = Object.values(info.artefacts).every((artefact) => existsSync(artefact.file));
  return info.key === key && complete ? info : undefined;
}

function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** mkdir is atomic: the one caller that creates LOCK_DIR builds; a lock whose builder died is taken over. */
async function withBuildLock(work) {
  mkdirSync(releaseDir, { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(join(LOCK_DIR, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(join(LOCK_DIR, 'pid'), { encoding: 'utf8', flag: 'a+' }));
      if (pid > 0 && !processAlive(pid)) rmSync(LOCK_DIR, { recursive: true, force: true });
      else await new Promise((done) => setTimeout(done, 500)); // another build runs: wait for it
    }
  }
  try {
    return await work();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

/** The artefacts for the current inputs: built now, or those a previous build left. */
export async function freshRelease(options = {}) {
  return withBuildLock(async () => currentInfo(inputKey()) ?? (await buildRelease(options)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = { fast: process.argv.includes('--fast') };
  const info = process.argv.includes('--if-stale') ? await freshRelease(options) : await withBuildLock(() => buildRelease(options));
  process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
}
