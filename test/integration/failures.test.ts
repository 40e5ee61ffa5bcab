// Bad inputs, end to end through the built CLI: each one ends with a clear message and the
// documented exit code (docs/REFERENCE.md#exit-codes), and changes nothing — the destination database stays as it was
// and the backups folder keeps every byte.
import { randomBytes } from 'node:crypto';
import { readFile, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../setup/process.js';
import { peerMissingReason, peerOrSkip, seedDatabase, type MongoPeer } from '../setup/testbed.js';
import {
  baseConfig,
  describeRun,
  fingerprintDatabase,
  makeWorkspace,
  newKey,
  snapshotDir,
  startPrivateMongo,
  storedObjectPath,
  withMongo,
  type CliResult,
  type Workspace,
} from './helpers.js';

let server: Awaited<ReturnType<typeof startPrivateMongo>> | undefined;
let mongo: MongoPeer;
let ws: Workspace;
let key: string;
/** Backups made once in beforeAll: encrypted (zstd), and unencrypted per compression. */
const backups: { encrypted: string; plain: Record<'none' | 'gzip' | 'zstd', string> } = { encrypted: '', plain: { none: '', gzip: '', zstd: '' } };
const SOURCE = 'failsrc';

beforeAll(async () => {
  if (peerMissingReason('mongo') !== undefined) return;
  server = await startPrivateMongo();
  mongo = server.handle.details;
  key = newKey();
  ws = await makeWorkspace({ mongo, env: { BACKUP_ENCRYPTION_KEY: key } });
  // About 2.5 MB of archive, so an encrypted object has several 1 MiB chunks.
  await seedDatabase(mongo.uri, SOURCE, {
    people: Array.from({ length: 2500 }, (_, i) => ({ _id: i, name: `person ${i}`, bio: `${'lorem ipsum dolor sit amet '.repeat(36)}${i}` })),
    places: 40,
  });
  const create = async (args: string[]): Promise<string> => {
    const result = await ws.run(['--json', 'create', '--db', SOURCE, ...args]);
    if (result.code !== 0) throw new Error(`create ${args.join(' ')} failed: ${describeRun(result)}`);
    return result.json().backup.id as string;
  };
  backups.encrypted = await create(['--compression', 'zstd']);
  for (const compression of ['none', 'gzip', 'zstd'] as const) backups.plain[compression] = await create(['--compression', compression, '--no-encrypt']);
});

afterAll(async () => {
  await ws?.cleanup();
  await server?.stop();
});

/** A failure as a user sees it with --json: one document on stdout, the documented shape and exit code. */
function expectJsonFailure(result: CliResult, exitCode: number, message: RegExp): { code: string; message: string; hint?: string } {
  expect(result.code, describeRun(result)).toBe(exitCode);
  const body = result.json();
  expect(body).toMatchObject({ success: false, error: { code: expect.any(String), message: expect.any(String) } });
  expect(body.error.message).toMatch(message);
  expect(result.stderr).not.toMatch(/^\s+at /m); // no stack trace without --verbose
  return body.error;
}

/** A failure as a user sees it on a terminal: `error: ...` on stderr (verify: its report, `✘ ...`). */
function expectHumanFailure(result: CliResult, exitCode: number, message: RegExp): void {
  expect(result.code, describeRun(result)).toBe(exitCode);
  const shown = `${result.stdout}\n${result.stderr}`;
  expect(shown).toMatch(/error: |✘/);
  expect(shown).toMatch(message);
  expect(shown).not.toMatch(/^\s+at /m);
}

async function destinationIsEmpty(dbName: string): Promise<void> {
  const prints = await fingerprintDatabase(mongo.uri, dbName);
  const documents = Object.values(prints).reduce((sum, p) => sum + p.count, 0);
  expect(documents, `documents in ${dbName}: ${JSON.stringify(prints)}`).toBe(0);
}

/** Runs `fn` with the stored object of `id` damaged by `damage`, then puts the original bytes back. */
async function withDamagedObject(id: string, damage: (path: string) => Promise<void>, fn: () => Promise<void>): Promise<void> {
  const path = await storedObjectPath(ws.backupsDir, id);
  const original = await readFile(path);
  await damage(path);
  try {
    await fn();
  } finally {
    await writeFile(path, original);
  }
}

async function flipMiddleByte(path: string): Promise<void> {
  const bytes = await readFile(path);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = bytes[middle]! ^ 0x01;
  await writeFile(path, bytes);
}

const restoreArgs = (id: string, to: string): string[] => ['restore', id, '--ns-from', `${SOURCE}.$c$`, '--ns-to', `${to}.$c$`];

describe('integrity failures: exit 3, nothing reaches the destination, the backup is left as it is', () => {
  it('a wrong key is reported with both key fingerprints before mongorestore receives anything', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const wrongKey = { BACKUP_ENCRYPTION_KEY: newKey() };
    const expectedFingerprint: string = (await ws.run(['--json', 'show', backups.encrypted])).json().backup.encryption.keyFingerprint;
    const before = await snapshotDir(ws.backupsDir);

    const restore = await ws.run(['--json', ...restoreArgs(backups.encrypted, 'wrongkey')], { env: wrongKey });
    const error = expectJsonFailure(restore, 3, /key/i);
    expect(error.message).toContain(expectedFingerprint);
    // The configured key's fingerprint is named too: a second, different fingerprint of the same form.
    const fingerprintShape = new RegExp(expectedFingerprint.replace(/[0-9a-f]{6,}$/i, '[0-9a-f]{6,}'), 'gi');
    const named = new Set(error.message.match(fingerprintShape));
    expect(named.size, error.message).toBe(2);
    await destinationIsEmpty('wrongkey');

    expectHumanFailure(await ws.run(['verify', backups.encrypted, '--deep'], { env: wrongKey }), 3, new RegExp(expectedFingerprint));
    const cat = await ws.run(['cat', backups.encrypted], { env: wrongKey });
    expectHumanFailure(cat, 3, new RegExp(expectedFingerprint));
    expect(cat.stdoutBytes.length).toBe(0);
    expect(await snapshotDir(ws.backupsDir)).toEqual(before);
  });

  it('one flipped byte in the middle of an encrypted object fails restore, verify and verify --deep', async (ctx) => {
    peerOrSkip('mongo', ctx);
    await withDamagedObject(backups.encrypted, flipMiddleByte, async () => {
      const before = await snapshotDir(ws.backupsDir);
      expectJsonFailure(await ws.run(['--json', ...restoreArgs(backups.encrypted, 'flipenc')]), 3, /sha-256|checksum|authenticat|damaged/i);
      await destinationIsEmpty('flipenc');
      expectJsonFailure(await ws.run(['--json', 'verify', backups.encrypted]), 3, /sha-256|checksum/i);
      expectJsonFailure(await ws.run(['--json', 'verify', backups.encrypted, '--deep']), 3, /sha-256|checksum|authenticat|damaged/i);
      expect(await snapshotDir(ws.backupsDir)).toEqual(before);
    });
  });

  it.for(['none', 'gzip', 'zstd'] as const)(
    'one flipped byte in an unencrypted object (compression %s) fails restore, verify and verify --deep',
    async (compression, ctx) => {
      peerOrSkip('mongo', ctx);
      const id = backups.plain[compression];
      await withDamagedObject(id, flipMiddleByte, async () => {
        const before = await snapshotDir(ws.backupsDir);
        const to = `flip${compression}`;
        expectJsonFailure(await ws.run(['--json', ...restoreArgs(id, to)]), 3, /sha-256|checksum/i);
        await destinationIsEmpty(to);
        expectJsonFailure(await ws.run(['--json', 'verify', id]), 3, /sha-256|checksum/i);
        const deep = await ws.run(['--json', 'verify', id, '--deep']);
        expect(deep.code, describeRun(deep)).toBe(3);
        expect(deep.json().result).toMatchObject({ valid: false, copies: [{ backupId: id, valid: false }] });
        expect(deep.json().error.message).toMatch(/damaged|sha-256|checksum|crc|malformed/i);
        expect(await snapshotDir(ws.backupsDir)).toEqual(before);
      });
    },
  );

  it('a truncated object fails restore, verify and verify --deep', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const id = backups.encrypted;
    const half = async (path: string): Promise<void> => truncate(path, Math.floor((await readFile(path)).length / 2));
    await withDamagedObject(id, half, async () => {
      const before = await snapshotDir(ws.backupsDir);
      expectJsonFailure(await ws.run(['--json', ...restoreArgs(id, 'truncated')]), 3, /bytes|truncat|size/i);
      await destinationIsEmpty('truncated');
      expectJsonFailure(await ws.run(['--json', 'verify', id]), 3, /bytes|truncat|size/i);
      expectJsonFailure(await ws.run(['--json', 'verify', id, '--deep']), 3, /bytes|truncat|size/i);
      expect(await snapshotDir(ws.backupsDir)).toEqual(before);
    });
  });
});

