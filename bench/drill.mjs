#!/usr/bin/env node
// The restore-drill benchmark (on demand; never part of npm test). The drill: docs/REFERENCE.md#drill.
//
//   node bench/drill.mjs [--copies 1] [--parallel-collections N] [--insertion-workers N]
//
// Starts a private FerretDB (the test bed's binary), fills it with --copies copies of the bench's
// seed data (a real mongodump of shop-like documents: bench/lib/seed.mjs, restored under the
// databases shop0, shop1, ...), takes a backup (zstd + encryption, one local target) and runs
// `mongo-backup drill latest --prefix drill_`, printing the archive size and each phase the drill
// recorded. 1 GB of archive is roughly --copies 1024/<seed MB>; the seed size is printed first.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from './lib/paths.mjs';
import { ensureSeedArchive, startFerretDB } from './lib/seed.mjs';

const { values: args } = parseArgs({
  options: {
    copies: { type: 'string', default: '1' },
    'parallel-collections': { type: 'string' },
    'insertion-workers': { type: 'string' },
  },
});
const COPIES = Number(args.copies);
const log = (...parts) => console.error(...parts);
const node = process.execPath;
const cli = join(repoRoot, 'bin/mongo-backup');
const bin = join(repoRoot, '.peers/bin');

function run(command, argv, options = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    child.once('error', reject);
    child.once('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code === 0) resolve({ stdout, seconds });
      else reject(new Error(`${command} ${argv.join(' ')} exited with ${code}: ${stderr}`));
    });
  });
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;

async function main() {
  const seed = await ensureSeedArchive(log);
  log(`seed archive: ${mb(statSync(seed).size)}; ${COPIES} cop${COPIES === 1 ? 'y' : 'ies'}; ${cpus().length} cores, load ${loadavg()[0].toFixed(1)}`);
  const work = await mkdtemp(join(tmpdir(), 'mongo-backup-bench-drill-'));
  const server = await startFerretDB(join(work, 'ferretdb'));
  try {
    for (let i = 0; i < COPIES; i++) {
      const filled = await run(join(bin, 'mongorestore'), [`--uri=${server.uri}`, `--archive=${seed}`, '--nsFrom=shop.$c$', `--nsTo=shop${i}.$c$`, '--quiet', '--noIndexRestore']);
      log(`filled shop${i} in ${filled.seconds.toFixed(1)} s`);
    }
    const configFile = join(work, 'backuprc.yaml');
    await writeFile(
      configFile,
      JSON.stringify({
        mongodb: { uri: server.uri, mongodump: join(bin, 'mongodump'), mongorestore: join(bin, 'mongorestore'), restoreArgs: ['--noIndexRestore'] },
        encryption: { key: randomBytes(32).toString('hex') },
        stateDir: join(work, 'state'),
        targets: [{ name: 'local', type: 'local', path: join(work, 'backups') }],
      }),
    );
    const env = { ...process.env, NO_COLOR: '1' };
    const created = await run(node, [cli, '--config', configFile, '--json', 'create'], { env });
    const backup = JSON.parse(created.stdout).backup;
    log(`create: ${mb(backup.size)} archive, ${mb(backup.storedSize)} stored, ${created.seconds.toFixed(1)} s`);
    const knobs = [
      ...(args['parallel-collections'] ? ['--parallel-collections', args['parallel-collections']] : []),
      ...(args['insertion-workers'] ? ['--insertion-workers', args['insertion-workers']] : []),
    ];
    const drilled = await run(node, [cli, '--config', configFile, '--json', 'drill', 'latest', '--prefix', 'drill_', ...knobs], { env });
    const record = JSON.parse(drilled.stdout).drill;
    const p = record.phases;
    console.log(
      JSON.stringify(
        {
          archiveBytes: record.bytes,
          storedBytes: backup.storedSize,
          documents: record.namespaces.reduce((n, ns) => n + ns.restored, 0),
          parallelism: record.parallelism,
          phases: p,
          durationMs: record.duration,
          wallSeconds: drilled.seconds,
          archiveMBps: record.bytes / 1e6 / (record.duration / 1000),
          load: loadavg()[0],
        },
        null,
        2,
      ),
    );
    log(
      `drill: ${mb(record.bytes)} in ${s(record.duration)} (${(record.bytes / 1e6 / (record.duration / 1000)).toFixed(1)} MB/s); ` +
        `check ${s(p.checkMs)}, verify ${s(p.verifyMs)}, restore ${s(p.restoreMs)}${p.indexesMs !== undefined ? ` (indexes ${s(p.indexesMs)})` : ''}, count ${s(p.countMs)}, drop ${s(p.dropMs)}; ` +
        `mongorestore ${record.parallelism.collections} collections × ${record.parallelism.insertionWorkers} workers`,
    );
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
