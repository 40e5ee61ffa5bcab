/**
 * The catalog: what backups exist, read from the targets themselves (the source of truth, docs/REFERENCE.md#storage-layout),
 * so list/show/restore/verify work on a fresh machine with only the configuration.
 */
import { BackupError, ErrorCodes, isNotFound, toBackupError } from '../errors.js';
import type { ResolvedConfig } from '../config/load.js';
import { createTarget } from '../targets/registry.js';
import { withRetry } from '../targets/retry.js';
import { UnavailableTarget } from '../targets/unavailable.js';
import type { ObjectInfo, Target } from '../targets/types.js';
import { mapLimit, readAll } from '../streams.js';
import { isBackupId, timeOfBackupId } from './ids.js';
import { MANIFEST_FILE, parseManifest, type Manifest } from './manifest.js';
import { drillKeysOf } from './drills.js';
import { buildChains, chainWindow, lastLink, type Chain, type Orphan, type RestoreWindow } from '../pitr/chain.js';
import { formatTimestamp } from '../pitr/oplog.js';

export interface BackupEntry {
  id: string;
  /** COMPLETED: a valid manifest; INCOMPLETE: no manifest (in progress, failed or half-deleted); a damaged manifest is INCOMPLETE with `error`. */
  status: 'COMPLETED' | 'INCOMPLETE';
  time: Date;
  manifest?: Manifest;
  objects: ObjectInfo[];
  error?: string;
}

/** Builds the configured targets (all, or the named ones; unknown names are a usage error). */
export function openTargets(config: ResolvedConfig, names: string[] = []): Target[] {
  const unknown = names.filter((n) => !config.targets.some((t) => t.name === n));
  if (unknown.length > 0) {
    throw new BackupError(ErrorCodes.TARGET_UNKNOWN, `unknown target ${unknown.map((n) => `"${n}"`).join(', ')}`, {
      hint: `configured targets: ${config.targets.map((t) => t.name).join(', ')}`,
    });
  }
  const selected = names.length === 0 ? config.targets : config.targets.filter((t) => names.includes(t.name));
  return selected.map((t) => (t.unavailable ? new UnavailableTarget(t.name, t.type, t.unavailable) : wrapTarget(createTarget(t), config)));
}

/** Every opened target retries transient errors with back-off (docs/TARGETS.md#retries). */
function wrapTarget(target: Target, config: ResolvedConfig): Target {
  return withRetry(target, { retries: config.retries });
}

export async function closeTargets(targets: Target[]): Promise<void> {
  await Promise.all(targets.map((t) => t.close().catch(() => undefined)));
}

export async function readManifest(target: Target, id: string): Promise<Manifest> {
  const where = `${id}/${MANIFEST_FILE} on ${target.name}`;
  let text: string;
  try {
    text = (await readAll(await target.load(`${id}/${MANIFEST_FILE}`), 16 * 1024 * 1024)).toString('utf8');
  } catch (error) {
    if (isNotFound(error)) {
      throw new BackupError(ErrorCodes.BACKUP_NOT_FOUND, `backup ${id} has no manifest on target ${target.name}`, {
        hint: `run "mongo-backup list" to see the backups there; a folder without a manifest is incomplete`,
      });
    }
    throw error;
  }
  const manifest = parseManifest(text, where);
  if (manifest.id !== id) {
    throw new BackupError(ErrorCodes.INTEGRITY, `manifest ${where} names backup ${manifest.id}, not ${id}`);
  }
  return manifest;
}

/**
 * Newest first by the manifest's start time (millisecond precision), then by id: ids carry only
 * the second, so two backups started in the same second (a full and an incremental from two
 * timers, say) would otherwise order by their random suffix and `latest` could name the older.
 */
function newestFirst(aTime: number, aId: string, bTime: number, bId: string): number {
  if (aTime !== bTime) return bTime - aTime;
  return aId < bId ? 1 : aId > bId ? -1 : 0;
}

/** Every backup folder on one target, newest first, with manifests read. */
export async function listBackups(target: Target): Promise<BackupEntry[]> {
  const folders = new Map<string, ObjectInfo[]>();
  for await (const object of target.list('')) {
    const slash = object.key.indexOf('/');
    if (slash <= 0) continue;
    const id = object.key.slice(0, slash);
    if (!isBackupId(id)) continue;
    let objects = folders.get(id);
    if (!objects) folders.set(id, (objects = []));
    objects.push(object);
  }
  const entries = await mapLimit([...folders.entries()], 8, async ([id, objects]) => entryFor(target, id, objects));
  return entries.sort((a, b) => newestFirst(a.time.getTime(), a.id, b.time.getTime(), b.id));
}