describe('a backup damaged late in its object (restore reads it once when that can be undone)', () => {
  const BIG = 'latesrc';
  let bigId = '';

  /** Flips a byte at 90% of the object: several authenticated chunks come before the damage. */
  async function flipLateByte(path: string): Promise<void> {
    const bytes = await readFile(path);
    const at = Math.floor(bytes.length * 0.9);
    bytes[at] = bytes[at]! ^ 0x01;
    await writeFile(path, bytes);
  }

  beforeAll(async () => {
    if (peerMissingReason('mongo') !== undefined) return;
    // Random base64 barely compresses: ~6 MB of documents store as several 1 MiB chunks and two
    // zstd frames, so mongorestore is well into the data when the damaged chunk is reached.
    const random = (n: number): string => randomBytes(n).toString('base64');
    await seedDatabase(mongo.uri, BIG, { blobs: Array.from({ length: 1500 }, (_, i) => ({ _id: i, data: random(3000) })) });
    const create = await ws.run(['--json', 'create', '--db', BIG]);
    if (create.code !== 0) throw new Error(`create failed: ${describeRun(create)}`);
    bigId = create.json().backup.id as string;
    expect(create.json().backup.storedSize).toBeGreaterThan(4 * 1024 * 1024);
  });

  it('into new namespaces: exit 3, and what was restored before the damage is dropped again', async (ctx) => {
    peerOrSkip('mongo', ctx);
    await withDamagedObject(bigId, flipLateByte, async () => {
      const restore = await ws.run(['--json', 'restore', bigId, '--ns-from', `${BIG}.$c$`, '--ns-to', 'latenew.$c$']);
      const error = expectJsonFailure(restore, 3, /authenticat/i);
      expect(error.message).toMatch(/dropped again/);
      await destinationIsEmpty('latenew');
    });
  });

  it('over existing data with --drop: exit 3 before anything is dropped, the data stays as it was', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const args = ['restore', bigId, '--ns-from', `${BIG}.$c$`, '--ns-to', 'lateold.$c$'];
    const first = await ws.run(['--json', ...args]);
    expect(first.code, describeRun(first)).toBe(0);
    await withMongo(mongo.uri, (client) => client.db('lateold').collection('blobs').insertOne({ _id: 'written after the restore' } as never));
    const kept = await fingerprintDatabase(mongo.uri, 'lateold');
    await withDamagedObject(bigId, flipLateByte, async () => {
      expectJsonFailure(await ws.run(['--json', ...args, '--drop']), 3, /sha-256|checksum/i);
      expect(await fingerprintDatabase(mongo.uri, 'lateold')).toEqual(kept);
    });
  });
});

