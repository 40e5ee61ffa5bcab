/**
 * node_exporter textfile-collector output for `health --prometheus FILE`. The file is replaced
 * atomically (temporary file in the same directory, then rename), as the collector requires, so
 * a scrape never reads half a file.
 */
import { writeFileAtomic } from '../state/journal.js';
import { healthExitCode, type HealthReport } from './evaluate.js';

interface Sample {
  labels?: Record<string, string>;
  value: number;
}

interface Family {
  name: string;
  help: string;
  type: 'gauge';
  samples: Sample[];
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

export function renderPrometheus(report: HealthReport, activeAlerts: number): string {
  const m = report.metrics;
  const families: Family[] = [];
  const gauge = (name: string, help: string, samples: Sample[]): void => {
    if (samples.length > 0) families.push({ name, help, type: 'gauge', samples });
  };
  const lastSuccess = m.lastSuccessTime ? Date.parse(m.lastSuccessTime) / 1000 : undefined;
  gauge('mongo_backup_last_success_timestamp_seconds', 'Unix time of the newest successful backup.', lastSuccess === undefined ? [] : [{ value: lastSuccess }]);
  gauge('mongo_backup_last_run_status', 'Outcome of the last backup run: 1 succeeded, 0 failed, partial or interrupted.', m.lastRun ? [{ value: m.lastRun.status === 'SUCCESS' ? 1 : 0 }] : []);
  gauge('mongo_backup_last_duration_seconds', 'Duration of the last backup run in seconds.', m.lastRun ? [{ value: m.lastRun.duration / 1000 }] : []);
  gauge(
    'mongo_backup_last_size_bytes',
    'Stored size of the backup written by the last backup run, in bytes.',
    m.lastRun?.storedSize !== undefined ? [{ value: m.lastRun.storedSize }] : [],
  );
  gauge(
    'mongo_backup_target_up',
    'Whether the target was reachable during the last health check (1) or not (0).',
    m.targets.map((t) => ({ labels: { target: t.name }, value: t.reachable ? 1 : 0 })),
  );
  gauge(
    'mongo_backup_backups',
    'Completed backups on the target.',
    m.targets.filter((t) => t.reachable).map((t) => ({ labels: { target: t.name }, value: t.backups })),
  );
  gauge(
    'mongo_backup_target_free_bytes',
    'Free space on a local target, in bytes.',
    m.targets.filter((t) => t.freeBytes !== undefined).map((t) => ({ labels: { target: t.name }, value: t.freeBytes as number })),
  );
  gauge(
    'mongo_backup_restore_point_timestamp_seconds',
    'Unix time of the newest point-in-time restore point on the target (the newest chain tip).',
    m.targets.filter((t) => t.reachable && t.newestRestorePoint !== undefined).map((t) => ({ labels: { target: t.name }, value: Date.parse(t.newestRestorePoint!) / 1000 })),
  );
  gauge(
    'mongo_backup_restorable_window_seconds',
    'Seconds of time the point-in-time chains on the target can restore (the union of their windows).',
    m.targets.filter((t) => t.reachable && t.restorableSeconds !== undefined).map((t) => ({ labels: { target: t.name }, value: t.restorableSeconds! })),
  );
  const drills = m.drills;
  gauge('mongo_backup_last_drill_timestamp_seconds', 'Unix time of the newest restore drill on the reachable targets, passed or not.', drills.last ? [{ value: Date.parse(drills.last.time) / 1000 }] : []);
  gauge('mongo_backup_last_drill_success', 'Outcome of the newest restore drill: 1 passed (and its record is trusted), 0 failed or not trusted.', drills.last ? [{ value: drills.last.passed && drills.last.trusted ? 1 : 0 }] : []);
  gauge('mongo_backup_last_passed_drill_timestamp_seconds', 'Unix time of the newest passed restore drill whose record is trusted.', drills.lastPassed ? [{ value: Date.parse(drills.lastPassed.time) / 1000 }] : []);
  gauge('mongo_backup_rto_estimate_seconds', "Estimated seconds to restore the newest backup, at the newest passed drill's throughput.", drills.rto ? [{ value: drills.rto.seconds }] : []);
  gauge('mongo_backup_active_alerts', 'Unresolved alerts.', [{ value: activeAlerts }]);
  gauge('mongo_backup_health_status', 'Health status: 0 healthy, 1 warning, 2 critical.', [{ value: healthExitCode(report.status) }]);
  gauge('mongo_backup_health_check_timestamp_seconds', 'Unix time of the health check that wrote this file.', [{ value: Date.parse(report.timestamp) / 1000 }]);

  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = sample.labels
        ? `{${Object.entries(sample.labels)
            .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
            .join(',')}}`
        : '';
      lines.push(`${family.name}${labels} ${formatValue(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the metrics file atomically, world-readable so node_exporter can read it. */
export async function writePrometheusFile(file: string, report: HealthReport, activeAlerts: number): Promise<void> {
  // No mkdir: a missing directory is more likely a typo than something to create.
  await writeFileAtomic(file, renderPrometheus(report, activeAlerts), { mode: 0o644, createDir: false });
}
