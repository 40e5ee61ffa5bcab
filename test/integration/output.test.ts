// What an operator sees: progress bars on a terminal, one plain line per phase under cron, nothing
// but errors with --quiet, no colour with NO_COLOR, and exactly one JSON document with --json.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peerOrSkip, seedDatabase, testbed } from '../setup/testbed.js';

const repo = resolve(__dirname, '../..');
const cli = join(repo, 'bin', 'mongo-backup');
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/;
const ANSI_ALL = /\u001b\[[0-9;?]*[A-Za-z]/g;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mb-output-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function env(): NodeJS.ProcessEnv {
  const mongo = testbed().mongo;
  return {
    ...process.env,
    MONGODB_URI: `${mongo.uri.replace(/\/$/, '')}/`,
    BACKUP_STORAGE_PATH: join(dir, 'backups'),
    BACKUP_STATE_DIR: join(dir, 'state'),
    BACKUP_ENCRYPTION_KEY: 'c'.repeat(64),
    PATH: `${resolve(mongo.mongodump, '..')}:${process.env.PATH}`,
    NO_COLOR: '',
    FORCE_COLOR: '',
  };
}

function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: dir, env: { ...env(), ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

const hasScript = spawnSync('script', ['--version']).status === 0;

describe('output for people and scripts', () => {
  beforeAll(async () => {
    if (testbed().missing.mongo === undefined) await seedDatabase(testbed().mongo.uri, 'outputdemo', { items: 3000 });
  });

  it('off a terminal (cron): one plain line per phase with sizes and durations, no bars, no colour', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const r = await run(['create', '--db', 'outputdemo']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/dumping .* with mongodump/);
    expect(r.stderr).toMatch(/dump: [\d.]+ (B|KB|MB) in [\d.]+(ms|s) \([\d.]+ (B|KB|MB)\/s\)/);
    expect(r.stderr).not.toMatch(/ETA/);
    expect(r.stdout + r.stderr).not.toMatch(ANSI);
    expect(r.stdout).toMatch(/✔ backup backup-\S+ completed/);
  });

  it('--quiet prints nothing on success, and still prints errors', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const ok = await run(['-q', 'create', '--db', 'outputdemo']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('');
    expect(ok.stderr).toBe('');
    const bad = await run(['-q', 'show', 'backup-2000-01-01-000000-abcdef']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/error: backup backup-2000-01-01-000000-abcdef was not found/);
  });

  it('--json prints exactly one JSON document on stdout, for success and for failure', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const ok = await run(['--json', 'list']);
    const doc = JSON.parse(ok.stdout) as { success: boolean; count: number; backups: Array<{ id: string; targets: string[] }> };
    expect(doc.success).toBe(true);
    expect(doc.count).toBe(doc.backups.length);
    expect(doc.backups[0]!.targets).toEqual(['local']);
    const bad = await run(['--json', 'list', '--limit', 'zero']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({ success: false, error: { code: 'USAGE' } });
  });

  it('restore --drop into the source itself needs --yes off a terminal, and works with it', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const refused = await run(['restore', 'latest', '--drop']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/replaces its live collections/);
    expect(refused.stderr).toMatch(/--yes/);
    const confirmed = await run(['--json', 'restore', 'latest', '--drop', '--yes']);
    expect(confirmed.code, confirmed.stderr).toBe(0);
    const restored = JSON.parse(confirmed.stdout).result.namespaces as Array<{ destination: string; documents: number; restored: number }>;
    expect(restored.find((n) => n.destination === 'outputdemo.items')).toMatchObject({ documents: 3000, restored: 3000 });
  });

  it.runIf(hasScript)('on a terminal: progress with bytes and rate (and percentage/ETA when the size is known); colour unless NO_COLOR', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const command = `${process.execPath} ${cli} create --db outputdemo`;
    const tty = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: dir, env: { ...env(), TERM: 'xterm', COLUMNS: '120' }, encoding: 'utf8' });
    expect(tty.status, tty.stdout).toBe(0);
    // The dump's size is unknown until it ends: bytes and rate, no made-up percentage or ETA.
    expect(tty.stdout).toMatch(/dump\s+[\d.]+ (B|KB|MB) \| [\d.]+ (B|KB|MB)\/s/);
    expect(tty.stdout).toMatch(ANSI);
    // Verifying a stored copy has a known size: a bar with percentage and ETA.
    const verify = spawnSync('script', ['-qec', `${process.execPath} ${cli} verify latest`, '/dev/null'], { cwd: dir, env: { ...env(), TERM: 'xterm' }, encoding: 'utf8' });
    expect(verify.status, verify.stdout).toBe(0);
    expect(verify.stdout).toMatch(/\d+% \| .*ETA/);
    const plain = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: dir, env: { ...env(), TERM: 'xterm', NO_COLOR: '1' }, encoding: 'utf8' });
    expect(plain.status).toBe(0);
    // Bars still move the cursor, but no colour (SGR) sequences appear.
    expect(plain.stdout).not.toMatch(/\u001b\[3\d(;\d+)?m/);
  });
});

