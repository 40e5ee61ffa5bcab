/**
 * Command channel: runs `alerts.command` directly (no shell, so nothing in an alert message can be
 * interpreted as shell syntax) with the alert in MONGO_BACKUP_ALERT_* environment variables and a
 * timeout. The tool's own secret variables are removed from the environment it passes on.
 */
import { execFile } from 'node:child_process';
import { describeEvent, type AlertEvent } from './event.js';

/** Variables that carry this tool's secrets (docs/REFERENCE.md#secrets); a notifier has no business seeing them. */
const SECRET_VARIABLES = [
  'BACKUP_ENCRYPTION_KEY',
  'MONGODB_URI',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AZURE_STORAGE_KEY',
  'AZURE_STORAGE_CONNECTION_STRING',
];

export function alertEnvironment(event: AlertEvent, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of SECRET_VARIABLES) delete env[name];
  Object.assign(env, {
    MONGO_BACKUP_ALERT_ID: event.id,
    MONGO_BACKUP_ALERT_LEVEL: event.level,
    MONGO_BACKUP_ALERT_TYPE: event.type,
    MONGO_BACKUP_ALERT_MESSAGE: event.message,
    MONGO_BACKUP_ALERT_TARGET: event.target ?? '',
    MONGO_BACKUP_ALERT_STATUS: event.status,
    MONGO_BACKUP_ALERT_CREATED_AT: event.createdAt,
    MONGO_BACKUP_ALERT_TEXT: describeEvent(event),
  });
  return env;
}

export function runNotifyCommand(command: string, event: AlertEvent, timeoutMs: number): Promise<void> {
  return new Promise((done, fail) => {
    execFile(
      command,
      [],
      { env: alertEnvironment(event), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024, windowsHide: true },
      (error, _stdout, stderr) => {
        if (!error) return done();
        const e = error as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        const tail = String(stderr).trim().split('\n').slice(-3).join(' | ');
        let problem: string;
        if (e.code === 'ENOENT') problem = 'not found';
        else if (e.code === 'EACCES') problem = 'not executable';
        else if (e.killed) problem = `did not finish within ${timeoutMs} ms`;
        else problem = `exited with ${typeof e.code === 'number' ? `code ${e.code}` : e.message}`;
        fail(new Error(`${command} ${problem}${tail ? `: ${tail}` : ''}`));
      },
    );
  });
}