describe('missing or unknown backups: exit 1 with a clear message', () => {
  it('a backup folder without its manifest is not listed as COMPLETED and cannot be restored', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const id = backups.plain.none;
    const manifest = join(ws.backupsDir, id, 'manifest.json');
    await rename(manifest, `${manifest}.away`);
    try {
      const list = await ws.run(['--json', 'list']);
      expect(list.code, describeRun(list)).toBe(0);
      const listed = list.json().backups as Array<{ id: string; status: string }>;
      expect(listed.filter((b) => b.id === id && b.status === 'COMPLETED')).toEqual([]);
      expect(listed.map((b) => b.id)).toContain(backups.encrypted); // the others still are

      const before = await snapshotDir(ws.backupsDir);
      const restore = await ws.run(['--json', ...restoreArgs(id, 'nomanifest')]);
      const error = expectJsonFailure(restore, 1, new RegExp(id));
      expect(error.message).toMatch(/incomplete|manifest/i);
      await destinationIsEmpty('nomanifest');
      expect(await snapshotDir(ws.backupsDir)).toEqual(before);
    } finally {
      await rename(`${manifest}.away`, manifest);
    }
  });

  it('an unknown backup id is reported by name', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const unknown = 'backup-2020-01-01-000000-abcdef';
    expectJsonFailure(await ws.run(['--json', 'restore', unknown]), 1, new RegExp(unknown));
    expectHumanFailure(await ws.run(['show', unknown]), 1, new RegExp(`${unknown}.*not found|not found.*${unknown}`));
    expectHumanFailure(await ws.run(['verify', unknown]), 1, new RegExp(unknown));
  });
});

