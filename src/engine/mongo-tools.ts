/**
 * Spawning mongodump / mongorestore. The connection string (which may hold a password) goes into a
 * 0600 file passed with `--config`, never into argv (docs/REFERENCE.md#secrets: `ps` must not show them). The file
 * lives in a private 0700 directory and is removed when the process ends, also on crashes.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { BackupError, ErrorCodes, redactSecrets, type ErrorCode } from '../errors.js';
import { processExists } from '../state/lock.js';

const secretDirs = new Set<string>();
/**
 * Process groups of tools still running. Each tool runs in a group of its own (a wrapper script,
 * `docker exec` or ssh and everything they start), so stopping it reaches every process holding its
 * pipes; a run that ends for any reason takes its tools' groups with it.
 */
const liveGroups = new Set<number>();
process.on('exit', () => {
  for (const dir of secretDirs) fs.rmSync(dir, { recursive: true, force: true });
  for (const group of liveGroups) signalGroup(group, 'SIGKILL');
});

/** Signals a whole process group; a group that is already gone is not an error. */
function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    /* ESRCH: every process of the group has exited */
  }
}

const TEMP_PREFIX = 'mongo-backup-';
const KILL_GRACE_MS = 5_000;
/**
 * How long, once the tool itself has exited, its output pipes may stay open: a process it started
 * (the real tool behind a wrapper) may hold them. After that they are closed and the group killed,
 * so a run never waits on a process that is no longer its tool.
 */
const PIPE_DRAIN_MS = 1_000;

/**
 * Removes config directories left by processes that were killed (kill -9 skips the exit handler):
 * their names carry the owner's PID, and a dead owner's directory is swept on the next run.
 */
