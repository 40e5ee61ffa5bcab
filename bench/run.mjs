#!/usr/bin/env node
// The performance benchmark (npm run bench; never part of npm test). See docs/PERFORMANCE.md.
//
//   node bench/run.mjs [--sizes 100M,1G,5G] [--runs 2] [--no-baseline] [--no-fanout]
//                      [--profile] [--json] [--keep]
//
// One synthetic mongodump archive per size, streamed by a fake mongodump from a real seed archive
// (bench/lib/seed.mjs, archive-source.mjs), goes through:
//   source     fake mongodump → pipe → /dev/null            (what the source can deliver)
//   limit      fake mongodump → node:zlib zstd (configured level) alone → discarded
//   zstd CLI   fake mongodump → zstd -LEVEL -T1 / -T2 → /dev/null  (Debian's zstd, for context)
//   baseline   fake mongodump → gzip -6 → openssl enc -aes-256-cbc -pbkdf2 → file
//   ours       mongo-backup create (zstd + encryption) → local target; restore --force into a
//              fake mongorestore; cat latest > /dev/null
// and prints MB/s of plain archive bytes, ratios against the limit and the baseline measured in
// the same run, stored sizes and peak RSS, as a table and as JSON (bench/out/results-*.json).
// Machines are noisy: every figure is the best of --runs runs, with the load average beside it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ArchiveSource } from './lib/archive-source.mjs';
import { benchDir, benchOut, repoRoot } from './lib/paths.mjs';
import { ensureSeedArchive, startFerretDB } from './lib/seed.mjs';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100M,1G,5G' },
    runs: { type: 'string', default: '2' },
    level: { type: 'string', default: '3' },
    baseline: { type: 'boolean', default: true },
    'no-baseline': { type: 'boolean', default: false },
    fanout: { type: 'boolean', default: true },
    'no-fanout': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const runs = Math.max(1, Number(args.runs));
const level = Number(args.level);
const withBaseline = args.baseline && !args['no-baseline'];
const withFanout = args.fanout && !args['no-fanout'];
/** --only create,restore: measure just these (for quick before/after checks; ratios then show NaN). */
const only = args.only ? new Set(args.only.split(',')) : undefined;
const node = process.execPath;
const cli = join(repoRoot, 'bin/mongo-backup');
const log = (line) => process.stderr.write(`${line}\n`);

function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)B?$/i.exec(text.trim());
  if (!m) throw new Error(`bad size "${text}" (use e.g. 100M, 1G)`);
  return Math.round(Number(m[1]) * { '': 1, K: 1e3, M: 1e6, G: 1e9 }[m[2].toUpperCase()]);
}
const sizes = args.sizes.split(',').map((label) => ({ label: label.trim(), bytes: parseSize(label) }));

const loadAverage = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

/** Runs a command; resolves with its wall time, exit code and output (stdout to `stdoutTo` if given). */
function runCommand(command, argv, { env = process.env, stdoutTo, input } = {}) {
  return new Promise((resolve, reject) => {
    const fd = stdoutTo ? openSync(stdoutTo, 'w') : undefined;
    const started = process.hrtime.bigint();
    const load = loadAverage();
    // GNU time reports the CPU seconds of the whole command, its children (the source) included.
    const timeFile = join(tmpdir(), `mongo-backup-bench-time-${process.pid}`);
    const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, command, ...argv], { env, stdio: [input ? 'pipe' : 'ignore', fd ?? 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-20000)));
    child.once('error', reject);
    child.once('close', (code) => {
      if (fd !== undefined) closeSync(fd);
      let cpuSeconds = NaN;
      try {
        const [user, system] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
        cpuSeconds = user + system;
        rmSync(timeFile, { force: true });
      } catch {
        // no timing (the command did not start)
      }
      resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, cpuSeconds, code, stdout, stderr, load });
    });
  });
}