describe('bad environment and configuration: caught before any work', () => {
  it('mongodump not found: exit 2, and the message says how to install it', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const configFile = join(ws.dir, 'no-mongodump.yaml');
    const config = baseConfig(ws, mongo);
    (config['mongodb'] as Record<string, unknown>)['mongodump'] = '/nonexistent/mongodump';
    await writeFile(configFile, JSON.stringify(config));
    const before = await snapshotDir(ws.backupsDir);
    const result = await ws.run(['--config', configFile, '--json', 'create']);
    const error = expectJsonFailure(result, 2, /mongodump/);
    expect(`${error.message} ${error.hint ?? ''}`).toMatch(/\/nonexistent\/mongodump/);
    expect(`${error.message} ${error.hint ?? ''}`).toMatch(/install/i);
    expect(`${error.message} ${error.hint ?? ''}`).toMatch(/Database Tools/);
    const human = await ws.run(['--config', configFile, 'create']);
    expectHumanFailure(human, 2, /install/i);
    expect(await snapshotDir(ws.backupsDir)).toEqual(before);
  });

  it('an unreachable server: exit 1 within seconds, naming the host', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const port = await freePort(); // free a moment ago: nothing listens there
    const before = await snapshotDir(ws.backupsDir);
    const result = await ws.run(['--json', 'create'], { env: { MONGODB_URI: `mongodb://127.0.0.1:${port}/` } });
    const error = expectJsonFailure(result, 1, new RegExp(`127\\.0\\.0\\.1:${port}`));
    expect(error.message).toMatch(/reach|connect|refused/i);
    // mongodump alone would wait 30 s; the tool checks first.
    expect(result.durationMs).toBeLessThan(20_000);
    expect(await snapshotDir(ws.backupsDir)).toEqual(before);
  });

  it('a malformed connection string: exit 2', async (ctx) => {
    peerOrSkip('mongo', ctx);
    expectJsonFailure(await ws.run(['--json', 'create'], { env: { MONGODB_URI: 'mongodb//127.0.0.1' } }), 2, /MONGODB_URI.*connection string/);
    expectJsonFailure(await ws.run(['--json', 'create'], { env: { MONGODB_URI: 'mongodb://127.0.0.1:99999/' } }), 2, /port/);
    expectJsonFailure(await ws.run(['--json', 'restore', 'latest', '--uri', 'http://127.0.0.1/']), 2, /--uri/);
  });

  it('a configuration file with a YAML syntax error: exit 2 naming the file', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const configFile = join(ws.dir, 'broken.yaml');
    await writeFile(configFile, 'mongodb:\n  uri: [mongodb://127.0.0.1\ntargets:\n  - name: local\n');
    expectJsonFailure(await ws.run(['--config', configFile, '--json', 'list']), 2, new RegExp(configFile.replace(/[.]/g, '\\.')));
    expectHumanFailure(await ws.run(['--config', configFile, 'create']), 2, /broken\.yaml/);
  });

  it('a configuration file with an unknown key: exit 2 naming the key', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const topLevel = join(ws.dir, 'typo-top.yaml');
    await writeFile(topLevel, JSON.stringify({ ...baseConfig(ws, mongo), compresion: { algorithm: 'gzip' } }));
    expectJsonFailure(await ws.run(['--config', topLevel, '--json', 'create']), 2, /compresion/);
    const nested = join(ws.dir, 'typo-nested.yaml');
    const config = baseConfig(ws, mongo);
    (config['mongodb'] as Record<string, unknown>)['mongodumpPath'] = '/usr/bin/mongodump';
    await writeFile(nested, JSON.stringify(config));
    expectJsonFailure(await ws.run(['--config', nested, '--json', 'create']), 2, /mongodb\.mongodumpPath/);
  });
});

