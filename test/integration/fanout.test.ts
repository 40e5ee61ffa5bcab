// Fan-out end to end: one `create` stores one dump on a local directory, S3 and SFTP at once.
// What a user notices: mongodump ran once, every target holds an identical, verified copy that
// lists as COMPLETED there, `show` names all three, the run journal records one run with three
// outcomes. Also measures the CLI's peak RSS for the three-target fan-out.
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { peerOrSkip, seedDatabase, testbed } from '../setup/testbed.js';
import { letters, localTarget, makeWorkspace, mbPerSecond, s3Target, sftpTarget, storedDigest, uniquePrefix, type TargetConfig, type Workspace } from './target-configs.js';

const workspaces: Workspace[] = [];
afterAll(async () => {
  await Promise.all(workspaces.map((w) => w.cleanup()));
});

/** A mongodump that appends its arguments to `logFile` whenever it is asked for an archive. */
async function countingMongodump(dir: string, realMongodump: string): Promise<{ path: string; archiveRuns(): Promise<string[]> }> {
  const path = join(dir, 'mongodump-counting');
  const logFile = join(dir, 'mongodump-runs.log');
  await writeFile(
    path,
    `#!/bin/sh\nfor arg in "$@"; do [ "$arg" = "--archive" ] && echo "$*" >> '${logFile}'; done\nexec '${realMongodump}' "$@"\n`,
  );
  await chmod(path, 0o755);
  return { path, archiveRuns: async () => (await readFile(logFile, 'utf8').catch(() => '')).split('\n').filter(Boolean) };
}

describe('create: fan-out to several targets at once', () => {
  it('one mongodump feeds local, S3 and SFTP; each copy is identical, verified and COMPLETED there', async (ctx) => {
    const bed = testbed();
    const mongo = peerOrSkip('mongo', ctx);
    peerOrSkip('s3', ctx);
    peerOrSkip('sftp', ctx);

    // ~16 MB of barely compressible documents plus ordinary ones, so the stream spans many chunks.
    const db = `fanout${letters(6)}`;
    const blobs = Array.from({ length: 240 }, (_, i) => ({ _id: i, payload: randomBytes(48 * 1024).toString('base64') }));
    const counts = await seedDatabase(mongo.uri, db, { blobs, people: 2000 });

    const ws = await makeWorkspace('fanout', mongo);
    workspaces.push(ws);
    const dump = await countingMongodump(ws.dir, mongo.mongodump);
    const prefix = uniquePrefix('fanout');
    const targets: TargetConfig[] = [localTarget('local', join(ws.dir, 'local')), s3Target('s3', bed.s3, prefix), sftpTarget('sftp', bed.sftp, prefix)];
    await ws.writeConfig({ mongodb: { uri: mongo.uri, mongodump: dump.path, mongorestore: mongo.mongorestore }, targets });

    const created = await ws.run(['--json', 'create', '--db', db, '--description', 'fan-out'], { measureRss: true });
    expect(created.code, created.stderr).toBe(0);
    const backup = created.json.backup;
    expect(backup.targets).toEqual(['local', 's3', 'sftp']);
    expect(backup.namespaces).toEqual(counts);
    expect(created.json.copies).toEqual(
      ['local', 's3', 'sftp'].map((name) => expect.objectContaining({ name, ok: true, verified: true })),
    );

    // One dump, however many targets.
    expect(await dump.archiveRuns()).toHaveLength(1);

    // The journal holds one create run naming the three targets, all ok.
    const journal = (await readFile(join(ws.stateDir, 'runs.jsonl'), 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line));
    expect(journal).toEqual([
      expect.objectContaining({ command: 'create', status: 'SUCCESS', backupId: backup.id, targets: { local: { status: 'ok' }, s3: { status: 'ok' }, sftp: { status: 'ok' } } }),
    ]);

    // Each target lists the backup as COMPLETED on its own, with the same checksum...
    for (const target of targets) {
      const listed = await ws.run(['--json', 'list', '--target', target.name]);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.json.backups).toEqual([expect.objectContaining({ id: backup.id, status: 'COMPLETED', checksum: backup.checksum, targets: [target.name] })]);
    }
    // ...and really holds those bytes (read back with the storage's own client).
    for (const target of targets) {
      expect(await storedDigest(target, `${backup.id}/${backup.object}`, bed), target.name).toEqual({ checksum: backup.checksum, size: backup.storedSize });
    }

    const shown = await ws.run(['--json', 'show', 'latest']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.json.backup).toMatchObject({ id: backup.id, status: 'COMPLETED', targets: ['local', 's3', 'sftp'] });
    expect(Object.keys(shown.json.backup.locations).sort()).toEqual(['local', 's3', 'sftp']);

    console.info(
      `[measure] fan-out local+s3+sftp: ${(backup.size / 1e6).toFixed(1)} MB archive → ${(backup.storedSize / 1e6).toFixed(1)} MB stored ×3 ` +
        `in ${created.ms} ms (${mbPerSecond(backup.size, created.ms)} MB/s of archive, CLI wall time); peak RSS ${((created.maxRssBytes ?? 0) / 1e6).toFixed(0)} MB`,
    );
    expect(created.maxRssBytes).toBeGreaterThan(0);
  });
});
