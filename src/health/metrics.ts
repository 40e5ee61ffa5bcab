/**
 * Totals for `metrics` (docs/REFERENCE.md#metrics). Run counts, success rate, average duration and size come from the
 * run journal's create runs (so they describe backups made from this machine); totalSize is what
 * the backups occupy in storage: the stored size of every COMPLETED copy on the reachable targets,
 * read from the manifests the catalog has already loaded (no extra requests).
 */
import type { RunRecord } from '../state/journal.js';

export interface RunMetrics {
  /** Create runs in the journal. */
  totalBackups: number;
  /** SUCCESS or PARTIAL (a backup was produced). */
  successfulBackups: number;
  /** FAILED or INTERRUPTED. */
  failedBackups: number;
  /** successfulBackups / totalBackups; null before the first run. */
  successRate: number | null;
  /** Mean duration of successful create runs, ms; null when there are none. */
  averageDuration: number | null;
  /** Mean stored size of successful create runs, bytes; null when there are none. */
  averageSize: number | null;
  /** Stored bytes of every COMPLETED copy on the reachable targets. */
  totalSize: number;
}

export interface StoredCopy {
  status: string;
  manifest?: { storedSize?: number };
}

export function computeRunMetrics(runs: RunRecord[], completedCopies: StoredCopy[]): RunMetrics {
  const createRuns = runs.filter((run) => run.command === 'create');
  const successful = createRuns.filter((run) => run.status === 'SUCCESS' || run.status === 'PARTIAL');
  const sizes = successful.map((run) => run.storedSize ?? run.size).filter((size): size is number => typeof size === 'number');
  const mean = (values: number[]): number | null => (values.length === 0 ? null : Math.round(values.reduce((a, b) => a + b, 0) / values.length));
  return {
    totalBackups: createRuns.length,
    successfulBackups: successful.length,
    failedBackups: createRuns.length - successful.length,
    successRate: createRuns.length === 0 ? null : Math.round((successful.length / createRuns.length) * 10_000) / 10_000,
    averageDuration: mean(successful.map((run) => run.duration)),
    averageSize: mean(sizes),
    totalSize: completedCopies.filter((copy) => copy.status === 'COMPLETED').reduce((sum, copy) => sum + (copy.manifest?.storedSize ?? 0), 0),
  };
}
