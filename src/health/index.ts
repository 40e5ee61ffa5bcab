/**
 * `health` end to end: gather inputs, evaluate, turn issues into alerts (raising new conditions,
 * auto-resolving the ones that cleared), and optionally write the Prometheus textfile.
 */
import { applyAlertChanges, isActive, loadAlerts, type AlertSettings } from '../state/alerts.js';
import type { Target } from '../targets/types.js';
import { evaluateHealth, HEALTH_ISSUE_TYPES, type HealthBackup, type HealthConfig, type HealthReport } from './evaluate.js';
import { gatherHealthInputs, type GatherOptions } from './gather.js';
import { writePrometheusFile } from './prometheus.js';

export * from './evaluate.js';
export { gatherHealthInputs, withTimeout, DEFAULT_TARGET_TIMEOUT_MS } from './gather.js';
export { computeRunMetrics, type RunMetrics } from './metrics.js';
export { renderPrometheus, writePrometheusFile } from './prometheus.js';

export interface HealthRunOptions<B extends HealthBackup = HealthBackup> extends GatherOptions<B> {
  /** Raise and auto-resolve alerts for the checks (health does; metrics does not). */
  syncAlerts: boolean;
  prometheusFile?: string;
  retryDelaysMs?: number[];
}

export interface HealthRun {
  report: HealthReport;
  activeAlerts: number;
  /** Set when --prometheus could not be written (the checks themselves still ran). */
  prometheusError?: string;
}

export async function runHealthCheck<B extends HealthBackup>(
  config: AlertSettings & { health?: HealthConfig },
  targets: Target[],
  options: HealthRunOptions<B>,
): Promise<HealthRun> {
  const warn = options.warn ?? (() => {});
  const inputs = await gatherHealthInputs(config, targets, config.stateDir, options);
  const report = evaluateHealth(inputs);
  if (options.syncAlerts) await syncHealthAlerts(config, report, options);
  const activeAlerts = await countActiveAlerts(config.stateDir, warn);
  const run: HealthRun = { report, activeAlerts };
  if (options.prometheusFile) {
    try {
      await writePrometheusFile(options.prometheusFile, report, activeAlerts);
    } catch (error) {
      run.prometheusError = `could not write Prometheus metrics to ${options.prometheusFile}: ${(error as Error).message}`;
    }
  }
  return run;
}

/**
 * Each issue raises (or repeats) the alert for its (type, target); every open alert of a health
 * check type whose condition is no longer reported is resolved automatically.
 */
export async function syncHealthAlerts(
  settings: AlertSettings,
  report: HealthReport,
  options: { warn?: (message: string) => void; now?: Date; retryDelaysMs?: number[] } = {},
): Promise<void> {
  const current = new Set(report.issues.map((issue) => `${issue.type}\u0000${issue.target ?? ''}`));
  await applyAlertChanges(
    settings,
    report.issues.map((issue) => ({ level: issue.level, type: issue.type, message: issue.message, ...(issue.target ? { target: issue.target } : {}) })),
    (alert) => HEALTH_ISSUE_TYPES.includes(alert.type) && !current.has(`${alert.type}\u0000${alert.target ?? ''}`),
    {
      ...(options.warn ? { warn: options.warn } : {}),
      ...(options.now ? { now: options.now } : {}),
      ...(options.retryDelaysMs ? { retryDelaysMs: options.retryDelaysMs } : {}),
    },
  );
}

export async function countActiveAlerts(stateDir: string, warn: (message: string) => void): Promise<number> {
  try {
    return (await loadAlerts(stateDir, warn)).filter(isActive).length;
  } catch (error) {
    warn(`could not read the alert log: ${(error as Error).message}`);
    return 0;
  }
}
