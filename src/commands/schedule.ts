/** `schedule print|install|remove`: a systemd timer or a crontab line that runs `create`. */
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { ExitCode, usageError, type ExitCodeValue } from '../errors.js';
import { parseDuration } from '../duration.js';
import { defineAction, type CommandContext } from '../cli-context.js';
import { runSchedule, type ScheduleAction, type ScheduleRequest, type ScheduleResult } from '../schedule/index.js';
import { BACKUP_TYPES, type BackupType, type ScheduleKind } from '../schedule/types.js';

interface ScheduleFlags {
  systemd?: boolean;
  cron?: boolean;
  at?: string;
  every?: string;
  type: BackupType;
  dir?: string;
  user?: boolean;
  enable: boolean;
  randomizedDelay?: string;
  crontabFile?: string;
  logFile?: string;
  workdir?: string;
  drillPrefix?: string;
  drillUri?: string;
}

/** Full backups nightly at 02:00; incrementals every hour, so the newest restore point is never more than an hour old. */
/** Drills monthly (the 1st at 04:00), after the night's backup: health wants one every 35 days. */
const DEFAULT_AT: Record<BackupType, string> = { full: '0 2 * * *', incremental: '0 * * * *', drill: '0 4 1 * *' };

export function registerScheduleCommand(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('write (or print, or remove) a systemd timer or crontab line that runs backups');
  addSubcommand(schedule, 'print', 'print the unit files or crontab line without writing anything');
  addSubcommand(schedule, 'install', 'write the schedule (and enable the systemd timer)');
  addSubcommand(schedule, 'remove', 'remove exactly what install wrote');
}

function addSubcommand(schedule: Command, action: ScheduleAction, description: string): void {
  const command = schedule
    .command(action)
    .description(description)
    .addOption(new Option('--systemd', 'systemd service + timer (default when systemd runs)').conflicts('cron'))
    .addOption(new Option('--cron', 'crontab line (default without systemd)'))
    .addOption(new Option('--type <type>', 'backup type to schedule').choices(BACKUP_TYPES).default('full'))
    .option('--dir <dir>', 'write the unit files here instead of the systemd directory (never runs systemctl)')
    .option('--user', 'systemd user units (~/.config/systemd/user) instead of system units')
    .option('--no-enable', 'do not run systemctl daemon-reload / enable / disable')
    .option('--crontab-file <file>', 'edit this crontab file instead of calling crontab (e.g. /etc/cron.d/mongo-backup)');
  if (action !== 'remove') {
    command
      .addOption(new Option('--at <cron>', 'when to run, as a cron expression or @daily/@hourly/... (default: 0 2 * * * for full, 0 * * * * for incremental, 0 4 1 * * for drill)').conflicts('every'))
      .option('--every <duration>', 'run every DURATION instead of --at, e.g. 15m, 1h, 6h (a divisor of an hour or of a day)')
      .option('--randomized-delay <timespan>', 'systemd RandomizedDelaySec, e.g. 15m')
      .option('--log-file <file>', 'cron: append each run\'s output here (default /var/log/mongo-backup.log for root)')
      .option('--workdir <dir>', 'working directory of the scheduled run (default: the current directory)')
      .option('--drill-prefix <prefix>', '--type drill: restore beside the data under this database-name prefix (drill --prefix)')
      .option('--drill-uri <uri>', '--type drill: restore into this scratch server (drill --uri; no password: it would sit in the unit file)');
  }
  command.action(defineAction(async (ctx: CommandContext, flags: ScheduleFlags) => runScheduleCommand(ctx, action, flags)));
}

async function runScheduleCommand(ctx: CommandContext, action: ScheduleAction, flags: ScheduleFlags): Promise<ExitCodeValue> {
  const kind: ScheduleKind | undefined = flags.systemd ? 'systemd' : flags.cron ? 'cron' : undefined;
  const request: ScheduleRequest = {
    action,
    ...(kind ? { kind } : {}),
    at: flags.every !== undefined ? everyAsCron(flags.every) : (flags.at ?? DEFAULT_AT[flags.type]),
    type: flags.type,
    user: Boolean(flags.user),
    enable: flags.enable !== false,
    ...definedOnly({
      dir: flags.dir,
      randomizedDelay: flags.randomizedDelay,
      crontabFile: flags.crontabFile,
      logFile: flags.logFile,
      workdir: flags.workdir,
    }),
  };
  if (action !== 'remove' && flags.type === 'drill') request.drill = drillTarget(flags);
  if (action !== 'remove') {
    const configFile = await configFileForSchedule(ctx, action);
    if (configFile) request.configFile = configFile;
  }
  const result = await runSchedule(request, {
    env: process.env,
    cwd: process.cwd(),
    info: (message) => ctx.output.info(message),
    warn: (message) => ctx.output.warn(message),
  });
  ctx.output.result({ success: true, schedule: result }, () => renderHuman(result));
  for (const step of result.nextSteps) ctx.output.info(`next: ${step}`);
  return ExitCode.OK;
}

