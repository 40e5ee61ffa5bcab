/** Shared shapes of the schedule module. */

export type BackupType = 'full' | 'incremental';
export const BACKUP_TYPES: readonly BackupType[] = ['full', 'incremental'];

export type ScheduleKind = 'systemd' | 'cron';

/** A file (or crontab line) the schedule writes, shown by `print` and in `--json` output. */
export interface GeneratedFile {
  path: string;
  content: string;
}
