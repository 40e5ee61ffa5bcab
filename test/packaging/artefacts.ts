// Shared by the packaging tests: the release artefacts (built once per input hash by
// scripts/release/build.mjs --if-stale, which also makes concurrent test files wait for one build
// instead of racing), running an installed command, a PATH without any `node`, and a workspace
// that backs up the test bed's database to any set of targets (test/integration/target-configs.ts).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { peersBinDir, repoRoot } from '../setup/process.js';
import type { MongoPeer } from '../setup/testbed.js';
import type { TargetConfig } from '../integration/target-configs.js';

export interface Artefact {
  file: string;
  bytes: number;
}

export interface ReleaseInfo {
  version: string;
  artefacts: { npm: Artefact; executable: Artefact; deb: Artefact };
  timingsMs: Record<string, number>;
}

/** A full build takes 1–3 minutes on the 2-core CI machine (docs/PACKAGING.md). */
export const BUILD_TIMEOUT_MS = 600_000;

/** The artefacts for the current sources: reused when a build of the same inputs exists. */
export async function releaseArtefacts(): Promise<ReleaseInfo> {
  const result = await run(process.execPath, [join(repoRoot, 'scripts/release/build.mjs'), '--if-stale', '--fast'], { cwd: repoRoot, env: process.env });
  if (result.code !== 0) throw new Error(`scripts/release/build.mjs failed (exit ${result.code}):\n${result.stderr}`);
  return JSON.parse(result.stdout) as ReleaseInfo;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion (stdin closed), collecting its output and wall time. */
export function run(command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : -1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Math.round(performance.now() - started),
      }),
    );
  });
}

/** One line for assertion messages. */
export function describe(result: RunResult): string {
  return `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
}

/**
 * A PATH like a host without Node.js: the mongo tools' folder, then a folder of links to every
 * program in /usr/bin except node and nodejs (this machine has a Node 20 there, and /bin is
 * /usr/bin). Returns the PATH and the folder to remove.
 */
export async function pathWithoutNode(): Promise<{ path: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mongo-backup-nonode-'));
  const bin = join(dir, 'bin');
  await mkdir(bin);
  for (const name of await readdir('/usr/bin')) {
    if (name === 'node' || name === 'nodejs') continue;
    await symlink(join('/usr/bin', name), join(bin, name));
  }
  return { path: `${peersBinDir}:${bin}`, dir };
}

/** Whether `program` is found on `path` (what `command -v` says in that environment). */
export function onPath(program: string, path: string): boolean {
  return spawnSync('/bin/sh', ['-c', `command -v ${program}`], { env: { PATH: path } }).status === 0;
}

export interface Workspace {
  dir: string;
  configFile: string;
  env: NodeJS.ProcessEnv;
  /** Runs `command --config FILE ARGS` from the workspace (stdin closed, NO_COLOR). */
  run(command: string, args: readonly string[]): Promise<RunResult>;
  cleanup(): Promise<void>;
}

/** A temporary folder with a key file, a state folder and a config backing up `mongo` to `targets`. */
export async function makeWorkspace(label: string, mongo: MongoPeer, targets: (dir: string) => TargetConfig[], path: string): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), `mongo-backup-${label}-`));
  const keyFile = join(dir, 'backup.key');
  await writeFile(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const configFile = join(dir, 'backuprc.yaml');
  const config = {
    mongodb: { uri: mongo.uri, mongodump: mongo.mongodump, mongorestore: mongo.mongorestore, restoreArgs: ['--noIndexRestore'] },
    encryption: { keyFile },
    stateDir: join(dir, 'state'),
    targets: targets(dir),
  };
  await writeFile(configFile, stringify(config));
  const env = { PATH: path, HOME: dir, NO_COLOR: '1' };
  return {
    dir,
    configFile,
    env,
    run: (command, args) => run(command, ['--config', configFile, ...args], { cwd: dir, env }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A database name of Latin letters only (FerretDB allows nothing else), unique to one test. */
export function databaseName(label: string): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz';
  return label + Array.from(randomBytes(8), (b) => alphabet[b % alphabet.length]).join('');
}
