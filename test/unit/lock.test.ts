import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackupError } from '../../src/errors.js';
import { acquireLock, type LockInfo } from '../../src/state/lock.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const HOUR = 60 * 60 * 1000;

let dir: string;
let stateDir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mongo-backup-lock-'));
  stateDir = join(dir, 'state');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectLocked(promise: Promise<unknown>): Promise<BackupError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BackupError);
  const backupError = error as BackupError;
  expect(backupError.code).toBe('LOCKED');
  expect(backupError.exitCode).toBe(4);
  return backupError;
}

async function writeLock(info: LockInfo): Promise<string> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(stateDir, { recursive: true });
  const path = join(stateDir, 'lock');
  await writeFile(path, JSON.stringify(info));
  return path;
}

/** The PID of a process that has certainly exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid as number;
  await new Promise((done) => child.once('exit', done));
  return pid;
}

describe('acquireLock in one process', () => {
  it('creates stateDir (0700) and a lock file naming this process, and release removes it', async () => {
    const lock = await acquireLock(stateDir, 'create');
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    const onDisk = JSON.parse(await readFile(join(stateDir, 'lock'), 'utf8')) as LockInfo;
    expect(onDisk).toMatchObject({ pid: process.pid, host: hostname(), command: 'create' });
    expect(lock.info).toEqual({ pid: process.pid, host: hostname(), command: 'create', since: onDisk.since });
    await lock.release();
    await expect(stat(join(stateDir, 'lock'))).rejects.toMatchObject({ code: 'ENOENT' });
    await lock.release(); // a second release is harmless
    const again = await acquireLock(stateDir, 'prune');
    await again.release();
  });

  it('refuses a second acquire while held, naming the holder and how to remove a stale lock', async () => {
    const lock = await acquireLock(stateDir, 'create');
    const error = await expectLocked(acquireLock(stateDir, 'prune'));
    expect(error.message).toContain(`PID ${process.pid}`);
    expect(error.message).toContain(hostname());
    expect(error.message).toContain('"create"');
    expect(error.message).toContain(lock.info.since);
    expect(error.message).toMatch(/\(\d+(ms|s)( \d+ms)? ago\)/);
    expect(error.hint).toContain(join(stateDir, 'lock'));
    await lock.release();
  });

  it('release leaves the file alone when the lock is no longer ours', async () => {
    const lock = await acquireLock(stateDir, 'create');
    const path = join(stateDir, 'lock');
    const successor = JSON.stringify({ pid: 1, host: 'elsewhere', command: 'prune', since: new Date().toISOString() });
    await writeFile(path, successor);
    await lock.release();
    expect(await readFile(path, 'utf8')).toBe(successor);
  });
});

describe('stale locks', () => {
  it('takes over a lock whose process on this host has exited, and reports it', async () => {
    const pid = await deadPid();
    const previous = { pid, host: hostname(), command: 'create', since: new Date().toISOString() };
    await writeLock(previous);
    const takeovers: Array<{ previous: LockInfo; reason: string }> = [];
    const lock = await acquireLock(stateDir, 'prune', { onTakeover: (p, reason) => takeovers.push({ previous: p, reason }) });
    expect(takeovers).toEqual([{ previous, reason: `process ${pid} on this host no longer exists` }]);
    expect(JSON.parse(await readFile(join(stateDir, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid, command: 'prune' });
    await lock.release();
  });

  it('takes over a lock older than the limit, even from another host or a live process', async () => {
    const old = new Date(Date.now() - 25 * HOUR).toISOString();
    await writeLock({ pid: process.pid, host: 'db-backup-2', command: 'create', since: old });
    const reasons: string[] = [];
    const lock = await acquireLock(stateDir, 'create', { onTakeover: (_p, reason) => reasons.push(reason) });
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/^the lock is 1d 1h old, older than the 1d limit$/);
    await lock.release();
  });

  it('honours staleAfterMs', async () => {
    const since = new Date(Date.now() - 2 * HOUR).toISOString();
    await writeLock({ pid: 4242, host: 'db-backup-2', command: 'create', since });
    await expectLocked(acquireLock(stateDir, 'prune')); // default limit 24h
    const lock = await acquireLock(stateDir, 'prune', { staleAfterMs: HOUR });
    await lock.release();
  });

  it('does not take over a fresh lock from another host', async () => {
    const since = new Date(Date.now() - 5 * 60 * 1000).toISOString();
    await writeLock({ pid: 999_999, host: 'db-backup-2', command: 'delete', since });
    const error = await expectLocked(acquireLock(stateDir, 'create', { onTakeover: () => expect.fail('must not take over') }));
    expect(error.message).toContain('PID 999999 on host db-backup-2');
    expect(error.message).toContain('"delete"');
    expect(error.message).toContain('(5m ');
    expect(error.hint).toContain('db-backup-2');
  });

  it('treats an unreadable lock as a run starting up, and as stale after a minute', async () => {
    const path = await writeLock({ pid: 1, host: 'x', command: 'x', since: 'x' });
    await writeFile(path, '{"pid": 12'); // half-written
    await expectLocked(acquireLock(stateDir, 'create'));
    const twoMinutesAgo = new Date(Date.now() - 2 * 60 * 1000);
    await utimes(path, twoMinutesAgo, twoMinutesAgo);
    const reasons: string[] = [];
    const lock = await acquireLock(stateDir, 'create', { onTakeover: (_p, reason) => reasons.push(reason) });
    expect(reasons).toEqual(['the lock file is not valid JSON and is older than 1m']);
    await lock.release();
  });
});

// A child process that takes the lock when told "go" on stdin, reports the outcome as one JSON line,
// and holds the lock until its stdin closes. The TypeScript sources run directly on Node 24 (type
// stripping); the hook maps the sources' `.js` import specifiers to their `.ts` files.
const CHILD_SCRIPT = `
import { registerHooks } from 'node:module';
import { createInterface } from 'node:readline';
registerHooks({
  resolve(specifier, context, nextResolve) {
    try { return nextResolve(specifier, context); }
    catch (error) {
      if (specifier.startsWith('.') && specifier.endsWith('.js')) return nextResolve(specifier.slice(0, -3) + '.ts', context);
      throw error;
    }
  },
});
const [lockModule, stateDir] = process.argv.slice(2);
const { acquireLock } = await import(lockModule);
const lines = createInterface({ input: process.stdin });
let handle;
console.log('ready');
for await (const line of lines) {
  if (line !== 'go') continue;
  try {
    handle = await acquireLock(stateDir, 'create', { onTakeover: () => {} });
    console.log(JSON.stringify({ won: true }));
  } catch (error) {
    console.log(JSON.stringify({ won: false, code: error.code, message: error.message }));
  }
}
await handle?.release();
`;

interface Contender {
  child: ChildProcess;
  next(): Promise<string>;
}

async function startContender(scriptPath: string): Promise<Contender> {
  const lockModule = pathToFileURL(join(repoRoot, 'src/state/lock.ts')).href;
  const child = spawn(process.execPath, [scriptPath, lockModule, stateDir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const { value, done } = await lines.next();
    if (done) throw new Error('contender exited early');
    return value as string;
  };
  expect(await next()).toBe('ready');
  return { child, next };
}

async function race(scriptPath: string): Promise<Array<{ won: boolean; code?: string; message?: string }>> {
  const contenders = await Promise.all([startContender(scriptPath), startContender(scriptPath)]);
  for (const c of contenders) c.child.stdin?.write('go\n');
  const outcomes = await Promise.all(contenders.map(async (c) => JSON.parse(await c.next()) as { won: boolean; code?: string }));
  for (const c of contenders) c.child.stdin?.end();
  await Promise.all(contenders.map((c) => new Promise((done) => (c.child.exitCode !== null ? done(null) : c.child.once('exit', done)))));
  return outcomes;
}

describe('two processes racing for the lock', () => {
  it('exactly one wins a free lock; the other gets LOCKED', async () => {
    const scriptPath = join(dir, 'contender.mjs');
    await writeFile(scriptPath, CHILD_SCRIPT);
    for (let round = 0; round < 5; round++) {
      const outcomes = await race(scriptPath);
      expect(outcomes.filter((o) => o.won)).toHaveLength(1);
      expect(outcomes.find((o) => !o.won)).toMatchObject({ code: 'LOCKED' });
      await expect(stat(join(stateDir, 'lock'))).rejects.toMatchObject({ code: 'ENOENT' }); // winner released
    }
  });

  it('exactly one wins when both find the same stale lock', async () => {
    const scriptPath = join(dir, 'contender.mjs');
    await writeFile(scriptPath, CHILD_SCRIPT);
    const pid = await deadPid();
    for (let round = 0; round < 5; round++) {
      await writeLock({ pid, host: hostname(), command: 'create', since: new Date().toISOString() });
      const outcomes = await race(scriptPath);
      expect(outcomes.filter((o) => o.won)).toHaveLength(1);
      expect(outcomes.find((o) => !o.won)).toMatchObject({ code: 'LOCKED' });
    }
  });
});