/**
 * The absolute path of the configuration in use, so the scheduled run (started from another
 * directory, by another parent) reads the same file. The configuration is loaded to catch mistakes
 * now rather than at 02:00; with an explicit --config a load failure is only a warning, because the
 * file may rely on variables that only the EnvironmentFile provides.
 */
async function configFileForSchedule(ctx: CommandContext, action: ScheduleAction): Promise<string | undefined> {
  const explicit = ctx.globals.config === undefined ? undefined : path.resolve(ctx.globals.config);
  try {
    const config = await ctx.config();
    return config.configFile ?? explicit;
  } catch (error) {
    if (explicit === undefined && action === 'install') throw error;
    ctx.output.warn(`configuration not checked: ${(error as Error).message}`);
    return explicit;
  }
}

function renderHuman(result: ScheduleResult): string[] {
  if (result.action === 'print') {
    return result.kind === 'cron'
      ? result.files.map((file) => file.content.trimEnd())
      : result.files.flatMap((file) => [`# ${file.path}`, file.content]);
  }
  if (result.action === 'remove') {
    if (!result.removed) return [`Nothing to remove: no mongo-backup ${result.type} schedule in ${result.location}.`];
    return result.kind === 'cron'
      ? [`Removed from ${result.location}:`, ...result.files.map((file) => `  ${file.content.trimEnd()}`)]
      : result.files.map((file) => `Removed ${file.path}`);
  }
  const lines =
    result.kind === 'cron'
      ? [`Installed in ${result.location}:`, `  ${result.files[0]?.content.trimEnd() ?? ''}`]
      : [
          ...result.files.map((file) => `Wrote ${file.path}`),
          `OnCalendar: ${(result.onCalendar ?? []).join(' and ')}`,
          ...(result.enabled ? ['Timer enabled and started.'] : []),
        ];
  if (result.nextRuns[0]) lines.push(`Next run: ${formatLocalTime(new Date(result.nextRuns[0]))} (local time)`);
  return lines;
}

function formatLocalTime(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** `--every 15m` and `--every 6h` as cron expressions: only intervals a cron expression keeps exactly (every 15th minute, every 6th hour). */
export function everyAsCron(every: string): string {
  const ms = parseDuration(every, '--every');
  const minutes = ms / 60_000;
  if (Number.isInteger(minutes) && minutes >= 1 && minutes < 60 && 60 % minutes === 0) return minutes === 1 ? '* * * * *' : `*/${minutes} * * * *`;
  const hours = minutes / 60;
  if (Number.isInteger(hours) && hours >= 1 && hours <= 24 && 24 % hours === 0) return hours === 1 ? '0 * * * *' : hours === 24 ? '0 0 * * *' : `0 */${hours} * * *`;
  throw usageError(`--every ${every} cannot be kept exactly by a schedule`, 'use a divisor of an hour (1m–30m) or of a day (1h–24h), or give --at CRON');
}

function definedOnly<T extends Record<string, string | undefined>>(values: T): { [K in keyof T]?: string } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as { [K in keyof T]?: string };
}

/** Where a scheduled drill restores; a password in the URI would be readable in the unit file or crontab. */
function drillTarget(flags: ScheduleFlags): { prefix?: string; uri?: string } {
  if (flags.drillPrefix === undefined && flags.drillUri === undefined) {
    throw usageError('--type drill needs --drill-prefix P or --drill-uri SCRATCH', 'e.g. schedule install --type drill --drill-prefix drill_');
  }
  if (flags.drillUri && /^[a-z+]+:\/\/[^@/]*:[^@/]*@/i.test(flags.drillUri)) {
    throw usageError('--drill-uri must not hold a password: it would be stored in the unit file or crontab', 'use a scratch server this host reaches without a password, or --drill-prefix');
  }
  return { ...(flags.drillPrefix !== undefined ? { prefix: flags.drillPrefix } : {}), ...(flags.drillUri !== undefined ? { uri: flags.drillUri } : {}) };
}
