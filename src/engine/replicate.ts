/**
 * `replicate`: stream a backup's stored object from one target to another (no re-encryption, no
 * temporary file), check its SHA-256 on the way and again at the destination, then write the
 * manifest last. Idempotent: a destination that already holds the same backup is left alone.
 */
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { ResolvedConfig } from '../config/load.js';
import { BackupError, ErrorCodes, isNotFound, toBackupError } from '../errors.js';
import { bufferBody } from '../targets/body.js';
import type { Target } from '../targets/types.js';
import { buildCatalog, closeTargets, openTargets, readManifest } from './catalog.js';
import type { EngineEvents } from './events.js';
import { HashingStream } from './hash.js';
import { MANIFEST_FILE, serializeManifest, type Manifest } from './manifest.js';
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
    // Oldest first, so an interrupted --all-missing run leaves the older history complete.
    for (const entry of [...selected].reverse()) {
      const source = sources.find((s) => entry.targets.includes(s.name))!;
      outcomes.push(await replicateOne(source, destination!, entry.manifest, options));
    }
    return outcomes;
  } finally {
    await closeTargets([...sources, destination!]);
  }
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
    await destination.save(`${manifest.id}/${MANIFEST_FILE}`, bufferBody(Buffer.from(serializeManifest(manifest), 'utf8')), {
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