describe('progress per target', () => {
  it.runIf(hasScript)('on a terminal, each target has its own line while dumping and its own bar while verifying', async (ctx) => {
    peerOrSkip('mongo', ctx);
    const mongo = testbed().mongo;
    const config = join(dir, 'two-targets.yaml');
    await writeFile(
      config,
      JSON.stringify({
        mongodb: { uri: mongo.uri, mongodump: mongo.mongodump, mongorestore: mongo.mongorestore },
        stateDir: join(dir, 'two-state'),
        encryption: { key: 'd'.repeat(64) },
        targets: [
          { name: 'near', type: 'local', path: join(dir, 'near') },
          { name: 'far', type: 'local', path: join(dir, 'far') },
        ],
      }),
    );
    const tty = spawnSync('script', ['-qec', `${process.execPath} ${cli} --config ${config} create --db outputdemo`, '/dev/null'], {
      cwd: dir,
      env: { ...env(), BACKUP_STORAGE_PATH: '', TERM: 'xterm', COLUMNS: '120', NO_COLOR: '1' },
      encoding: 'utf8',
    });
    expect(tty.status, tty.stdout).toBe(0);
    const screen = tty.stdout.replace(ANSI_ALL, '');
    for (const target of ['near', 'far']) {
      // While dumping: bytes and rate per target (no total yet); while verifying: a bar with a percentage.
      expect(screen).toMatch(new RegExp(`→ ${target}\\s+[\\d.]+ (B|KB|MB) \\| [\\d.]+ (B|KB|MB)/s`));
      expect(screen).toMatch(new RegExp(`→ ${target}\\s+\\S+ \\d+% \\|`));
    }
    expect(screen).toMatch(/verifying the copies on near, far/);
  });
});

/** A node binary older than 22.15 on this machine (Debian's, on the CI machine), if any. */
function oldNode(): string | undefined {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    const version = spawnSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    if (version.status !== 0) continue;
    const [major = 0, minor = 0] = version.stdout.trim().split('.').map(Number);
    if (major < 22 || (major === 22 && minor < 15)) return candidate;
  }
  return undefined;
}

describe('an unsupported Node.js', () => {
  const old = oldNode();
  it.runIf(old !== undefined)('is refused at once with exit 2, saying which version is needed, in text and in JSON', () => {
    const text = spawnSync(old!, [cli, 'create'], { cwd: dir, env: env(), encoding: 'utf8', timeout: 20_000 });
    expect(text.status).toBe(2);
    expect(text.stderr).toMatch(/needs Node\.js ≥ 22\.15 \(this is v\d+\./);
    const json = spawnSync(old!, [cli, 'list', '--json'], { cwd: dir, env: env(), encoding: 'utf8', timeout: 20_000 });
    expect(json.status).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ success: false, error: { code: 'NOT_SUPPORTED' } });
  });
});
