// Shared by the prune, lock and interrupt integration tests: a sandbox (config file, state
// directory, local target), the built CLI run to completion or spawned to be signalled at a test
// checkpoint (src/engine/checkpoints.ts), backups planted straight through the Target API at
// chosen times, and what a target holds afterwards.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { stringify } from 'yaml';
import { listBackups } from '../../src/engine/catalog.js';
import { newBackupId } from '../../src/engine/ids.js';
import { archiveObjectName } from '../../src/engine/manifest.js';
import type { RunRecord } from '../../src/state/journal.js';
import { createTarget } from '../../src/targets/registry.js';
import type { Target, TargetConfigBase } from '../../src/targets/types.js';
import { seedDatabase, testbed, type MongoPeer, type SeedSpec } from '../setup/testbed.js';
import { plantBackup } from './plant.js';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export interface Sandbox {
  dir: string;
  stateDir: string;
  configFile: string;
  localDir: string;
  /** Where a test checkpoint announces the PID of the process that reached it. */
  checkpointFile: string;
  writeConfig(config: Record<string, unknown>): Promise<void>;
  cleanup(): Promise<void>;
}

export async function makeSandbox(label: string): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), `mongo-backup-${label}-`));
  const sandbox: Sandbox = {
    dir,
    stateDir: join(dir, 'state'),
    configFile: join(dir, 'backuprc.yaml'),
    localDir: join(dir, 'backups'),
    checkpointFile: join(dir, 'checkpoint.pid'),
    writeConfig: (config) => writeFile(sandbox.configFile, stringify(config)),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  return sandbox;
}

/** A unique, Latin-letters-only database name (FerretDB's rule), seeded with a few documents. */
export async function seededDatabase(mongo: MongoPeer, label: string, spec: SeedSpec = { users: 40, orders: 25 }): Promise<string> {
  const letters = Array.from(randomBytes(6), (b) => String.fromCharCode(97 + (b % 26))).join('');
  const db = `${label}${letters}`;
  await seedDatabase(mongo.uri, db, spec);
  return db;
}

export function mongoConfig(mongo: MongoPeer): Record<string, unknown> {
  return { uri: mongo.uri, mongodump: mongo.mongodump, mongorestore: mongo.mongorestore };
}

export function localTargetConfig(sandbox: Sandbox, extra: Record<string, unknown> = {}): TargetConfigBase {
  return { name: 'local', type: 'local', path: sandbox.localDir, ...extra };
}

/** Config of a target on the shared S3 peer, under a prefix of its own (the bucket is shared). */
export function s3TargetConfig(name: string, prefix: string, extra: Record<string, unknown> = {}): TargetConfigBase {
  const s3 = testbed().s3;
  return { name, type: 's3', prefix, ...s3, ...extra };
}

export function sftpTargetConfig(name: string, prefix: string, extra: Record<string, unknown> = {}): TargetConfigBase {
  const sftp = testbed().sftp;
  return {
    name,
    type: 'sftp',
    host: sftp.host,
    port: sftp.port,
    username: sftp.username,
    privateKey: sftp.privateKeyPath,
    hostFingerprint: sftp.hostFingerprint,
    path: sftp.path,
    prefix,
    ...extra,
  };
}

