// Keyless backup hosts (public-key recipients): a host with only public keys can create, list,
// show, quick-verify and prune, but cannot read a byte back; an identity elsewhere restores.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { peerOrSkip, seedDatabase, testbed } from '../setup/testbed.js';

const cli = resolve(__dirname, '../..', 'bin', 'mongo-backup');
let dir: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const mongo = testbed().mongo;
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: dir,
      env: {
        ...process.env,
        MONGODB_URI: mongo.uri,
        BACKUP_STORAGE_PATH: join(dir, 'backups'),
        BACKUP_STATE_DIR: join(dir, 'state'),
        BACKUP_ENCRYPTION_KEY: '',
        PATH: `${resolve(mongo.mongodump, '..')}:${process.env.PATH}`,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

async function configFile(name: string, encryption: string): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, `encryption:\n${encryption}`);
  return file;
}

async function count(db: string, coll: string): Promise<number> {
  const client = new MongoClient(testbed().mongo.uri);
  await client.connect();
  try {
    return await client.db(db).collection(coll).countDocuments();
  } finally {
    await client.close();
  }
}

async function allFilesText(root: string): Promise<string> {
  let text = '';
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) text += (await readFile(join(entry.parentPath, entry.name))).toString('latin1');
  }
  return text;
}

describe('keyless backup hosts (public-key recipients)', () => {
  const identities: string[] = [];
  const recipients: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mb-keyless-'));
    if (testbed().missing.mongo === undefined) await seedDatabase(testbed().mongo.uri, 'keyless', { docs: 400 });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('key generate --public writes a 0600 private key, prints the public key, and never overwrites', async () => {
    for (const name of ['ops', 'dr']) {
      const out = join(dir, `${name}-identity.txt`);
      const r = await run(['key', 'generate', '--public', '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const recipient = r.stdout.trim();
      expect(recipient).toMatch(/^mbpub1\S+$/);
      expect(((await stat(out)).mode & 0o777).toString(8)).toBe('600');
      const text = await readFile(out, 'utf8');
      expect(text).toMatch(/^mbsec1\S+$/m);
      identities.push(out);
      recipients.push(recipient);
      const pub = await run(['key', 'public', out]);
      expect(pub.code, pub.stderr).toBe(0);
      expect(pub.stdout.trim()).toBe(recipient);
      expect(r.stdout + r.stderr + pub.stdout).not.toMatch(/mbsec1/);
    }
    const again = await run(['key', 'generate', '--public', '--out', identities[0]!]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
  });

  it('a host with recipients only creates, lists and quick-verifies, but cannot decrypt (exit 2, names what is needed)', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const backupHost = await configFile('backup-host', `  recipients:\n    - ${recipients[0]}\n    - ${recipients[1]}\n`);
    const created = await run(['-c', backupHost, '--json', 'create', '--db', 'keyless']);
    expect(created.code, created.stderr).toBe(0);
    const backup = JSON.parse(created.stdout).backup as { encrypted: boolean; encryption: { mode: string; recipients: string[] } };
    expect(backup.encrypted).toBe(true);
    expect(backup.encryption.mode).toBe('recipients');
    expect(backup.encryption.recipients).toHaveLength(2);
    expect((await run(['-c', backupHost, 'list'])).code).toBe(0);
    expect((await run(['-c', backupHost, 'verify', 'latest'])).code).toBe(0);
    for (const args of [['restore', 'latest', '--ns-from', 'keyless.$c$', '--ns-to', 'keylessnope.$c$'], ['verify', 'latest', '--deep']]) {
      const r = await run(['-c', backupHost, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      // verify reports per copy on stdout; restore reports the error on stderr.
      expect(r.stdout + r.stderr).toMatch(/no identity \(private key\) is configured/);
      expect(r.stdout + r.stderr).toMatch(/rf1:/);
    }
    expect(await count('keylessnope', 'docs')).toBe(0);
    const cat = await run(['-c', backupHost, 'cat', 'latest']);
    expect(cat.code).toBe(2);
    expect(cat.stdout).toBe('');
  });

  it('each identity alone restores; a wrong identity fails with exit 3 before any output', async (ctx) => {
    peerOrSkip('mongo', ctx);
    for (const [i, identity] of identities.entries()) {
      const restoreHost = await configFile(`restore-${i}`, `  identityFile: ${identity}\n`);
      const r = await run(['-c', restoreHost, 'restore', 'latest', '--ns-from', 'keyless.$c$', '--ns-to', `keylessr${'ab'[i]}.$c$`]);
      expect(r.code, r.stderr).toBe(0);
      expect(await count(`keylessr${'ab'[i]}`, 'docs')).toBe(400);
    }
    const stranger = join(dir, 'stranger.txt');
    expect((await run(['key', 'generate', '--public', '--out', stranger])).code).toBe(0);
    const wrong = await configFile('wrong', `  identityFile: ${stranger}\n`);
    const r = await run(['-c', wrong, 'cat', 'latest']);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/none of the configured identities/);
  });

  it('symmetric and public-key backups live side by side in one target and restore with the right keys', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const key = 'd'.repeat(64);
    const sym = await run(['--json', 'create', '--db', 'keyless'], { BACKUP_ENCRYPTION_KEY: key });
    expect(sym.code, sym.stderr).toBe(0);
    const symId = JSON.parse(sym.stdout).backup.id as string;
    const pubHost = await configFile('pub', `  recipients: [${recipients[1]}]\n`);
    const pub = await run(['-c', pubHost, '--json', 'create', '--db', 'keyless']);
    const pubId = JSON.parse(pub.stdout).backup.id as string;
    const both = await configFile('both', `  identityFile: ${identities[1]}\n`);
    const a = await run(['-c', both, 'verify', symId, '--deep'], { BACKUP_ENCRYPTION_KEY: key });
    const b = await run(['-c', both, 'verify', pubId, '--deep'], { BACKUP_ENCRYPTION_KEY: key });
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
    // Without the symmetric key, the symmetric backup says which key it needs.
    const c = await run(['-c', both, 'verify', symId, '--deep']);
    expect(c.code).toBe(2);
    expect(c.stdout + c.stderr).toMatch(/kf1:/);
  });

  it('private keys never appear in manifests, the journal, alerts or output', async () => {
    const secrets = (await Promise.all(identities.map((f) => readFile(f, 'utf8')))).flatMap((t) => t.match(/mbsec1\S+/g) ?? []);
    expect(secrets.length).toBe(2);
    const stored = (await allFilesText(join(dir, 'backups'))) + (await allFilesText(join(dir, 'state')));
    for (const secret of secrets) expect(stored).not.toContain(secret);
  });
});