describe('restore into namespaces that already hold documents', () => {
  it('refuses with exit 2 naming them and leaves them alone; --drop replaces them', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const id = backups.encrypted;
    const busy = 'busy';
    const first = await ws.run(['--json', ...restoreArgs(id, busy)]);
    expect(first.code, describeRun(first)).toBe(0);
    const source = await fingerprintDatabase(mongo.uri, SOURCE);
    expect(await fingerprintDatabase(mongo.uri, busy)).toEqual(source);

    // Someone writes to the copy; a second restore must not touch it.
    await withMongo(mongo.uri, (client) => client.db(busy).collection('people').insertOne({ _id: 'written after the restore' } as never));
    const changed = await fingerprintDatabase(mongo.uri, busy);
    const refused = await ws.run(['--json', ...restoreArgs(id, busy)]);
    const error = expectJsonFailure(refused, 2, /busy\.people/);
    expect(error.message).toMatch(/busy\.places/);
    expect(`${error.message} ${error.hint ?? ''}`).toMatch(/--drop/);
    expect(await fingerprintDatabase(mongo.uri, busy)).toEqual(changed);

    const dropped = await ws.run(['--json', ...restoreArgs(id, busy), '--drop']);
    expect(dropped.code, describeRun(dropped)).toBe(0);
    expect(await fingerprintDatabase(mongo.uri, busy)).toEqual(source);
  });
});

describe('document counts after a restore', () => {
  it('a collection mongorestore left out is caught: exit 3 naming it with both counts; a full restore passes', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const config = baseConfig(ws, mongo);
    // mongorestore told (by an operator's restoreArgs) to skip a collection: it exits 0, and only
    // the count check notices that the destination lacks what the backup holds.
    await ws.writeConfig({ ...config, mongodb: { ...(config['mongodb'] as object), restoreArgs: [`--nsExclude=${SOURCE}.places`] } });
    try {
      const skipped = await ws.run(['--json', ...restoreArgs(backups.encrypted, 'countskip')]);
      const error = expectJsonFailure(skipped, 3, /counts differ/);
      expect(error.message).toMatch(/countskip\.places: 0 documents, expected 40/);
      expect(error.message).not.toMatch(/countskip\.people/);
    } finally {
      await ws.writeConfig(config);
    }
    const full = await ws.run(['--json', ...restoreArgs(backups.encrypted, 'countfull')]);
    expect(full.code, describeRun(full)).toBe(0);
    expect(await fingerprintDatabase(mongo.uri, 'countfull')).toEqual(await fingerprintDatabase(mongo.uri, SOURCE));
  });
});

describe('a target whose configuration names an unset variable', () => {
  it('fails only that target: list and restore work from the others, create to it alone exits 2 naming the variable', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const config = baseConfig(ws, mongo);
    const offsite = { name: 'offsite', type: 's3', bucket: 'b', endpoint: 'http://127.0.0.1:9', accessKeyId: 'k', secretAccessKey: '${MB_TEST_UNSET_SECRET}' };
    await ws.writeConfig({ ...config, targets: [...(config['targets'] as object[]), offsite] });
    try {
      const list = await ws.run(['--json', 'list']);
      expect(list.code, describeRun(list)).toBe(0);
      expect((list.json().backups as Array<{ id: string }>).map((b) => b.id)).toContain(backups.encrypted);
      expect(list.stderr).toMatch(/offsite.*MB_TEST_UNSET_SECRET, which is not set/);

      const restore = await ws.run(['--json', ...restoreArgs(backups.encrypted, 'unsetvar')]);
      expect(restore.code, describeRun(restore)).toBe(0);
      expect(await fingerprintDatabase(mongo.uri, 'unsetvar')).toEqual(await fingerprintDatabase(mongo.uri, SOURCE));

      const before = await snapshotDir(ws.backupsDir);
      const create = await ws.run(['--json', 'create', '--db', SOURCE, '--target', 'offsite']);
      const error = expectJsonFailure(create, 2, /targets\.offsite\.secretAccessKey refers to environment variable MB_TEST_UNSET_SECRET/);
      expect(error.code).toBe('CONFIG_INVALID');
      expect(await snapshotDir(ws.backupsDir)).toEqual(before);
    } finally {
      await ws.writeConfig(config);
    }
  });
});