async function entryFor(target: Target, id: string, objects: ObjectInfo[]): Promise<BackupEntry> {
  const time = timeOfBackupId(id) ?? new Date(0);
  if (!objects.some((o) => o.key === `${id}/${MANIFEST_FILE}`)) return { id, status: 'INCOMPLETE', time, objects };
  try {
    const manifest = await readManifest(target, id);
    return { id, status: 'COMPLETED', time: new Date(manifest.startTime), manifest, objects };
  } catch (error) {
    return { id, status: 'INCOMPLETE', time, objects, error: toBackupError(error).message };
  }
}

export interface CatalogEntry {
  id: string;
  manifest: Manifest;
  /** Targets holding a complete copy, in configuration order. */
  targets: string[];
}

export interface Catalog {
  backups: CatalogEntry[];
  incomplete: Array<{ id: string; target: string; error?: string }>;
  /** Targets that could not be listed, with the reason. */
  unreachable: Array<{ target: string; error: BackupError }>;
  /** Each listed target's completed manifests, in configuration order: chains exist per target (docs/PITR.md). */
  byTarget: Array<{ target: string; manifests: Manifest[]; drillKeys: Record<string, string[]> }>;
}

/** Merges the listings of several targets; one unreachable target does not hide the others' backups. */
export async function buildCatalog(targets: Target[]): Promise<Catalog> {
  const listings = await Promise.all(
    targets.map(async (target) => {
      try {
        return { target, entries: await listBackups(target) };
      } catch (error) {
        return { target, error: toBackupError(error) };
      }
    }),
  );
  const byId = new Map<string, CatalogEntry>();
  const catalog: Catalog = { backups: [], incomplete: [], unreachable: [], byTarget: [] };
  for (const listing of listings) {
    if ('error' in listing && listing.error) {
      catalog.unreachable.push({ target: listing.target.name, error: listing.error });
      continue;
    }
    const entries = listing.entries ?? [];
    catalog.byTarget.push({
      target: listing.target.name,
      manifests: entries.flatMap((e) => (e.status === 'COMPLETED' && e.manifest ? [e.manifest] : [])),
      // Drill records sit inside backup folders (docs/FORMAT.md#drill-records); their keys come with the listing.
      drillKeys: Object.fromEntries(entries.flatMap((e) => (e.status === 'COMPLETED' ? [[e.id, drillKeysOf(e.objects)] as const] : [])).filter(([, keys]) => keys.length > 0)),
    });
    for (const entry of listing.entries ?? []) {
      if (entry.status !== 'COMPLETED' || !entry.manifest) {
        catalog.incomplete.push({ id: entry.id, target: listing.target.name, ...(entry.error ? { error: entry.error } : {}) });
        continue;
      }
      const existing = byId.get(entry.id);
      if (existing) existing.targets.push(listing.target.name);
      else byId.set(entry.id, { id: entry.id, manifest: entry.manifest, targets: [listing.target.name] });
    }
  }
  catalog.backups = [...byId.values()].sort((a, b) => newestFirst(Date.parse(a.manifest.startTime), a.id, Date.parse(b.manifest.startTime), b.id));
  return catalog;
}

export interface ResolvedBackup {
  id: string;
  manifest: Manifest;
  /** Targets that hold a complete copy (the preferred one first). */
  holders: Target[];
}

/**
 * Resolves `latest` or an id to a backup and the targets that hold it. With `from`, only that target
 * is consulted. Throws BACKUP_NOT_FOUND with the list of what exists.
 */
export async function resolveBackup(targets: Target[], ref: string): Promise<ResolvedBackup> {
  return resolveInCatalog(await buildCatalog(targets), targets, ref);
}

/** resolveBackup on a catalog already built (for commands that need the catalog too). */
export function resolveInCatalog(catalog: Catalog, targets: Target[], ref: string): ResolvedBackup {
  if (catalog.backups.length === 0 && catalog.unreachable.length === targets.length && targets.length > 0) {
    throw catalog.unreachable[0]!.error;
  }
  const entry = ref === 'latest' ? catalog.backups[0] : catalog.backups.find((b) => b.id === ref);
  if (!entry) {
    const incomplete = catalog.incomplete.find((b) => b.id === ref);
    if (incomplete) {
      throw new BackupError(ErrorCodes.INCOMPLETE_BACKUP, `backup ${ref} on ${incomplete.target} is incomplete (no valid manifest)${incomplete.error ? `: ${incomplete.error}` : ''}`, {
        hint: 'it cannot be restored; choose another backup with "mongo-backup list"',
      });
    }
    const where = targets.map((t) => t.name).join(', ');
    throw new BackupError(
      ErrorCodes.BACKUP_NOT_FOUND,
      ref === 'latest' ? `no completed backup found on ${where}` : `backup ${ref} was not found on ${where}`,
      { hint: ref === 'latest' ? 'run "mongo-backup create" first' : 'run "mongo-backup list" to see the available backups' },
    );
  }
  const holders = targets.filter((t) => entry.targets.includes(t.name));
  return { id: entry.id, manifest: entry.manifest, holders };
}


