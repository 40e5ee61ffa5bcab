// Process plumbing for the test peers: free ports, spawning a server in its own process group,
// polling readiness, and stopping by PID so nothing outlives the test run.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const peersBinDir = resolve(repoRoot, '.peers/bin');

/** A port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', done);
  });
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (address === null || typeof address === 'string') throw new Error('could not read a free port');
  return address.port;
}

export async function isPortFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((done) => {
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** `count` consecutive free ports, e.g. for an FTP passive range. */
export async function freePortRange(count: number): Promise<{ min: number; max: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const min = 40_000 + Math.floor(Math.random() * 20_000);
    const ports = Array.from({ length: count }, (_, index) => min + index);
    const free = await Promise.all(ports.map(isPortFree));
    if (free.every(Boolean)) return { min, max: min + count - 1 };
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

export async function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((done) => {
    const socket = new Socket();
    const finish = (result: boolean) => {
      socket.destroy();
      done(result);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.connect(port, host, () => finish(true));
  });
}

// Every PID we started and have not yet seen exit: killed if this process goes away first, so a
// crashed or interrupted test run does not leave servers behind.
const livePeerPids = new Set<number>();
let exitHandlersInstalled = false;

// Peers are spawned detached, so each leads its own process group and -pid reaches it and its
// children. The group id stays reserved while any member lives, so this never hits a stranger
// that reused the PID (signalling the bare PID after the leader exited could).
function killProcessGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the whole group is gone (ESRCH): nothing to do
  }
}

function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  process.on('exit', () => {
    for (const pid of livePeerPids) killProcessGroup(pid, 'SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const pid of livePeerPids) killProcessGroup(pid, 'SIGKILL');
      livePeerPids.clear();
      // If nobody else (vitest) handles the signal, behave like the default handler would.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

export interface SpawnedPeer {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Set once the process has exited (with its code or signal). */
  exitStatus(): string | undefined;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** The last lines of the peer's log, for error messages. */
  logTail(lines?: number): string;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Starts a server in its own process group (so children such as sshd's per-connection processes
 * can be killed with it), with stdout and stderr going to `logFile`.
 */
export function spawnPeer(name: string, command: string, args: string[], logFile: string, options: SpawnOptions = {}): SpawnedPeer {
  installExitHandlers();
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
  } finally {
    closeSync(logFd);
  }
  let exitStatus: string | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<void>((done) => {
    child.once('error', (error) => {
      spawnError = error;
      exitStatus = `could not start: ${error.message}`;
      done();
    });
    child.once('exit', (code, signal) => {
      exitStatus = signal === null ? `exit code ${code}` : `signal ${signal}`;
      if (child.pid !== undefined) livePeerPids.delete(child.pid);
      done();
    });
  });
  if (child.pid === undefined) {
    // spawn failed synchronously (ENOENT and the like); 'error' follows on the next tick.
    return {
      name,
      pid: -1,
      logFile,
      exitStatus: () => exitStatus ?? `could not start ${command}`,
      exited,
      logTail: () => spawnError?.message ?? '',
    };
  }
  livePeerPids.add(child.pid);
  child.unref();
  return {
    name,
    pid: child.pid,
    logFile,
    exitStatus: () => exitStatus,
    exited,
    logTail: (lines = 15) => readLogTail(logFile, lines),
  };
}

function readLogTail(logFile: string, lines: number): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Stops a peer: SIGTERM to its process group, then SIGKILL if it has not exited within
 * `graceMs`. Some servers (Azurite) close their port on the first SIGTERM but only exit on a
 * second signal, so `termSignals` can be 2.
 */
export async function stopPeer(peer: SpawnedPeer, graceMs = 3000, termSignals = 1): Promise<void> {
  if (peer.pid <= 0) return;
  if (peer.exitStatus() === undefined) {
    killProcessGroup(peer.pid, 'SIGTERM');
    // Signals sent back to back can merge into one delivery, so repeats are spaced out.
    for (let sent = 1; sent < termSignals && !(await exitsWithin(peer, 200)); sent++) killProcessGroup(peer.pid, 'SIGTERM');
    if (!(await exitsWithin(peer, graceMs))) {
      killProcessGroup(peer.pid, 'SIGKILL');
      await keepAliveUntil(peer.exited);
    }
  }
  // The leader is gone; its group may still hold children (a forked connection handler).
  killProcessGroup(peer.pid, 'SIGKILL');
  livePeerPids.delete(peer.pid);
}

async function exitsWithin(peer: SpawnedPeer, ms: number): Promise<boolean> {
  // A referenced timer: the child itself is unref'd, so without one an otherwise idle event
  // loop would end the process while it waits here.
  let timer: NodeJS.Timeout | undefined;
  const exited = await Promise.race([
    peer.exited.then(() => true),
    new Promise<boolean>((done) => (timer = setTimeout(() => done(false), ms))),
  ]);
  clearTimeout(timer);
  return exited;
}

/** Awaits `promise` while holding the event loop open (it may only settle on a child's exit). */
async function keepAliveUntil(promise: Promise<void>): Promise<void> {
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    await promise;
  } finally {
    clearInterval(keepAlive);
  }
}

/** Makes an async function run once, however often it is called. */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

/**
 * Polls `probe` until it resolves true. Fails early, with the peer's log, if the process exits.
 * The pause between attempts is short: this waits for a condition, not for a fixed time.
 */
export async function waitUntilReady(peer: SpawnedPeer, what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    const status = peer.exitStatus();
    if (status !== undefined) {
      throw new Error(`${peer.name} exited before it was ready (${status}); log ${peer.logFile}:\n${peer.logTail()}`);
    }
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(`${peer.name} not ready after ${timeoutMs} ms (${what}${lastError ? `: ${lastError}` : ''}); log ${peer.logFile}:\n${peer.logTail()}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

// Peers outlive a test process that was SIGKILLed (no exit handler runs then). Every data
// directory under the temp dir records its owner's PID; a later run removes directories whose
// owner is dead and kills the processes still running from them.
const ownerFileName = 'owner.pid';
export const peerDirPrefixes = ['mongo-backup-testbed-', 'mongo-backup-peer-'];

export function claimPeerDir(dir: string): void {
  writeFileSync(join(dir, ownerFileName), String(process.pid));
}

/** Whether a process with this PID runs (EPERM: it does, as another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills processes left over from dead test runs and removes their directories. */
export function reapAbandonedPeerDirs(): string[] {
  const reaped: string[] = [];
  const root = tmpdir();
  for (const entry of readdirSync(root)) {
    if (!peerDirPrefixes.some((prefix) => entry.startsWith(prefix))) continue;
    const dir = join(root, entry);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, ownerFileName), 'utf8'));
    } catch {
      continue; // not ours, or still being set up
    }
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    for (const pid of processesMentioning(dir)) {
      killProcessGroup(pid, 'SIGKILL');
      try {
        process.kill(pid, 'SIGKILL'); // a member of a group it does not lead; its command line was just checked
      } catch {
        // gone with its group
      }
    }
    rmSync(dir, { recursive: true, force: true });
    reaped.push(dir);
  }
  return reaped;
}

/** PIDs whose command line names `dir` (so a reused PID is never hit). */
function processesMentioning(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}
