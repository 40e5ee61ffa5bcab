/**
 * `replicate`: stream a backup's stored object from one target to another (no re-encryption, no
 * temporary file), check its SHA-256 on the way and again at the destination, then write the
 * manifest last. Idempotent: a destination that already holds the same backup is left alone.
 * Chains are copied whole (docs/PITR.md): an incremental goes only after every earlier link of its
 * chain is on the destination, the missing ones copied first, oldest first, each the same way.
 */
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { ResolvedConfig } from '../config/load.js';
import { BackupError, ErrorCodes, isNotFound, toBackupError } from '../errors.js';
import { bufferBody } from '../targets/body.js';
import type { Target } from '../targets/types.js';
import { buildCatalog, closeTargets, openTargets, readManifest, type CatalogEntry } from './catalog.js';
import type { EngineEvents } from './events.js';
import { HashingStream } from './hash.js';
import { MANIFEST_FILE, serializeManifest, type Manifest } from './manifest.js';
import { withCopyLock } from './object-lock.js';
import { verifyStoredObject } from './verify.js';

export interface ReplicateOptions {
  /** A backup id, 'latest', or undefined with allMissing. */
  ref?: string;
  allMissing: boolean;
  to: string;
  from?: string;
  signal: AbortSignal;
  events?: EngineEvents;
}

export interface ReplicateOutcome {
  backupId: string;
  from: string;
  to: string;
  action: 'copied' | 'already-present' | 'failed';
  bytes?: number;
  error?: { code: string; message: string };
}

export async function replicateBackups(config: ResolvedConfig, options: ReplicateOptions): Promise<ReplicateOutcome[]> {
  if (options.from === options.to) throw new BackupError(ErrorCodes.USAGE, '--from and --to name the same target');
  const [destination] = openTargets(config, [options.to]);
  const sources = openTargets(config, options.from ? [options.from] : []).filter((t) => t.name !== options.to);
  try {
    const catalog = await buildCatalog([...sources, destination!]);
    const onSource = catalog.backups.filter((b) => b.targets.some((n) => sources.some((s) => s.name === n)));
    let selected = onSource;
    if (options.allMissing) selected = onSource.filter((b) => !b.targets.includes(options.to));
    else if (options.ref === 'latest') selected = onSource.slice(0, 1);
    else selected = onSource.filter((b) => b.id === options.ref);
    if (!options.allMissing && selected.length === 0) {
      throw new BackupError(ErrorCodes.BACKUP_NOT_FOUND, `backup ${options.ref} was not found on ${sources.map((s) => s.name).join(', ')}`, {
        hint: 'run "mongo-backup list" to see the backups',
      });
    }
    const outcomes: ReplicateOutcome[] = [];
    const notCopied = new Set<string>();
    for (const step of replicationOrder(catalog.backups, selected, options.to)) {
      const outcome = 'blocked' in step ? blockedOutcome(step, options.to) : await replicateStep(step.entry, sources, destination!, notCopied, options);
      if (outcome.action === 'failed') notCopied.add(outcome.backupId);
      outcomes.push(outcome);
    }
    return outcomes;
  } finally {
    await closeTargets([...sources, destination!]);
  }
}

/** One backup to copy, or one that cannot be copied and why. */
export type ReplicationStep = { entry: CatalogEntry } | { blockedEntry: CatalogEntry; blocked: string };

/**
 * The selected backups oldest first, each preceded by the links of its chain the destination
 * lacks (oldest first), so no link is ever copied before its parent. A backup whose chain cannot
 * be completed (a link on no target) is not copied: at the destination it could restore nothing.
 */
export function replicationOrder(known: CatalogEntry[], selected: CatalogEntry[], to: string): ReplicationStep[] {
  const byId = new Map(known.map((entry) => [entry.id, entry]));
  const planned = new Set<string>();
  const steps: ReplicationStep[] = [];
  for (const entry of [...selected].sort((a, b) => a.id.localeCompare(b.id))) {
    if (planned.has(entry.id)) continue;
    const chain = earlierLinks(entry, byId);
    if ('missing' in chain) {
      steps.push({ blockedEntry: entry, blocked: `its chain is broken: link ${chain.missing} is on no target, so ${entry.id} was not replicated` });
      planned.add(entry.id);
      continue;
    }
    for (const link of [...chain.links, entry]) {
      if (planned.has(link.id) || (link !== entry && link.targets.includes(to))) continue;
      planned.add(link.id);
      steps.push({ entry: link });
    }
  }
  return steps;
}

