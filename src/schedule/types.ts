/** Shared shapes of the schedule module. */

/** What a schedule runs: a full or incremental `create`, or a restore `drill` (docs/REFERENCE.md#schedule). */
export type BackupType = 'full' | 'incremental' | 'drill';
export const BACKUP_TYPES: readonly BackupType[] = ['full', 'incremental', 'drill'];

export type ScheduleKind = 'systemd' | 'cron';

/** A file (or crontab line) the schedule writes, shown by `print` and in `--json` output. */
export interface GeneratedFile {
  path: string;
  content: string;
}