export function uniquePrefix(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}/`;
}

// ---------------------------------------------------------------------------------------------
// Running the CLI

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (when --json was given). */
  json: any;
}

function cliEnv(sandbox: Sandbox, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: sandbox.dir, NO_COLOR: '1', BACKUP_STATE_DIR: sandbox.stateDir, ...env };
}

function cliArgs(sandbox: Sandbox, args: string[]): string[] {
  return [process.env.MONGO_BACKUP_TEST_CLI ?? join(repoRoot, 'bin/mongo-backup'), '--config', sandbox.configFile, ...args];
}

function parsedJson(args: string[], stdout: string): unknown {
  if (!args.includes('--json')) return undefined;
  try {
    return JSON.parse(stdout);
  } catch {
    return undefined;
  }
}

/** Runs the built CLI to completion with the sandbox's config file and state directory. */
export function runCli(sandbox: Sandbox, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise<CliResult>((done) => {
    execFile(process.execPath, cliArgs(sandbox, args), { cwd: sandbox.dir, env: cliEnv(sandbox, env), timeout: 60_000 }, (error, stdout, stderr) => {
      const failure = error as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null;
      const code = failure ? (typeof failure.code === 'number' ? failure.code : null) : 0;
      done({ code, signal: failure?.signal ?? null, stdout, stderr, json: parsedJson(args, stdout) });
    });
  });
}

export interface RunningCli {
  child: ChildProcess;
  pid: number;
  /** Settles when the process has exited, with everything it printed. */
  result: Promise<CliResult>;
  exited(): boolean;
}

/**
 * Starts the CLI without waiting for it (to signal it, or to race it against another run).
 * `ownGroup`: in a process group of its own, as a shell job is, so a test can signal the whole
 * group the way Ctrl-C in a terminal does.
 */
export function spawnCli(sandbox: Sandbox, args: string[], env: NodeJS.ProcessEnv = {}, options: { ownGroup?: boolean } = {}): RunningCli {
  const child = spawn(process.execPath, cliArgs(sandbox, args), {
    cwd: sandbox.dir,
    env: cliEnv(sandbox, env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownGroup ?? false,
  });
  let stdout = '';
  let stderr = '';
  let hasExited = false;
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const result = new Promise<CliResult>((done) => {
    child.once('close', (code, signal) => {
      hasExited = true;
      done({ code, signal, stdout, stderr, json: parsedJson(args, stdout) });
    });
  });
  if (child.pid === undefined) throw new Error('could not start the CLI');
  return { child, pid: child.pid, result, exited: () => hasExited };
}

/**
 * Starts `create` armed to stop at a test checkpoint and resolves once the process has reached it
 * (the checkpoint file names its PID). Fails with the CLI's output if it exits first.
 */
export async function createHeldAt(sandbox: Sandbox, checkpoint: string, args: string[] = []): Promise<RunningCli> {
  await rm(sandbox.checkpointFile, { force: true });
  const run = spawnCli(sandbox, ['create', ...args], {
    // The explicit test-only switch: without it the CLI ignores checkpoints (src/engine/checkpoints.ts).
    MONGO_BACKUP_TEST_CHECKPOINTS: '1',
    MONGO_BACKUP_TEST_CHECKPOINT: checkpoint,
    MONGO_BACKUP_TEST_CHECKPOINT_FILE: sandbox.checkpointFile,
  });
  await pollUntil(`create to reach checkpoint ${checkpoint}`, async () => {
    if (run.exited()) {
      const r = await run.result;
      throw new Error(`create exited (code ${r.code}, signal ${r.signal}) before checkpoint ${checkpoint}:\n${r.stderr}`);
    }
    return existsSync(sandbox.checkpointFile);
  });
  const announced = Number((await readFile(sandbox.checkpointFile, 'utf8')).trim());
  if (announced !== run.pid) throw new Error(`checkpoint file names PID ${announced}, expected ${run.pid}`);
  return run;
}

/** Polls a condition (no fixed sleeps): resolves when it holds, fails after `timeoutMs`. */
export async function pollUntil(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

/** Runs of the journal (stateDir/runs.jsonl), oldest first. */
export async function journal(sandbox: Sandbox): Promise<RunRecord[]> {
  const text = await readFile(join(sandbox.stateDir, 'runs.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RunRecord);
}

export interface ListedBackup {
  id: string;
  status: string;
  /** Targets holding a complete copy (COMPLETED backups). */
  targets: string[];
  error?: { code: string; message: string };
}

/** What `list --json` shows: COMPLETED backups from the targets, FAILED runs from the journal. */
export async function listed(sandbox: Sandbox, args: string[] = []): Promise<ListedBackup[]> {
  const result = await runCli(sandbox, ['--json', 'list', ...args]);
  if (result.code !== 0) throw new Error(`list failed (${result.code}): ${result.stderr}`);
  // Failed runs (from the journal) come in their own key, after the completed backups.
  return [...(result.json.backups as ListedBackup[]), ...((result.json.failedRuns ?? []) as ListedBackup[])];
}

/** Ids of the COMPLETED backups `list` shows (for one target, or all). */
export async function completedIds(sandbox: Sandbox, target?: string): Promise<string[]> {
  const listed = await runCli(sandbox, ['--json', 'list', '--status', 'COMPLETED', ...(target ? ['--target', target] : [])]);
  if (listed.code !== 0) throw new Error(`list failed (${listed.code}): ${listed.stderr}`);
  return (listed.json.backups as Array<{ id: string }>).map((b) => b.id);
}

/** Every file under a directory, relative to it (empty folders show as `folder/`). */
export async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  const walk = async (current: string): Promise<void> => {
    const entries = await readdir(current, { withFileTypes: true });
    if (entries.length === 0 && current !== dir) found.push(`${relative(dir, current)}/`);
    for (const entry of entries) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else found.push(relative(dir, full));
    }
  };
  await walk(dir);
  return found.sort();
}

// ---------------------------------------------------------------------------------------------
// Backups planted through the Target API

export function openTarget(config: TargetConfigBase): Target {
  return createTarget(config);
}

/** Writes a completed backup that started at `time`: archive object, then the manifest, as `create` does. */
export async function plantCompleted(target: Target, time: Date): Promise<string> {
  return (await plantBackup(target, time, { description: 'planted by a prune test', durationMs: 2000, bodyLines: 16 })).id;
}

/** An incomplete backup started at `time`: the archive is there, the manifest never came. */
export async function plantIncomplete(target: Target, time: Date): Promise<string> {
  const id = newBackupId(time);
  await target.save(`${id}/${archiveObjectName('zstd', false)}`, Readable.from([Buffer.from('half a backup')]));
  return id;
}

/** Backup folders on a target (COMPLETED and INCOMPLETE), with their object keys. */
export async function foldersOn(target: Target): Promise<Map<string, { status: string; keys: string[] }>> {
  const entries = await listBackups(target);
  return new Map(entries.map((e) => [e.id, { status: e.status, keys: e.objects.map((o) => o.key).sort() }]));
}

/** Every object key on a target. */
export async function keysOn(target: Target): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of target.list('')) keys.push(object.key);
  return keys.sort();
}
