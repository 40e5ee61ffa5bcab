#!/usr/bin/env node
// Measures what docs/PACKAGING.md reports for the artefacts in releases/ (run `npm run release`
// first): each artefact's size, and the median wall time of `--help` and of `list` (against an
// empty local target) for the npm install, the single executable and the .deb. Installing the
// .deb needs root (it is installed, measured and purged again); without root it is left out.
//   node scripts/release/measure.mjs [runs]     default 7 runs each
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { releaseDir } from './paths.mjs';
import { pinnedNode } from './executable.mjs';

const runs = Number(process.argv[2] ?? 7);
const info = JSON.parse(readFileSync(join(releaseDir, 'build-info.json'), 'utf8'));
const scratch = mkdtempSync(join(tmpdir(), 'mongo-backup-measure-'));
const config = join(scratch, 'backuprc.yaml');
writeFileSync(config, `mongodb: {uri: "mongodb://127.0.0.1:1"}\nstateDir: ${scratch}/state\ntargets:\n  - {name: disk, type: local, path: ${scratch}/backups}\n`);
const env = { PATH: `${dirname(pinnedNode())}:/usr/bin:/bin`, HOME: scratch, NO_COLOR: '1' };

function medianMs(command, args) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    const result = spawnSync(command, args, { env, cwd: scratch, stdio: 'ignore' });
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}`);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[Math.floor(times.length / 2)]);
}

function startUp(command) {
  return { helpMs: medianMs(command, ['--help']), listMs: medianMs(command, ['--config', config, 'list']) };
}

const results = {};
try {
  const prefix = join(scratch, 'npm-prefix');
  execFileSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', info.artefacts.npm.file], { env: { ...process.env, ...env } });
  const installedBytes = Number(execFileSync('du', ['-sb', prefix], { encoding: 'utf8' }).split('\t')[0]);
  results.npm = { tarballBytes: info.artefacts.npm.bytes, installedBytes, ...startUp(join(prefix, 'bin/mongo-backup')) };
  results.executable = { bytes: info.artefacts.executable.bytes, ...startUp(info.artefacts.executable.file) };
  if (process.getuid?.() === 0) {
    execFileSync('dpkg', ['-i', info.artefacts.deb.file], { stdio: 'ignore' });
    try {
      results.deb = { bytes: info.artefacts.deb.bytes, compression: info.debCompression, ...startUp('/usr/bin/mongo-backup') };
    } finally {
      execFileSync('dpkg', ['-P', 'mongo-backup'], { stdio: 'ignore' });
    }
  }
  results.buildMs = info.timingsMs;
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
