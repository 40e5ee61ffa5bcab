/**
 * `schedule print|install|remove`: writes (or shows, or deletes) a systemd service + timer pair or
 * a tagged crontab line that runs `mongo-backup create` on a cron schedule. The tool itself never
 * runs as a daemon (docs/REFERENCE.md#schedule).
 */
import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';
import { BackupError, ErrorCodes, usageError } from '../errors.js';
import { cronToOnCalendar } from './calendar.js';
import { nextCronRuns, parseCron, type CronSchedule } from './cron.js';
import {
  cronTag,
  crontabFileStore,
  findTaggedLine,
  removeTaggedLines,
  renderCronLine,
  upsertTaggedLine,
  userCrontabStore,
  type CrontabStore,
} from './crontab.js';
import { parseTimeSpan, removeUnits, renderUnits, systemctl, unitBaseName, writeUnits } from './systemd.js';
import type { BackupType, GeneratedFile, ScheduleKind } from './types.js';

export type ScheduleAction = 'print' | 'install' | 'remove';

export interface ScheduleRequest {
  action: ScheduleAction;
  /** Explicit --systemd / --cron; otherwise detected. */
  kind?: ScheduleKind;
  at: string;
  type: BackupType;
  /** Where unit files go (systemd); given → never calls systemctl. */
  dir?: string;
  user: boolean;
  /** false with --no-enable. */
  enable: boolean;
  randomizedDelay?: string;
  crontabFile?: string;
  logFile?: string;
  workdir?: string;
  /** Absolute path of the configuration file the scheduled run should use. */
  configFile?: string;
  /** `--type drill`: where the drill restores (`drill --prefix P` or `--uri SCRATCH`). */
  drill?: { prefix?: string; uri?: string };
}

export interface ScheduleEnvironment {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Prints progress lines (stderr). */
  info(message: string): void;
  warn(message: string): void;
}

export interface ScheduleResult {
  action: ScheduleAction;
  kind: ScheduleKind;
  type: BackupType;
  at: string;
  /** systemd only. */
  onCalendar?: string[];
  /** What install writes (or wrote), or what remove deleted. */
  files: GeneratedFile[];
  /** Where the entry lives: a unit directory, a crontab file, or "crontab of USER". */
  location: string;
  installed: boolean;
  enabled: boolean;
  removed: boolean;
  /** Next start times (ISO 8601), before any randomized delay. */
  nextRuns: string[];
  nextSteps: string[];
}

export async function runSchedule(request: ScheduleRequest, environment: ScheduleEnvironment): Promise<ScheduleResult> {
  // --dir only makes sense for unit files and --crontab-file only for cron, so either one decides.
  const kind =
    request.kind ??
    (request.dir !== undefined ? 'systemd' : request.crontabFile !== undefined ? 'cron' : detectScheduler(environment.env));
  if (request.action === 'install' && (environment.env.ENABLE_AUTO_BACKUP ?? '').toLowerCase() === 'false') {
    throw usageError(
      'scheduled backups are disabled: ENABLE_AUTO_BACKUP=false is set in the environment',
      'unset ENABLE_AUTO_BACKUP (or set it to true) to install a schedule',
    );
  }
  if (kind === 'cron' && request.randomizedDelay !== undefined) {
    throw usageError('--randomized-delay needs a systemd timer', 'use --systemd, or drop --randomized-delay');
  }
  if (kind === 'cron' && request.dir !== undefined) {
    throw usageError('--dir is for systemd unit files', 'to edit a crontab file instead of your crontab, use --crontab-file FILE');
  }
  if (kind === 'systemd' && request.crontabFile !== undefined) {
    throw usageError('--crontab-file is for cron entries', 'add --cron, or use --dir for systemd unit files');
  }
  const schedule = parseCron(request.at);
  const base = {
    action: request.action,
    kind,
    type: request.type,
    at: schedule.fields.join(' '),
    nextRuns: nextCronRuns(schedule, new Date(), 3).map((time) => time.toISOString()),
  };
  return kind === 'systemd'
    ? { ...base, ...(await runSystemd(request, schedule, environment)) }
    : { ...base, ...(await runCron(request, schedule, environment)) };
}