async function mustRun(what, command, argv, options) {
  const result = await runCommand(command, argv, options);
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}): ${result.stderr.slice(-3000)}${result.stdout.slice(-2000)}`);
  return result;
}

/** Best (fastest) of `runs` runs of fn(run) → { seconds, load, ...what fn returned for that run }. */
async function best(fn) {
  let fastest;
  for (let run = 0; run < runs; run++) {
    const result = await fn(run);
    if (!fastest || result.seconds < fastest.seconds) fastest = result;
  }
  return fastest;
}

const shellQuote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const mbps = (bytes, seconds) => bytes / seconds / 1e6;

async function main() {
  const seedPath = await ensureSeedArchive(log);
  const source = new ArchiveSource(seedPath);
  const work = await mkdtemp(join(tmpdir(), 'mongo-backup-bench-'));
  const server = await startFerretDB(join(work, 'ferretdb'));
  const results = { node: process.version, startedAt: new Date().toISOString(), level, runs, seedArchive: { bytes: source.seed.length, documents: source.seedDocuments }, sizes: [] };
  try {
    const bin = join(work, 'bin');
    await mkdir(bin);
    for (const tool of ['mongodump', 'mongorestore']) {
      // A clean NODE_OPTIONS: the RSS reporter and profiler are for the CLI under test only.
      await writeFile(join(bin, tool), `#!/bin/sh\nNODE_OPTIONS= exec ${shellQuote(node)} ${shellQuote(join(benchDir, `fake-${tool}.mjs`))} "$@"\n`, { mode: 0o755 });
    }
    const key = randomBytes(32).toString('hex');
    const targets = ['t1', 't2', 't3'].map((name) => ({ name, type: 'local', path: join(work, name) }));
    const configFile = join(work, 'backuprc.yaml');
    await writeFile(
      configFile,
      JSON.stringify({
        mongodb: { uri: server.uri, mongodump: join(bin, 'mongodump'), mongorestore: join(bin, 'mongorestore') },
        compression: { algorithm: 'zstd', level },
        encryption: { key },
        stateDir: join(work, 'state'),
        targets,
      }),
    );
    const profileDir = join(benchOut, 'profiles');
    if (args.profile) await mkdir(profileDir, { recursive: true });

    for (const size of sizes) {
      log(`\n== ${size.label} ==`);
      const env = { ...process.env, BENCH_ARCHIVE_BYTES: String(size.bytes), BENCH_SEED_ARCHIVE: seedPath, BENCH_PASS: key };
      const fake = shellQuote(join(bin, 'mongodump'));
      const row = { size: size.label };
      const plainBytes = sizeOfArchive(source, size.bytes);
      row.plainBytes = plainBytes;

      const measure = async (name, fn) => {
        if (only && !only.has(name)) {
          row[name] = { seconds: NaN, mbps: NaN, load: NaN };
          return undefined;
        }
        const result = await best(fn);
        row[name] = { ...result, mbps: mbps(plainBytes, result.seconds) };
        log(`${name.padEnd(18)} ${row[name].mbps.toFixed(0).padStart(6)} MB/s  ${result.seconds.toFixed(2)} s  cpu ${result.cpuSeconds.toFixed(2)} s  load ${result.load.toFixed(1)}${result.rssKiB ? `  rss ${(result.rssKiB / 1024).toFixed(0)} MiB` : ''}${result.storedBytes ? `  stored ${(result.storedBytes / 1e6).toFixed(1)} MB` : ''}`);
        return result;
      };

      await measure('source', () => mustRun('source', 'bash', ['-c', `${fake} | cat > /dev/null`], { env }));
      await measure('limit', () => mustRun('limit', 'bash', ['-c', `${fake} | ${shellQuote(node)} ${shellQuote(join(benchDir, 'lib/stage-limit.mjs'))} zstd-compress ${level}`], { env }));
      await measure('zstdCli1', () => mustRun('zstd -T1', 'bash', ['-c', `${fake} | zstd -q -${level} -T1 > /dev/null`], { env }));
      await measure('zstdCli2', () => mustRun('zstd -T2', 'bash', ['-c', `${fake} | zstd -q -${level} -T2 > /dev/null`], { env }));

      // The decompression limit, on a zstd stream of the same bytes (made untimed).
      const zstFile = join(work, 'limit.zst');
      if (!only || only.has('decompressLimit')) await mustRun('zstd file', 'bash', ['-c', `${fake} | zstd -q -${level} -T2 -o ${shellQuote(zstFile)} -f`], { env });
      await measure('decompressLimit', () => mustRun('decompress', 'bash', ['-c', `${shellQuote(node)} ${shellQuote(join(benchDir, 'lib/stage-limit.mjs'))} zstd-decompress < ${shellQuote(zstFile)}`]));
      await rm(zstFile, { force: true });

      if (withBaseline) {
        const out = join(work, 'baseline.gz.enc');
        await measure('baseline', async () => {
          const r = await mustRun('baseline', 'bash', ['-o', 'pipefail', '-c', `${fake} | gzip -6 | openssl enc -aes-256-cbc -pbkdf2 -pass env:BENCH_PASS -out ${shellQuote(out)}`], { env });
          return { ...r, storedBytes: (await stat(out)).size };
        });
        await measure('baselineRestore', () =>
          mustRun('baseline restore', 'bash', ['-o', 'pipefail', '-c', `openssl enc -d -aes-256-cbc -pbkdf2 -pass env:BENCH_PASS -in ${shellQuote(out)} | gunzip > /dev/null`], { env }),
        );
        await rm(out, { force: true });
      }

      const cliEnv = (label) => ({
        ...env,
        BENCH_RSS_FILE: join(work, 'rss'),
        NODE_OPTIONS: [`--import=${join(benchDir, 'lib/rss-reporter.mjs')}`, ...(args.profile ? [`--cpu-prof`, `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${label}-${size.label}-${Date.now()}.cpuprofile`] : [])].join(' '),
      });
      /** The CLI's own peak RSS and CPU seconds (all its threads, not its children). */
      const usage = () => {
        const { maxRssKiB, cpuSeconds } = JSON.parse(readFileSync(join(work, 'rss'), 'utf8'));
        return { rssKiB: maxRssKiB, ownCpuSeconds: cpuSeconds };
      };
      const cliArgs = ['--config', configFile, '--json', '--no-progress'];

      const create = async (targetNames, label) => {
        await clearTargets(targets);
        const r = await mustRun(`create (${label})`, node, [cli, ...cliArgs, 'create', ...targetNames.flatMap((t) => ['--target', t])], { env: cliEnv(label) });
        const backup = JSON.parse(r.stdout).backup;
        if (backup.size !== plainBytes) throw new Error(`create stored ${backup.size} plain bytes, expected ${plainBytes}`);
        return { ...r, stdout: undefined, ...usage(), storedBytes: backup.storedSize, id: backup.id };
      };
      await measure('create', () => create(['t1'], 'create'));
      await measure('restore', async () => {
        const r = await mustRun('restore', node, [cli, ...cliArgs, 'restore', 'latest', '--force'], { env: cliEnv('restore') });
        const warnings = JSON.parse(r.stdout).result?.warnings ?? [];
        return { ...r, stdout: undefined, ...usage(), countWarnings: warnings.length };
      });
      await measure('cat', async () => {
        const r = await mustRun('cat', node, [cli, '--config', configFile, 'cat', 'latest'], { env: cliEnv('cat'), stdoutTo: '/dev/null' });
        return { ...r, ...usage() };
      });
      if (withFanout) await measure('create3', () => create(['t1', 't2', 't3'], 'create3'));
      await clearTargets(targets);

      row.ratios = {
        createVsLimit: row.create.mbps / row.limit.mbps,
        createVsBaseline: withBaseline ? row.create.mbps / row.baseline.mbps : null,
        storedVsBaseline: withBaseline ? row.create.storedBytes / row.baseline.storedBytes : null,
        restoreVsDecompressLimit: row.restore.mbps / row.decompressLimit.mbps,
        catVsDecompressLimit: row.cat.mbps / row.decompressLimit.mbps,
        fanout3Vs1: withFanout ? row.create3.seconds / row.create.seconds : null,
        compressionRatio: plainBytes / row.create.storedBytes,
      };
      results.sizes.push(stripNoise(row));
    }
  } finally {
    await server.stop();
    if (!args.keep) await rm(work, { recursive: true, force: true });
  }
  results.finishedAt = new Date().toISOString();
  await mkdir(benchOut, { recursive: true });
  const file = join(benchOut, `results-${results.startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else process.stdout.write(`${table(results)}\nJSON: ${file}\n`);
}

/** The archive's exact length for a target size (the source stops at whole blocks). */
function sizeOfArchive(source, target) {
  let total = 0;
  for (const chunk of source.chunks(target)) total += chunk.length;
  return total;
}

async function clearTargets(targets) {
  for (const t of targets) {
    if (!existsSync(t.path)) continue;
    for (const entry of await readdir(t.path)) await rm(join(t.path, entry), { recursive: true, force: true });
  }
}

function stripNoise(row) {
  const out = {};
  for (const [k, v] of Object.entries(row)) {
    if (v && typeof v === 'object' && 'seconds' in v) {
      const { stdout, stderr, code, ...kept } = v;
      out[k] = kept;
    } else out[k] = v;
  }
  return out;
}

function table(results) {
  const f0 = (x) => (x == null || Number.isNaN(x) ? '–' : x.toFixed(0));
  const f2 = (x) => (x == null || Number.isNaN(x) ? '–' : x.toFixed(2));
  const mib = (m) => f0(m?.rssKiB / 1024);
  const cpuPerGB = (r, m) => f2(m?.cpuSeconds / (r.plainBytes / 1e9));
  const lines = [
    `Node ${results.node}, zstd level ${results.level}, best of ${results.runs} runs; MB/s of plain archive bytes (1 MB = 10^6 bytes); CPU = user+system seconds per GB of the whole command, source included`,
    '',
    '| size | source | limit: zstd alone | zstd CLI -T1 / -T2 | baseline gzip-6+openssl | **ours create** | create / limit | create / baseline | stored ours / baseline (MB) | stored ratio | 3 targets / 1 (time) | load avg |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results.sizes) {
    const q = r.ratios;
    lines.push(
      `| ${r.size} | ${f0(r.source.mbps)} | ${f0(r.limit.mbps)} | ${f0(r.zstdCli1.mbps)} / ${f0(r.zstdCli2.mbps)} | ${f0(r.baseline?.mbps)} | **${f0(r.create.mbps)}** | ${f2(q.createVsLimit)} | ${f2(q.createVsBaseline)} | ${f0(r.create.storedBytes / 1e6)} / ${r.baseline ? f0(r.baseline.storedBytes / 1e6) : '–'} | ${f2(q.storedVsBaseline)} | ${f2(q.fanout3Vs1)} | ${f2(r.create.load)} |`,
    );
  }
  lines.push('', '| size | decompress limit | **ours restore** | restore / limit | ours cat | cat / limit | baseline restore (openssl -d, gunzip) | peak RSS MiB: create / create×3 / restore / cat | CPU s/GB: limit / create / baseline / restore / cat |', '|---|---|---|---|---|---|---|---|---|');
  for (const r of results.sizes) {
    const q = r.ratios;
    lines.push(
      `| ${r.size} | ${f0(r.decompressLimit.mbps)} | **${f0(r.restore.mbps)}** | ${f2(q.restoreVsDecompressLimit)} | ${f0(r.cat.mbps)} | ${f2(q.catVsDecompressLimit)} | ${f0(r.baselineRestore?.mbps)} | ${mib(r.create)} / ${mib(r.create3)} / ${mib(r.restore)} / ${mib(r.cat)} | ${cpuPerGB(r, r.limit)} / ${cpuPerGB(r, r.create)} / ${cpuPerGB(r, r.baseline)} / ${cpuPerGB(r, r.restore)} / ${cpuPerGB(r, r.cat)} |`,
    );
  }
  return lines.join('\n');
}

main().catch((error) => {
  log(`bench failed: ${error.stack ?? error}`);
  process.exitCode = 1;
});