async function sweepOrphanedConfigs(): Promise<void> {
  const entries = await fsp.readdir(os.tmpdir()).catch(() => [] as string[]);
  for (const name of entries) {
    const m = new RegExp(`^${TEMP_PREFIX}(\\d+)-`).exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    if (!processExists(Number(m[1]))) {
      await fsp.rm(path.join(os.tmpdir(), name), { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

/** Writes the URI to a private config file for the tools; returns its path and a cleanup function. */
export async function writeToolConfig(uri: string): Promise<{ file: string; cleanup: () => Promise<void> }> {
  await sweepOrphanedConfigs();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `${TEMP_PREFIX}${process.pid}-`));
  secretDirs.add(dir);
  await fsp.chmod(dir, 0o700);
  const file = path.join(dir, 'tools.yaml');
  await fsp.writeFile(file, `uri: ${JSON.stringify(uri)}\n`, { mode: 0o600 });
  return {
    file,
    cleanup: async () => {
      await fsp.rm(dir, { recursive: true, force: true });
      secretDirs.delete(dir);
    },
  };
}

export interface ToolProcess {
  child: ChildProcess;
  /** Resolves when the process exits with 0; rejects with a typed error otherwise. */
  done: Promise<void>;
  /** The last lines the tool wrote to stderr (redacted). */
  log(): string[];
}

export interface SpawnToolOptions {
  tool: 'mongodump' | 'mongorestore';
  binary: string;
  uri: string;
  args: string[];
  signal?: AbortSignal;
  /** Called with each stderr line (redacted), e.g. for --verbose. */
  onLine?: (line: string) => void;
}

/** Spawns the tool with its stdio as pipes: stdout = archive (dump), stdin = archive (restore). */
export async function spawnTool(options: SpawnToolOptions): Promise<ToolProcess> {
  const ownAuthSource = options.args.some((arg) => /^--authenticationDatabase\b/.test(arg));
  const config = await writeToolConfig(ownAuthSource ? options.uri : withExplicitAuthSource(options.uri));
  const args = [`--config=${config.file}`, ...options.args];
  // `detached`: a process group of its own (see liveGroups), signalled as a whole.
  const child = spawn(options.binary, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const group = child.pid;
  if (group !== undefined) liveGroups.add(group);
  const lines: string[] = [];
  let partial = '';
  // The tools catch SIGTERM, log "signal 'terminated' received" and exit with code 1.
  let acknowledgedSignal = false;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    for (const raw of parts) {
      const line = redactSecrets(raw.trimEnd());
      if (line === '') continue;
      if (/signal '\w+' received/.test(line)) acknowledgedSignal = true;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      options.onLine?.(line);
    }
  });
  // Whether we stopped it. A tool that failed on its own (its stdout ended, the pipeline broke, the
  // run was aborted, and only then was its exit noticed) failed: its message is the cause the user
  // needs, not "interrupted".
  let stoppedByUs = false;
  let exited = false;
  const onAbort = (): void => {
    if (exited || group === undefined) return;
    stoppedByUs = true;
    signalGroup(group, 'SIGTERM');
    // mongodump keeps waiting for server selection (up to 30 s) after SIGTERM; an interrupted run
    // must not hang on it, so its group is killed outright after a grace period.
    const force = setTimeout(() => signalGroup(group, 'SIGKILL'), KILL_GRACE_MS);
    force.unref();
    child.once('close', () => clearTimeout(force));
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const done = new Promise<void>((resolve, reject) => {
    const settle = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (partial.trim()) lines.push(redactSecrets(partial.trim()));
      partial = '';
      if (code === 0) resolve();
      else if (stoppedByUs && (signal !== null || acknowledgedSignal)) reject(new BackupError(ErrorCodes.INTERRUPTED, `${options.tool} was stopped (interrupted)`));
      else reject(toolFailure(options.tool, code, signal, lines, acknowledgedSignal));
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (group !== undefined) liveGroups.delete(group);
      reject(error.code === 'ENOENT' ? toolNotFound(options.tool, options.binary) : error);
    });
    child.once('exit', (code, signal) => {
      exited = true;
      if (group !== undefined && code !== 0) {
        // What is left of a tool that failed or was stopped (e.g. the real tool behind a wrapper
        // that died) has no one to report to: it goes with it.
        signalGroup(group, 'SIGKILL');
      }
      if (group !== undefined) liveGroups.delete(group);
      // Normally the pipes close right after the exit ('close'). After a success they are always
      // read to the end (the archive's last bytes may still be in them); after a failure or a stop
      // a process outside our reach that still holds them must not keep the run waiting.
      if (code === 0) {
        child.once('close', () => settle(code, signal));
        return;
      }
      const drain = setTimeout(() => {
        for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.destroy();
        settle(code, signal);
      }, PIPE_DRAIN_MS);
      child.once('close', () => {
        clearTimeout(drain);
        settle(code, signal);
      });
    });
  }).finally(async () => {
    options.signal?.removeEventListener('abort', onAbort);
    await config.cleanup();
  });
  // Keep an unhandled rejection from crashing the process before a caller awaits `done`.
  done.catch(() => undefined);
  return { child, done, log: () => [...lines] };
}

/**
 * mongodump and mongorestore authenticate against the `--db` database when the URI names no
 * authSource (their documented default); the driver, and so the tool's own connection check, uses
 * the URI's database or `admin`. Pinning the driver's choice makes `create --db shop` work with a
 * user defined in admin, as the same URI does everywhere else. mongodb+srv URIs are left alone:
 * their TXT record may set authSource.
 */
export function withExplicitAuthSource(uri: string): string {
  const m = /^mongodb:\/\/[^@/]*@[^/?]*(?:\/([^?]*))?(?:\?(.*))?$/.exec(uri);
  if (!m) return uri; // no credentials (or not a plain mongodb:// URI)
  const options = new URLSearchParams(m[2] ?? '');
  const keys = [...options.keys()].map((k) => k.toLowerCase());
  if (keys.includes('authsource')) return uri;
  // Mechanisms whose users live outside any database ($external) need no pinning.
  if (/^(MONGODB-X509|GSSAPI|PLAIN|MONGODB-AWS|MONGODB-OIDC)$/i.test(options.get('authMechanism') ?? '')) return uri;
  const database = m[1] ? decodeURIComponent(m[1]) : '';
  const authSource = `authSource=${encodeURIComponent(database || 'admin')}`;
  if (m[2] !== undefined) return `${uri}${m[2] === '' ? '' : '&'}${authSource}`;
  return `${uri}${m[1] === undefined ? '/' : ''}?${authSource}`;
}

export function toolNotFound(tool: string, binary: string): BackupError {
  return new BackupError(ErrorCodes.TOOL_NOT_FOUND, `${tool} was not found (looked for "${binary}")`, {
    hint:
      `install the MongoDB Database Tools (https://www.mongodb.com/try/download/database-tools, or your ` +
      `distribution's mongodb-database-tools package) and put ${tool} on PATH, or set mongodb.${tool} ` +
      'in the configuration to its full path',
  });
}

/** The error code of a tool's own failure. */
export function toolErrorCode(tool: SpawnToolOptions['tool']): ErrorCode {
  return tool === 'mongodump' ? ErrorCodes.MONGODUMP_FAILED : ErrorCodes.MONGORESTORE_FAILED;
}

function toolFailure(tool: SpawnToolOptions['tool'], code: number | null, signal: NodeJS.Signals | null, lines: string[], receivedSignal = false): BackupError {
  const text = lines.join('\n');
  const last = lines.filter((l) => /fail|error/i.test(l)).slice(-3).join(' | ') || lines.slice(-3).join(' | ');
  // A signal it caught itself (it logs "signal 'terminated' received") came from outside this run.
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}${receivedSignal ? ' after receiving a signal that mongo-backup did not send' : ''}`;
  let errorCode = toolErrorCode(tool);
  let hint = `run again with --verbose to see all of ${tool}'s output`;
  if (/server selection|connection refused|no reachable servers|i\/o timeout|context deadline exceeded/i.test(text)) {
    errorCode = ErrorCodes.SOURCE_UNREACHABLE;
    hint = 'check that the server is running and reachable from this host, and the host/port in the URI';
  } else if (/authentication failed|auth error|unauthorized/i.test(text)) {
    hint = 'check the user name and password, and that the user has the backup (mongodump) or restore (mongorestore) role';
  }
  return new BackupError(errorCode, `${tool} ${how}: ${last || 'no output'}`, { hint, details: { log: lines.slice(-10) } });
}

/** `mongodump --version` → e.g. "100.12.2" (or the first line as printed), cached per binary. */
const versionCache = new Map<string, Promise<string>>();
export function toolVersion(binary: string, tool: 'mongodump' | 'mongorestore'): Promise<string> {
  let cached = versionCache.get(binary);
  if (!cached) {
    cached = new Promise<string>((resolve, reject) => {
      execFile(binary, ['--version'], { timeout: 15_000 }, (error, stdout) => {
        if (error) {
          reject((error as NodeJS.ErrnoException).code === 'ENOENT' ? toolNotFound(tool, binary) : error);
          return;
        }
        const first = stdout.split('\n')[0] ?? '';
        const m = /version:?\s*(\S+)/i.exec(first);
        resolve(m?.[1] ?? first.trim());
      });
    });
    versionCache.set(binary, cached);
    cached.catch(() => versionCache.delete(binary));
  }
  return cached;
}
