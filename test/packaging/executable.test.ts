// The single executable (docs/PACKAGING.md) on a host without Node.js: no `node` on PATH, only the
// mongo tools' folder and the system's programs. Every target type's SDK must be inside it: one
// backup fans out to a local folder, S3, GCS, Azure, SFTP and FTP, and each copy is restored.
import { readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import { countDocuments, peerOrSkip, seedDatabase, testbed } from '../setup/testbed.js';
import { targetConfig, uniquePrefix, type TargetKind } from '../integration/target-configs.js';
import { BUILD_TIMEOUT_MS, databaseName, describe, makeWorkspace, onPath, pathWithoutNode, releaseArtefacts, run, type ReleaseInfo } from './artefacts.js';

let release: ReleaseInfo;
let executable: string;
let noNode: { path: string; dir: string };

beforeAll(async () => {
  release = await releaseArtefacts();
  executable = release.artefacts.executable.file;
  noNode = await pathWithoutNode();
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  if (noNode) await rm(noNode.dir, { recursive: true, force: true });
});

/** One of each target type; FTPS is the same type as FTP and is covered by the integration tests. */
const KINDS: readonly TargetKind[] = ['local', 's3', 'gcs', 'azure', 'sftp', 'ftp'];

suite('single executable', () => {
  it('runs where no node is on PATH, and says it is the executable build', async () => {
    expect(onPath('node', noNode.path)).toBe(false);
    expect(onPath('mongodump', noNode.path)).toBe(true);
    const version = await run(executable, ['--version'], { cwd: noNode.dir, env: { PATH: noNode.path } });
    expect(version.stdout.trim(), describe(version)).toBe(`${release.version} (executable)`);
    const help = await run(executable, ['--help'], { cwd: noNode.dir, env: { PATH: noNode.path } });
    expect(help.code, describe(help)).toBe(0);
    expect(help.stdout).toMatch(/Usage: mongo-backup \[options\] \[command\]/);
    expect(help.stderr).toBe(''); // no experimental-feature warning from Node
  });

  it('backs up to every target type and restores from each', async (ctx) => {
    for (const kind of KINDS) if (kind !== 'local') peerOrSkip(kind === 'ftp' ? 'ftp' : kind, ctx);
    const mongo = peerOrSkip('mongo', ctx);
    const bed = testbed();
    const prefix = uniquePrefix('exe');
    const ws = await makeWorkspace(
      'exe-targets',
      mongo,
      (dir) => KINDS.map((kind) => targetConfig(kind, kind, bed, { prefix, localDir: join(dir, 'backups') })),
      noNode.path,
    );
    try {
      const db = databaseName('exert');
      const seeded = await seedDatabase(mongo.uri, db, { orders: 200, customers: 30 });
      const created = await ws.run(executable, ['--json', 'create']);
      expect(created.code, describe(created)).toBe(0);
      for (const kind of KINDS) {
        const into = databaseName(`exe${kind}`);
        const restored = await ws.run(executable, ['--json', 'restore', 'latest', '--from', kind, '--ns-include', `${db}.*`, '--ns-from', `${db}.$c$`, '--ns-to', `${into}.$c$`]);
        expect(restored.code, `restore --from ${kind}: ${describe(restored)}`).toBe(0);
        const expected = Object.fromEntries(Object.entries(seeded).map(([ns, n]) => [ns.replace(`${db}.`, `${into}.`), n]));
        expect(await countDocuments(mongo.uri, into), `restored from ${kind}`).toEqual(expected);
      }
    } finally {
      await ws.cleanup();
    }
  });

  it('is listed with the other artefacts in a SHA256SUMS that sha256sum -c accepts', async () => {
    const releases = dirname(executable);
    const sums = await readFile(join(releases, 'SHA256SUMS'), 'utf8');
    expect(sums.trim().split('\n').map((line) => line.split('  ')[1]).sort()).toEqual(
      Object.values(release.artefacts).map((artefact) => basename(artefact.file)).sort(),
    );
    const checked = await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: releases, env: { PATH: '/usr/bin:/bin' } });
    expect(checked.code, describe(checked)).toBe(0);
  });

  it('lists an empty local target', async () => {
    // list reads only the targets: no server is needed, so an address nothing listens on will do.
    const unused = { uri: 'mongodb://127.0.0.1:1', mongodump: 'mongodump', mongorestore: 'mongorestore', kind: 'mongod' as const };
    const ws = await makeWorkspace('exe-list', unused, (dir) => [{ name: 'disk', type: 'local', path: join(dir, 'backups') }], noNode.path);
    try {
      const listed = await ws.run(executable, ['--json', 'list']);
      expect(listed.code, describe(listed)).toBe(0);
      expect(JSON.parse(listed.stdout)).toMatchObject({ success: true, count: 0, backups: [] });
    } finally {
      await ws.cleanup();
    }
  });
});