/** An incremental's earlier links, base first, or the first one no target holds. */
function earlierLinks(entry: CatalogEntry, byId: Map<string, CatalogEntry>): { links: CatalogEntry[] } | { missing: string } {
  const links: CatalogEntry[] = [];
  const seen = new Set([entry.id]);
  for (let link = entry; link.manifest.type === 'INCREMENTAL' && link.manifest.parent !== undefined; ) {
    const parent = byId.get(link.manifest.parent);
    if (!parent) return { missing: link.manifest.parent };
    if (seen.has(parent.id)) break;
    seen.add(parent.id);
    links.unshift(parent);
    link = parent;
  }
  return { links };
}

function blockedOutcome(step: { blockedEntry: CatalogEntry; blocked: string }, to: string): ReplicateOutcome {
  return { backupId: step.blockedEntry.id, from: step.blockedEntry.targets.find((t) => t !== to) ?? '', to, action: 'failed', error: { code: ErrorCodes.BACKUP_NOT_FOUND, message: step.blocked } };
}

/** Copies one backup, unless its parent failed to reach the destination in this run. */
async function replicateStep(entry: CatalogEntry, sources: Target[], destination: Target, notCopied: Set<string>, options: ReplicateOptions): Promise<ReplicateOutcome> {
  const source = sources.find((s) => entry.targets.includes(s.name));
  const parent = entry.manifest.type === 'INCREMENTAL' ? entry.manifest.parent : undefined;
  if (parent !== undefined && notCopied.has(parent)) {
    const message = `its parent ${parent} did not reach ${destination.name}, so ${entry.id} was not replicated (it would continue no chain there)`;
    return { backupId: entry.id, from: source?.name ?? '', to: destination.name, action: 'failed', error: { code: ErrorCodes.BACKUP_NOT_FOUND, message } };
  }
  return replicateOne(source!, destination, entry.manifest, options);
}

async function replicateOne(source: Target, destination: Target, manifest: Manifest, options: ReplicateOptions): Promise<ReplicateOutcome> {
  const base = { backupId: manifest.id, from: source.name, to: destination.name };
  try {
    const existing = await readManifest(destination, manifest.id).catch((error: unknown) => {
      if (isNotFound(error) || toBackupError(error).code === ErrorCodes.BACKUP_NOT_FOUND) return undefined;
      throw error;
    });
    if (existing && existing.checksum === manifest.checksum) return { ...base, action: 'already-present' };
    const key = `${manifest.id}/${manifest.object}`;
    options.events?.phase?.('replicate', `copying ${manifest.id} from ${source.name} to ${destination.name}`);
    const hash = new HashingStream((b) => options.events?.progress?.('replicate', b, manifest.storedSize));
    const body = await source.load(key, { signal: options.signal });
    await destination.save(key, pipelineToReadable(body, hash, options.signal), { signal: options.signal, size: manifest.storedSize });
    if (hash.digest() !== manifest.checksum) {
      await destination.remove(key).catch(() => undefined);
      throw new BackupError(ErrorCodes.CHECKSUM_MISMATCH, `the copy of ${manifest.id} on ${source.name} does not match its manifest; nothing was replicated`, {
        hint: `run "mongo-backup verify ${manifest.id} --target ${source.name}"`,
      });
    }
    await verifyStoredObject(destination, key, manifest.storedSize, manifest.checksum, options.signal);
    const copy = await withCopyLock(destination, manifest); // the destination's own lock, if it locks
    await destination.save(`${manifest.id}/${MANIFEST_FILE}`, bufferBody(Buffer.from(serializeManifest(copy), 'utf8')), {
      contentType: 'application/json',
      signal: options.signal,
    });
    return { ...base, action: 'copied', bytes: manifest.storedSize };
  } catch (error) {
    const e = toBackupError(error);
    if (e.code === ErrorCodes.INTERRUPTED || options.signal.aborted) throw e;
    return { ...base, action: 'failed', error: { code: e.code, message: e.message } };
  }
}

/** Source → hash as one Readable for the destination's save(); errors propagate to the consumer. */
function pipelineToReadable(source: Readable, hash: HashingStream, signal: AbortSignal): Readable {
  pipeline(source, hash, { signal }).catch((error: unknown) => hash.destroy(error as Error));
  return hash;
}