// ---- point-in-time chains (docs/PITR.md) ----

/** The manifests of one target's backups (those that have a valid one): what its chains are built from. */
export async function manifestsOn(target: Target): Promise<Manifest[]> {
  return (await listBackups(target)).flatMap((entry) => (entry.manifest ? [entry.manifest] : []));
}

/** One target's chains, orphans and restorable windows. */
export interface TargetChains {
  target: string;
  chains: Chain<Manifest>[];
  orphans: Orphan<Manifest>[];
  windows: RestoreWindow[];
}

export function chainsOnTarget(target: string, manifests: Manifest[]): TargetChains {
  const { chains, orphans } = buildChains(manifests);
  const present = new Set(manifests.map((m) => m.id));
  // A parent that is not there at all is the common case (deleted, not replicated): say so plainly.
  const explained = orphans.map((o) =>
    o.member.parent !== undefined && !present.has(o.member.parent) ? { ...o, reason: `its parent ${o.member.parent} is missing on this target` } : o,
  );
  return { target, chains, orphans: explained, windows: chains.map(chainWindow) };
}

/** Where one backup sits in the chains of a target. */
export interface ChainPosition {
  /** The links from the base to this backup, as far as they are on the target (base first). */
  links: string[];
  /** Every link is there and each starts where its parent ended. */
  intact: boolean;
  /** Why the chain is broken, naming the gap. */
  broken?: string;
  /** The chain's restorable window, when intact. */
  window?: RestoreWindow;
}

/**
 * The chain of backup `id` among one target's manifests: undefined for a backup that is in no
 * chain by design (a full backup that is not point-in-time).
 */
export function chainPosition(manifests: Manifest[], id: string): ChainPosition | undefined {
  const { chains, orphans } = buildChains(manifests);
  for (const chain of chains) {
    const links = [chain.base, ...chain.increments];
    const at = links.findIndex((m) => m.id === id);
    if (at >= 0) return { links: links.slice(0, at + 1).map((m) => m.id), intact: true, window: chainWindow(chain) };
  }
  const orphan = orphans.find((o) => o.member.id === id);
  if (!orphan) return undefined;
  const byId = new Map(manifests.filter((m) => m.status === 'COMPLETED').map((m) => [m.id, m]));
  const links: string[] = [];
  let current: Manifest = orphan.member;
  let broken = orphan.reason;
  for (;;) {
    links.unshift(current.id);
    const parent = current.parent === undefined ? undefined : byId.get(current.parent);
    if (!parent) {
      broken = missingParent(current, chains);
      if (current.base !== undefined && current.base !== current.parent && byId.has(current.base)) links.unshift(current.base);
      break;
    }
    const parentOrphan = orphans.find((o) => o.member.id === parent.id);
    if (!parentOrphan) {
      broken = `${current.id}: ${orphans.find((o) => o.member.id === current.id)?.reason ?? orphan.reason}`;
      links.unshift(...pathTo(chains, parent.id));
      break;
    }
    current = parent;
  }
  return { links, intact: false, broken };
}

/** The links from a chain's base to `id`, or [id] when it starts no chain. */
function pathTo(chains: Chain<Manifest>[], id: string): string[] {
  for (const chain of chains) {
    const links = [chain.base, ...chain.increments];
    const at = links.findIndex((m) => m.id === id);
    if (at >= 0) return links.slice(0, at + 1).map((m) => m.id);
  }
  return [id];
}

function missingParent(link: Manifest, chains: Chain<Manifest>[]): string {
  const from = link.oplog ? `; ${link.id} starts after ${link.oplog.fromTime} (${formatTimestamp(link.oplog.from)}) and no link here holds the oplog up to that moment` : '';
  const chain = chains.find((c) => c.base.id === link.base);
  const reach = chain ? `; the chain of ${chain.base.id} reaches only ${lastLink(chain).id} (${lastLink(chain).oplog!.toTime})` : link.base ? `; its base ${link.base} is not on this target` : '';
  return `gap: ${link.parent ?? '(no parent)'}, the parent of ${link.id}, is missing on this target${from}${reach}`;
}
