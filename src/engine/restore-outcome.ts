/**
 * What a restore that did not finish left at the destination, said exactly (docs/REFERENCE.md#failure-semantics).
 *
 * - Namespaces that did not exist before the restore are dropped again: for them the destination is
 *   as it was. This undoes an interrupted restore (SIGINT/SIGTERM) and, where every namespace is
 *   new, a restore whose data failed an integrity check half-way.
 * - Namespaces that existed (`--force` into them, or `--drop`) cannot be put back: each is counted
 *   and named with its state — restored completely, partly restored, unchanged — in the message
 *   and in the error's details (--json).
 */
import { BackupError, ErrorCodes, isIntegrityFailure } from '../errors.js';
import { countRestored, dropNamespaces } from './mongo-server.js';
import type { DestinationCheck } from './restore.js';

/**
 * `changed`: it holds other documents than before, and how many a complete restore gives is not
 * known (a point-in-time replay), so it may or may not be complete.
 */
export type NamespaceState = 'dropped' | 'not-dropped' | 'restored' | 'partial' | 'changed' | 'unchanged' | 'unknown';

/** One namespace after a restore that did not finish. */
export interface NamespaceOutcome {
  namespace: string;
  state: NamespaceState;
  /** Documents it holds now (namespaces that existed before and could be counted). */
  documents?: number;
  /** Documents it would hold once restored completely (unknown for a point-in-time replay). */
  expected?: number;
  /** Documents it held before the restore. */
  before?: number;
}

export function interruptedRestoreError(): BackupError {
  return new BackupError(ErrorCodes.INTERRUPTED, 'restore interrupted');
}

/** After the data is in, a signal that arrived meanwhile still makes the restore an interrupted one. */
export function throwIfInterrupted(signal: AbortSignal): void {
  if (signal.aborted) throw interruptedRestoreError();
}

/**
 * The error to report for a restore that failed or was interrupted once mongorestore had started,
 * after undoing what can be undone. `expected`: each namespace's count once completely restored.
 */
export async function afterFailedRestore(
  uri: string,
  check: DestinationCheck,
  expected: Record<string, number> | undefined,
  error: unknown,
  signal: AbortSignal,
): Promise<unknown> {
  if (signal.aborted || (error instanceof BackupError && error.code === ErrorCodes.INTERRUPTED)) return interruptedRestore(uri, check, expected);
  if (check.undoable && isIntegrityFailure(error)) return undoPartialRestore(uri, check.destinations, error);
  return error;
}

async function interruptedRestore(uri: string, check: DestinationCheck, expected: Record<string, number> | undefined): Promise<BackupError> {
  const existed = new Set(check.existing);
  const created = check.destinations.filter((ns) => !existed.has(ns));
  const kept = check.destinations.filter((ns) => existed.has(ns));
  const notDropped = new Set(created.length > 0 ? await dropNamespaces(uri, created).catch(() => created) : []);
  const wanted = Object.fromEntries(kept.map((ns) => [ns, expected?.[ns] ?? check.before[ns] ?? 0]));
  const counts = kept.length > 0 ? await countRestored(uri, wanted).catch(() => undefined) : {};
  const outcomes: NamespaceOutcome[] = [
    ...created.map((namespace): NamespaceOutcome => ({ namespace, state: notDropped.has(namespace) ? 'not-dropped' : 'dropped' })),
    ...kept.map((namespace) => existingOutcome(namespace, counts?.[namespace], expected?.[namespace], check.before[namespace] ?? 0)),
  ];
  const undone = outcomes.every((o) => o.state === 'dropped' || o.state === 'unchanged' || o.state === 'restored');
  return new BackupError(ErrorCodes.INTERRUPTED, `restore interrupted; ${describeOutcomes(outcomes)}`, {
    ...(undone ? {} : { hint: 'the namespaces not restored completely hold a part of the backup: restore them again with --drop (select them with --ns-include)' }),
    details: { namespaces: outcomes },
  });
}

function existingOutcome(namespace: string, documents: number | undefined, expected: number | undefined, before: number): NamespaceOutcome {
  const counts = { ...(documents !== undefined ? { documents } : {}), ...(expected !== undefined ? { expected } : {}), before };
  if (documents === undefined) return { namespace, state: 'unknown', ...counts };
  if (expected !== undefined && documents === expected) return { namespace, state: 'restored', ...counts };
  if (documents === before) return { namespace, state: 'unchanged', ...counts };
  return { namespace, state: expected === undefined ? 'changed' : 'partial', ...counts };
}

/** One sentence per state, every namespace named. */
export function describeOutcomes(outcomes: NamespaceOutcome[]): string {
  if (outcomes.length === 0) return 'nothing had been written to the destination';
  if (outcomes.every((o) => o.state === 'dropped')) {
    return `the destination is as it was: the namespaces it had created were dropped again (${outcomes.map((o) => o.namespace).join(', ')})`;
  }
  const named = (state: NamespaceState, text: (o: NamespaceOutcome) => string): string[] => outcomes.filter((o) => o.state === state).map(text);
  const groups: Array<[string, string[]]> = [
    ['dropped again (they did not exist before)', named('dropped', (o) => o.namespace)],
    ['NOT dropped (dropping failed), may hold part of the backup', named('not-dropped', (o) => o.namespace)],
    ['partly restored', named('partial', (o) => `${o.namespace} (${o.documents} documents, ${o.expected !== undefined ? `${o.expected} when complete, ` : ''}${o.before} before)`)],
    ['changed, possibly not completely restored', named('changed', (o) => `${o.namespace} (${o.documents} documents, ${o.before} before)`)],
    ['restored completely', named('restored', (o) => `${o.namespace} (${o.documents} documents)`)],
    ['unchanged', named('unchanged', (o) => `${o.namespace} (${o.documents} documents, as before)`)],
    ['state unknown (counting failed)', named('unknown', (o) => o.namespace)],
  ];
  return groups
    .filter(([, names]) => names.length > 0)
    .map(([label, names]) => `${label}: ${names.join(', ')}`)
    .join('; ');
}

/** An integrity failure half-way through a restore into new namespaces: drop them again. */
export async function undoPartialRestore(uri: string, namespaces: string[], error: BackupError): Promise<BackupError> {
  const notDropped = await dropNamespaces(uri, namespaces).catch(() => namespaces);
  const outcome =
    notDropped.length === 0
      ? 'nothing was left at the destination (the namespaces restored until then were new, and were dropped again)'
      : `the destination may hold part of the backup in ${notDropped.join(', ')}: dropping them failed`;
  return new BackupError(error.code, `${error.message}; ${outcome}`, {
    ...(error.hint ? { hint: error.hint } : {}),
    ...(error.details ? { details: error.details } : {}),
    cause: error,
  });
}
