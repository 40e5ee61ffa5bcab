// The npm package as a user gets it (docs/PACKAGING.md): the tarball `npm pack` makes (its prepack
// builds dist/), installed with `npm install -g` into a temporary prefix, started through the
// `mongo-backup` command npm links, and a real backup and restore made with that command.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import { countDocuments, peerOrSkip, seedDatabase } from '../setup/testbed.js';
import { BUILD_TIMEOUT_MS, databaseName, describe, makeWorkspace, releaseArtefacts, run, type ReleaseInfo } from './artefacts.js';

let release: ReleaseInfo;
let prefix: string;
let command: string;

beforeAll(async () => {
  release = await releaseArtefacts();
  prefix = await mkdtemp(join(tmpdir(), 'mongo-backup-npm-prefix-'));
  // Dependencies come from the npm registry (through the local cache when it has them), as for a user.
  const install = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', release.artefacts.npm.file], {
    cwd: prefix,
    env: process.env,
  });
  expect(install.code, describe(install)).toBe(0);
  command = join(prefix, 'bin/mongo-backup');
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  if (prefix) await rm(prefix, { recursive: true, force: true });
});

/** The PATH a user of the npm install has: this Node 24 first, the mongo tools, the system. */
function userPath(): string {
  return [dirname(process.execPath), join(prefix, 'bin'), '/usr/bin', '/bin'].join(':');
}

suite('npm package', () => {
  it('holds the built CLI and what it ships, and neither sources nor source maps', () => {
    const files = execFileSync('tar', ['-tzf', release.artefacts.npm.file], { encoding: 'utf8' }).trim().split('\n');
    expect(files).toEqual(expect.arrayContaining(['package/bin/mongo-backup', 'package/dist/cli.js', 'package/LICENSE', 'package/backuprc.example.yaml', 'package/completions/_mongo-backup', 'package/docs/REFERENCE.md']));
    expect(files.filter((file) => file.endsWith('.map') || file.startsWith('package/src/') || file.startsWith('package/test/'))).toEqual([]);
  });

  it('installs a mongo-backup command that says it is the npm build, and prints its help', async () => {
    const version = await run(command, ['--version'], { cwd: prefix, env: { PATH: userPath() } });
    expect(version.stdout.trim(), describe(version)).toBe(`${release.version} (npm)`);
    const help = await run(command, ['--help'], { cwd: prefix, env: { PATH: userPath() } });
    expect(help.code, describe(help)).toBe(0);
    expect(help.stdout).toMatch(/Usage: mongo-backup \[options\] \[command\]/);
    expect(help.stdout).toMatch(/^\s+restore \[options\] \[id\]/m);
  });

  it('backs up and restores a database with the installed command', async (ctx) => {
    const mongo = peerOrSkip('mongo', ctx);
    const ws = await makeWorkspace('npm-roundtrip', mongo, (dir) => [{ name: 'disk', type: 'local', path: join(dir, 'backups') }], userPath());
    try {
      const db = databaseName('npmrt');
      const seeded = await seedDatabase(mongo.uri, db, { orders: 300, customers: 40 });
      const created = await ws.run(command, ['--json', 'create']);
      expect(created.code, describe(created)).toBe(0);
      const target = databaseName('npmback');
      const restored = await ws.run(command, ['--json', 'restore', 'latest', '--ns-include', `${db}.*`, '--ns-from', `${db}.$c$`, '--ns-to', `${target}.$c$`]);
      expect(restored.code, describe(restored)).toBe(0);
      const counts = await countDocuments(mongo.uri, target);
      expect(counts).toEqual(Object.fromEntries(Object.entries(seeded).map(([ns, n]) => [ns.replace(`${db}.`, `${target}.`), n])));
    } finally {
      await ws.cleanup();
    }
  });
});
