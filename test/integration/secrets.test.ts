// Secrets stay secret (docs/REFERENCE.md#secrets): the database password (in the connection string) and the
// encryption key never appear in any process's argv while the tools run, in what the CLI prints
// (normal, --verbose, --json, on success and on failure), in manifests, in the run journal or in
// the alert log. The server is a private FerretDB that checks passwords, so a backup that
// succeeds proves the password did reach mongodump — just not through its command line.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peerMissingReason, peerOrSkip, testbed } from '../setup/testbed.js';
import {
  allCommandLines,
  describeRun,
  fingerprintDatabase,
  makeWorkspace,
  newKey,
  snapshotDir,
  startAuthFerretDB,
  withMongo,
  type AuthMongo,
  type CliResult,
  type Workspace,
} from './helpers.js';

// Distinctive, so a hit cannot be a coincidence; random per run, so no other file holds it.
const PASSWORD = `S3cretPassw0rd-${randomBytes(6).toString('hex')}`;
const USER = 'backup';
const DB = 'secretdb';

let auth: AuthMongo | undefined;
let ws: Workspace;
let key: string;

beforeAll(async () => {
  if (peerMissingReason('mongo') !== undefined) return;
  auth = await startAuthFerretDB(USER, PASSWORD);
  key = newKey();
  const { mongodump, mongorestore } = testbed().mongo;
  ws = await makeWorkspace({
    mongo: { uri: auth.uri, mongodump, mongorestore, kind: 'ferretdb' },
    env: { BACKUP_ENCRYPTION_KEY: key },
  });
  // Enough documents that mongodump runs for a moment while its argv is watched.
  await withMongo(auth.uri, async (client) => {
    const docs = Array.from({ length: 4000 }, (_, i) => ({ _id: i, text: `row ${i} ${'x'.repeat(400)}` }));
    const rows = client.db(DB).collection<{ _id: number; text: string }>('rows');
    for (let i = 0; i < docs.length; i += 1000) await rows.insertMany(docs.slice(i, i + 1000));
    await client.db(DB).collection<{ _id: number; note: string }>('small').insertOne({ _id: 1, note: 'hello' });
  });
});

afterAll(async () => {
  await ws?.cleanup();
  await auth?.stop();
});

/** Every spelling of a secret that would give it away. */
function secretSpellings(): Array<{ name: string; text: string }> {
  return [
    { name: 'database password', text: PASSWORD },
    { name: 'database password (URI-encoded)', text: encodeURIComponent(PASSWORD) },
    { name: 'encryption key (hex)', text: key },
    { name: 'encryption key (HEX)', text: key.toUpperCase() },
    { name: 'encryption key (base64)', text: Buffer.from(key, 'hex').toString('base64') },
  ];
}

function expectNoSecrets(where: string, text: string): void {
  for (const secret of secretSpellings()) {
    expect(text.includes(secret.text), `${secret.name} appears in ${where}:\n${text.slice(0, 3000)}`).toBe(false);
  }
}

function expectCleanOutput(what: string, result: CliResult): void {
  expectNoSecrets(`stdout of ${what}`, result.stdout);
  expectNoSecrets(`stderr of ${what}`, result.stderr);
}

interface Watched {
  result: CliResult;
  /** argv of every mongodump/mongorestore process seen while the CLI ran. */
  tools: string[][];
  /** argv of any process that held a secret. */
  leaks: string[][];
  /** Permission bits of the `--config=FILE` files the tools were given (seen while they ran). */
  configModes: number[];
}

/**
 * Runs the CLI while scanning every process's argv (/proc/PID/cmdline, what `ps` shows) as fast as
 * it can, until the CLI exits.
 */