/** systemd when it is the running init (sd_booted) and systemctl is there; cron otherwise. */
export function detectScheduler(env: NodeJS.ProcessEnv): ScheduleKind {
  const booted = existsSync('/run/systemd/system') && statSync('/run/systemd/system').isDirectory();
  return booted && findOnPath('systemctl', env) ? 'systemd' : 'cron';
}

function findOnPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The command the schedule runs: absolute node and CLI script, so PATH at run time does not matter. */
export function backupCommand(request: Pick<ScheduleRequest, 'type' | 'configFile' | 'drill'>): string[] {
  const drill = request.drill ?? {};
  const work =
    request.type === 'drill'
      ? ['drill', 'latest', ...(drill.prefix !== undefined ? ['--prefix', drill.prefix] : []), ...(drill.uri !== undefined ? ['--uri', drill.uri] : [])]
      : ['create', '--type', request.type];
  return [...cliInvocation(), ...(request.configFile ? ['--config', request.configFile] : []), ...work, '--no-progress'];
}

/** The single executable (and the .deb, docs/PACKAGING.md) is its own CLI: no script to pass to it. */
function cliInvocation(): string[] {
  return isSea() ? [process.execPath] : [process.execPath, cliScriptPath()];
}

/** bin/mongo-backup of this installation (two levels up from src/schedule or dist/schedule). */
export function cliScriptPath(): string {
  const script = fileURLToPath(new URL('../../bin/mongo-backup', import.meta.url));
  try {
    return realpathSync(script);
  } catch {
    return script;
  }
}

