// Shared by the health and alerts integration tests: a temporary setup (config file, state
// directory, local targets), fake-but-valid backups written straight into a target, and a way to
// run the built CLI (bin/mongo-backup) and capture what it prints.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { recordRun, type RunRecord } from '../../src/state/journal.js';
import { LocalTarget } from '../../src/targets/local.js';
import { plantBackup } from './plant.js';

export const repoRoot = resolve(import.meta.dirname, '../..');
const HOUR = 3_600_000;

export interface Sandbox {
  dir: string;
  stateDir: string;
  configFile: string;
  /** Directory of a local target named `name` (created on first backup). */
  targetDir(name: string): string;
  writeConfig(config: Record<string, unknown>): Promise<void>;
  cleanup(): Promise<void>;
}

export async function makeSandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'mongo-backup-health-'));
  const sandbox: Sandbox = {
    dir,
    stateDir: join(dir, 'state'),
    configFile: join(dir, 'backuprc.yaml'),
    targetDir: (name) => join(dir, 'targets', name),
    writeConfig: (config) => writeFile(sandbox.configFile, stringify(config)),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  return sandbox;
}

export function localTargetConfig(sandbox: Sandbox, name: string): Record<string, unknown> {
  return { name, type: 'local', path: sandbox.targetDir(name) };
}

/**
 * Writes a completed backup (archive object, then manifest) made `ageHours` ago into the local
 * target directory, the way `create` lays it out. Returns its id and stored size.
 */
export async function writeBackup(sandbox: Sandbox, targetName: string, ageHours: number, id?: string): Promise<{ id: string; storedSize: number }> {
  const target = new LocalTarget(targetName, sandbox.targetDir(targetName));
  const started = new Date(Date.now() - ageHours * HOUR);
  return plantBackup(target, started, { ...(id ? { id } : {}), description: 'health test', durationMs: 1000, bodyLines: 20 });
}

/** Appends a create run (as the create command would) that ended `ageHours` ago. */
export async function writeRun(sandbox: Sandbox, ageHours: number, status: RunRecord['status'], extra: Partial<RunRecord> = {}): Promise<RunRecord> {
  const end = new Date(Date.now() - ageHours * HOUR);
  const record: RunRecord = {
    runId: `run-${end.getTime()}-${Math.random().toString(16).slice(2, 8)}`,
    command: 'create',
    status,
    startTime: new Date(end.getTime() - 90_000).toISOString(),
    endTime: end.toISOString(),
    duration: 90_000,
    host: 'test',
    ...extra,
  };
  await recordRun(sandbox.stateDir, record);
  return record;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (when --json was given). */
  json: any;
}

/**
 * Runs the built CLI with the sandbox's config file and state directory. MONGO_BACKUP_TEST_CLI
 * points at another build (e.g. a private copy while others rebuild dist/).
 */
export function runCli(sandbox: Sandbox, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const cleanEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: sandbox.dir, NO_COLOR: '1', BACKUP_STATE_DIR: sandbox.stateDir, ...env };
  return new Promise((done) => {
    execFile(
      process.execPath,
      [process.env.MONGO_BACKUP_TEST_CLI ?? join(repoRoot, 'bin/mongo-backup'), '--config', sandbox.configFile, ...args],
      { cwd: sandbox.dir, env: cleanEnv, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        let json: unknown;
        if (args.includes('--json')) {
          try {
            json = JSON.parse(stdout);
          } catch {
            json = undefined;
          }
        }
        done({ code, stdout, stderr, json });
      },
    );
  });
}

export interface Receiver {
  url: string;
  requests: Array<Record<string, any>>;
  /** Resolves once `count` requests have arrived (polling the list, no fixed sleeps). */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A webhook receiver on 127.0.0.1 that records JSON bodies and answers 200. */
export async function startReceiver(): Promise<Receiver> {
  const requests: Array<Record<string, any>> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>);
      res.end('ok');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} webhook requests, got ${requests.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/** A tiny parser for the Prometheus text format: name -> [{labels, value}], plus HELP/TYPE seen. */
export function parsePrometheus(text: string): { samples: Map<string, Array<{ labels: Record<string, string>; value: number }>>; help: Set<string>; types: Map<string, string> } {
  const samples = new Map<string, Array<{ labels: Record<string, string>; value: number }>>();
  const help = new Set<string>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === 'HELP') help.add(meta[2]!);
      else types.set(meta[2]!, meta[3]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    const list = samples.get(sample[1]!) ?? [];
    list.push({ labels, value: Number(sample[3]) });
    samples.set(sample[1]!, list);
  }
  return { samples, help, types };
}