async function runWatched(args: string[], env?: NodeJS.ProcessEnv): Promise<Watched> {
  let finished = false;
  const run = ws.run(args, env ? { env } : {}).finally(() => (finished = true));
  const tools = new Map<number, string[]>();
  const leaks: string[][] = [];
  const configModes: number[] = [];
  const secrets = secretSpellings();
  while (!finished) {
    for (const [pid, argv] of await allCommandLines()) {
      const joined = argv.join(' ');
      if (/(^|\/)(mongodump|mongorestore)$/.test(argv[0] ?? '') && !tools.has(pid)) {
        tools.set(pid, argv);
        const configFile = argv.find((arg) => arg.startsWith('--config='))?.slice('--config='.length);
        const mode = configFile ? await stat(configFile).then((info) => info.mode & 0o777, () => undefined) : undefined;
        if (mode !== undefined) configModes.push(mode);
      }
      if (secrets.some((s) => joined.includes(s.text))) leaks.push(argv);
    }
  }
  return { result: await run, tools: [...tools.values()], leaks, configModes };
}

describe('secrets: the database password and the encryption key', () => {
  it('FerretDB here really checks the password (otherwise the tests below prove little)', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const wrong = auth!.uri.replace(encodeURIComponent(PASSWORD), 'not-the-password');
    await expect(withMongo(wrong, (client) => client.db(DB).collection('rows').countDocuments())).rejects.toThrow(/auth/i);
    const anonymous = `mongodb://${auth!.host}/`;
    await expect(withMongo(anonymous, (client) => client.db(DB).collection('rows').countDocuments())).rejects.toThrow(/auth/i);
  });

  it('never appear in the argv of mongodump and mongorestore, nor in anything the CLI prints', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const create = await runWatched(['create', '--db', DB, '--description', 'secrets test']);
    expect(create.result.code, describeRun(create.result)).toBe(0);
    // (`mongodump --version` runs first, briefly; the dump itself is the one with --archive.)
    const mongodump = create.tools.find((argv) => argv[0]!.endsWith('mongodump') && argv.includes('--archive'));
    expect(mongodump, 'mongodump --archive was seen running').toBeDefined();
    // The connection string went through a private file instead (readable by this user only).
    expect(mongodump).toEqual(expect.arrayContaining([expect.stringMatching(/^--config=/)]));
    // When the file was still there to look at (the tool may remove it as soon as it has been read).
    expect(create.configModes.every((mode) => (mode & 0o077) === 0), create.configModes.map((m) => m.toString(8)).join(',')).toBe(true);
    expect(create.leaks).toEqual([]);
    expectCleanOutput('create', create.result);

    const verbose = await runWatched(['--verbose', 'create', '--db', DB]);
    expect(verbose.result.code, describeRun(verbose.result)).toBe(0);
    expect(verbose.result.stderr).toMatch(/secretdb\.rows/); // --verbose shows mongodump's own lines
    expect(verbose.leaks).toEqual([]);
    expectCleanOutput('create --verbose', verbose.result);

    const json = await runWatched(['--json', 'create', '--db', DB]);
    expect(json.result.code, describeRun(json.result)).toBe(0);
    expect(json.result.json().backup.source.host).toBe(auth!.host);
    expectCleanOutput('create --json', json.result);

    const restore = await runWatched(['--verbose', 'restore', 'latest', '--ns-from', `${DB}.$c$`, '--ns-to', 'secretcopy.$c$']);
    expect(restore.result.code, describeRun(restore.result)).toBe(0);
    expect(restore.tools.some((argv) => argv[0]!.endsWith('mongorestore') && argv.includes('--archive')), 'mongorestore --archive was seen running').toBe(true);
    expect(restore.leaks).toEqual([]);
    expectCleanOutput('restore --verbose', restore.result);
    // The password reached mongorestore (the server refuses anonymous writes): the data is there.
    expect(await fingerprintDatabase(auth!.uri, 'secretcopy')).toEqual(await fingerprintDatabase(auth!.uri, DB));

    for (const args of [['--json', 'list'], ['--json', 'show', 'latest'], ['show', 'latest'], ['--verbose', 'verify', 'latest', '--deep'], ['--json', 'metrics'], ['--json', 'health']]) {
      const result = await ws.run(args);
      expect([0, 1, 2], describeRun(result)).toContain(result.code);
      expectCleanOutput(args.join(' '), result);
    }
  });

  it('never appear in what the CLI prints when a run fails, also with --verbose stack traces', async (ctx) => {
    peerOrSkip('mongo', ctx);
    // The right password, a database it is not valid for: authentication fails at once.
    const badAuthSource = `${auth!.uri}?authSource=nosuchdb`;
    for (const args of [['create', '--db', DB], ['--verbose', 'create', '--db', DB], ['--json', '--verbose', 'create', '--db', DB]]) {
      const failed = await runWatched(args, { MONGODB_URI: badAuthSource });
      expect(failed.result.code, describeRun(failed.result)).toBe(1);
      expect(`${failed.result.stdout}${failed.result.stderr}`).toMatch(/auth/i);
      expect(failed.leaks).toEqual([]);
      expectCleanOutput(`failing ${args.join(' ')}`, failed.result);
    }

    // mongodump itself fails to log in (after the tool's own connection check succeeded). Its error
    // message quotes the whole connection string, password included: the tool must redact it.
    const configText = await readFile(ws.configFile, 'utf8');
    const badArgsConfig = join(ws.dir, 'bad-dump-args.yaml');
    await writeFile(badArgsConfig, configText.replace(/mongodump: (.*)/, 'mongodump: $1\n  dumpArgs: ["--authenticationMechanism=PLAIN"]'));
    const toolFailure = await runWatched(['--config', badArgsConfig, '--verbose', 'create', '--db', DB]);
    expect(toolFailure.result.code, describeRun(toolFailure.result)).toBe(1);
    expect(toolFailure.result.stderr).toMatch(/mongodump.*(auth|PLAIN)/i);
    expect(toolFailure.leaks).toEqual([]);
    expectCleanOutput('create with a failing mongodump', toolFailure.result);

    // Refused restore (exit 2) with --verbose.
    const refused = await ws.run(['--verbose', 'restore', 'latest', '--ns-from', `${DB}.$c$`, '--ns-to', 'secretcopy.$c$']);
    expect(refused.code, describeRun(refused)).toBe(2);
    expectCleanOutput('refused restore', refused);
  });

  it('never appear in manifests, the run journal, the alert log or any file the tool leaves behind', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const backupFiles = await snapshotDir(ws.backupsDir);
    const manifests = Object.keys(backupFiles).filter((path) => path.endsWith('manifest.json'));
    expect(manifests.length).toBeGreaterThanOrEqual(3);
    for (const manifest of manifests) {
      const text = await readFile(join(ws.backupsDir, manifest), 'utf8');
      expect(JSON.parse(text).source.host).toBe(auth!.host);
      expectNoSecrets(manifest, text);
    }

    const stateFiles = await readdir(ws.stateDir);
    expect(stateFiles).toEqual(expect.arrayContaining(['runs.jsonl', 'alerts.json']));
    const journal = await readFile(join(ws.stateDir, 'runs.jsonl'), 'utf8');
    // The runs above: creates, a restore, verify, and the failures; the failures carry their messages.
    expect(journal.split('\n').filter((line) => line.includes('"FAILED"')).length).toBeGreaterThanOrEqual(3);
    const alerts = await readFile(join(ws.stateDir, 'alerts.json'), 'utf8');
    expect(alerts).toMatch(/create/);
    for (const name of stateFiles) {
      const full = join(ws.stateDir, name);
      const text = await readFile(full, 'utf8').catch(() => '');
      expectNoSecrets(`state file ${name}`, text);
    }

    // mongodump's 0600 connection file is gone once the runs are over.
    expect(await readdir(ws.tmpDir)).toEqual([]);
  });
});