function homeDir(env: NodeJS.ProcessEnv): string {
  return env.HOME || os.homedir();
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

// ---------------------------------------------------------------------------------------------
// systemd

type KindResult = Omit<ScheduleResult, 'action' | 'kind' | 'type' | 'at' | 'nextRuns'>;

async function runSystemd(request: ScheduleRequest, schedule: CronSchedule, environment: ScheduleEnvironment): Promise<KindResult> {
  const { env } = environment;
  const configHome = env.XDG_CONFIG_HOME || path.join(homeDir(env), '.config');
  const realDir = request.user ? path.join(configHome, 'systemd/user') : '/etc/systemd/system';
  const dir = request.dir === undefined ? realDir : path.resolve(environment.cwd, request.dir);
  // systemctl only makes sense for units in the directory systemd reads.
  const manageSystemd = request.dir === undefined && request.enable;
  const onCalendar = cronToOnCalendar(schedule);
  const files = renderUnits(
    {
      type: request.type,
      command: backupCommand(request),
      workingDirectory: path.resolve(environment.cwd, request.workdir ?? '.'),
      environmentFile: request.user ? path.join(configHome, 'mongo-backup/env') : '/etc/mongo-backup/env',
      onCalendar,
      cronExpression: schedule.fields.join(' '),
      ...(request.randomizedDelay === undefined ? {} : { randomizedDelay: parseTimeSpan(request.randomizedDelay) }),
      userUnit: request.user,
    },
    dir,
  );
  const timer = `${unitBaseName(request.type)}.timer`;
  const userFlag = request.user ? ' --user' : '';
  const result: KindResult = { onCalendar, files, location: dir, installed: false, enabled: false, removed: false, nextSteps: [] };

  if (request.action === 'print') {
    result.nextSteps.push(`to install: mongo-backup schedule install --systemd${userFlag} --at "${schedule.source}"`);
    return result;
  }

  if (request.action === 'remove') {
    if (manageSystemd && files.some((file) => existsSync(file.path))) {
      environment.info(`systemctl${userFlag} disable --now ${timer}`);
      await systemctl(request.user, ['disable', '--now', timer]).catch((error: Error) => environment.warn(error.message));
    }
    const { removed, foreign } = await removeUnits(files.map((file) => file.path));
    for (const file of foreign) environment.warn(`${file} was not written by mongo-backup; left in place`);
    if (manageSystemd && removed.length > 0) await systemctl(request.user, ['daemon-reload']);
    result.files = files.filter((file) => removed.includes(file.path));
    result.removed = removed.length > 0;
    return result;
  }

  await writeUnits(files).catch((error: unknown) => {
    throw permissionHint(error, request.user ? undefined : 'run it as root, or use --user for user units, or --dir to write elsewhere');
  });
  result.installed = true;
  const envFile = request.user ? path.join(configHome, 'mongo-backup/env') : '/etc/mongo-backup/env';
  if (manageSystemd) {
    await systemctl(request.user, ['daemon-reload']);
    await systemctl(request.user, ['enable', '--now', timer]);
    result.enabled = true;
    result.nextSteps.push(`check it: systemctl${userFlag} list-timers ${timer}`);
    if (request.user) result.nextSteps.push('to run while you are logged out: loginctl enable-linger');
  } else if (request.dir === undefined) {
    result.nextSteps.push(`enable it: systemctl${userFlag} daemon-reload && systemctl${userFlag} enable --now ${timer}`);
  } else {
    result.nextSteps.push(`copy the two files to ${realDir}, then: systemctl${userFlag} daemon-reload && systemctl${userFlag} enable --now ${timer}`);
  }
  result.nextSteps.push(`put secrets (MONGODB_URI, BACKUP_ENCRYPTION_KEY, ...) in ${envFile}, mode 0600`);
  result.nextSteps.push(`run it now once: systemctl${userFlag} start ${unitBaseName(request.type)}.service; logs: journalctl${userFlag} -u ${unitBaseName(request.type)}.service`);
  return result;
}

// ---------------------------------------------------------------------------------------------
// cron

async function runCron(request: ScheduleRequest, schedule: CronSchedule, environment: ScheduleEnvironment): Promise<KindResult> {
  const userName = os.userInfo().username;
  const crontabFile = request.crontabFile === undefined ? undefined : path.resolve(environment.cwd, request.crontabFile);
  const store: CrontabStore = crontabFile === undefined ? userCrontabStore(userName) : crontabFileStore(crontabFile);
  const logFile = path.resolve(
    environment.cwd,
    request.logFile ?? (isRoot() ? '/var/log/mongo-backup.log' : path.join(homeDir(environment.env), '.local/state/mongo-backup/cron.log')),
  );
  const line = renderCronLine({
    schedule: schedule.fields.join(' '),
    command: backupCommand(request),
    workingDirectory: path.resolve(environment.cwd, request.workdir ?? '.'),
    logFile,
    type: request.type,
    ...(crontabFile !== undefined && isSystemCrontab(crontabFile) ? { runAsUser: userName } : {}),
  });
  const tag = cronTag(request.type);
  const result: KindResult = {
    files: [{ path: store.description, content: `${line}\n` }],
    location: store.description,
    installed: false,
    enabled: false,
    removed: false,
    nextSteps: [],
  };

  if (request.action === 'print') {
    result.nextSteps.push(`to install: mongo-backup schedule install --cron --at "${schedule.source}"`);
    return result;
  }

  const before = await store.read();
  if (request.action === 'remove') {
    const { crontab, removed } = removeTaggedLines(before, tag);
    if (removed.length > 0) await store.write(crontab);
    result.files = removed.map((removedLine) => ({ path: store.description, content: `${removedLine}\n` }));
    result.removed = removed.length > 0;
    return result;
  }

  const previous = findTaggedLine(before, tag);
  await mkdir(path.dirname(logFile), { recursive: true }).catch(() => undefined);
  await store.write(upsertTaggedLine(before, tag, line)).catch((error: unknown) => {
    throw permissionHint(error, 'run it as root for system crontabs, or leave out --crontab-file to use your own crontab');
  });
  result.installed = true;
  result.enabled = true;
  if (previous !== undefined && previous !== line) environment.info(`replaced: ${previous}`);
  result.nextSteps.push(`output of each run goes to ${logFile}`);
  result.nextSteps.push('cron passes no secrets: keep them in the config (keyFile, passwordFile, uriFile) or in variables at the top of the crontab');
  return result;
}

/** "permission denied" while writing becomes an error that says what to do instead. */
function permissionHint(error: unknown, hint: string | undefined): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if ((code !== 'EACCES' && code !== 'EPERM') || hint === undefined) return error;
  return new BackupError(ErrorCodes.FAILED, `cannot write the schedule: ${(error as Error).message}`, { cause: error, hint });
}

function isSystemCrontab(file: string): boolean {
  return file === '/etc/crontab' || file.startsWith('/etc/cron.d/');
}
