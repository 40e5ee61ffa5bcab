/**
 * Point-in-time restore (docs/PITR.md): restore a chain's full backup and replay its oplog and the
 * later links' slices with one `mongorestore --oplogReplay`, stopping at the chosen moment.
 *
 * Order of work, so nothing unproven or unhonourable reaches the destination:
 * 1. choose the chain and its links (from `--from`, or the first target that can restore the moment);
 * 2. check the keys of every link, and the destination as `restore` does;
 * 3. verify every link's stored object (SHA-256), unless --no-verify;
 * 4. read the later links' slices once through the replay decisions: the entries that will be
 *    applied, the last of them, and any entry a namespace selection cannot honour (exit 2);
 * 5. stream the full backup through the archive rewriter, with the slices appended, into mongorestore.
 */
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ResolvedConfig } from '../config/load.js';
import type { DecryptKeys } from '../crypto/index.js';
import { BackupError, ErrorCodes } from '../errors.js';
import { documentsOf, rewriteArchive } from '../archive/rewrite.js';
import { namespaceSelector, planNamespaces } from '../archive/namespaces.js';
import { buildChains, chainWindow, planPointInTime, type Chain, type RestorePlan } from '../pitr/chain.js';
import { formatTimestamp, replayDecider, viewOplogEntry, type OplogEntryView } from '../pitr/oplog.js';
import type { Target } from '../targets/types.js';
import { closeTargets, manifestsOn, openTargets } from './catalog.js';
import type { Manifest } from './manifest.js';
import { hostsOf } from './mongo-server.js';
import { checkDestination, decryptKeysFor, destinationUri, parallelismArgs, proveBeforeReading, restoreCheckpointStages, type RestoreOptions, type RestoreResult } from './restore.js';
import { afterFailedRestore, throwIfInterrupted } from './restore-outcome.js';
import { runToolPipeline } from './tool-pipeline.js';
import { decodeStages } from './verify.js';

const SLICE_NAMESPACE = 'local.oplog.rs';

/** What a point-in-time restore replayed, for people and for --json. */
export interface ReplaySummary {
  base: string;
  increments: string[];
  /** The moment asked for (ISO), or undefined for the newest restore point. */
  notAfter?: string;
  /** Entries of the later links that are (or, in a dry run, would be) applied, after the selection. */
  sliceEntries: number;
  /** The full backup's own oplog entries (replayed as the selection allows). */
  baseEntries: number;
  /** The last entry of the later links that is applied. */
  lastApplied?: { time: string; ts: string; op: string; ns: string };
}

type ChainPlan = RestorePlan<Manifest> & { target: Target };

export async function restorePointInTime(config: ResolvedConfig, options: RestoreOptions): Promise<RestoreResult> {
  const uri = destinationUri(config, options);
  const targets = openTargets(config, options.from ? [options.from] : []);
  const events = options.events;
  try {
    const plan = await choosePlan(targets, options);
    const links = [plan.base, ...plan.increments];
    const keys = new Map(links.map((link) => [link.id, decryptKeysFor(config, link)]));
    const namespaces = planNamespaces(withoutOplog(plan.base.namespaces), options.namespaces);
    const destination = await checkDestination(config, uri, namespaces, options);
    events?.phase?.('check', `point-in-time restore from ${plan.target.name}: ${plan.base.id} + ${plan.increments.length} incremental(s) → ${hostsOf(uri)}`);
    if (options.verify) {
      for (const link of links) await proveBeforeReading(plan.target, link, false, options.signal, events);
    }
    const selector = namespaceSelector(options.namespaces);
    const decide = replayDecider({ selector, ...(plan.notAfterMs !== undefined ? { notAfterMs: plan.notAfterMs } : {}) });
    const summary = await scanSlices(plan, keys, decide, options.signal);
    const result: RestoreResult = {
      backupId: lastOf(links).id,
      restoredAt: new Date().toISOString(),
      from: plan.target.name,
      destination: hostsOf(uri),
      dryRun: options.dryRun,
      namespaces: namespaces.map((p) => ({ ...p, checked: false })),
      warnings: destination.refusal ? [`without --drop or --force the restore would refuse: ${destination.refusal.message}`] : [],
      pointInTime: summary,
    };
    if (options.dryRun) return result;

    events?.phase?.('restore', `restoring ${plan.base.id} and replaying ${summary.baseEntries + summary.sliceEntries} oplog entries with mongorestore`);
    try {
      await replayIntoMongorestore(config, uri, plan, keys, options, decide, selector.identity ? undefined : (ns) => selector.map(ns));
      throwIfInterrupted(options.signal);
    } catch (error) {
      // No expected counts: a namespace at the moment holds what the replay made of it.
      throw await afterFailedRestore(uri, destination, undefined, error, options.signal);
    }
    // Counts after a replay are the moment's, not the full backup's: there is nothing to compare them with.
    result.restoredAt = new Date().toISOString();
    return result;
  } finally {
    await closeTargets(targets);
  }
}

function lastOf<T>(items: T[]): T {
  return items[items.length - 1]!;
}

/** The full backup's namespaces without its oplog, which is replayed rather than restored. */
function withoutOplog(namespaces: Record<string, number>): Record<string, number> {
  const { oplog: _oplog, ...collections } = namespaces;
  return collections;
}

async function chainsOn(target: Target): Promise<Chain<Manifest>[]> {
  const manifests = await manifestsOn(target);
  return buildChains(manifests).chains;
}

/** The chain and links that restore the moment (or the incremental named by `ref`), on the first target that can. */
async function choosePlan(targets: Target[], options: RestoreOptions): Promise<ChainPlan> {
  const problems: string[] = [];
  for (const target of targets) {
    const chains = await chainsOn(target);
    if (options.toTime === undefined) {
      const plan = planThrough(chains, options.ref);
      if (plan) return { ...plan, target };
      continue;
    }
    try {
      return { ...planPointInTime(chains, options.toTime), target };
    } catch (error) {
      const windows = chains.map(chainWindow).map((w) => `${w.from} – ${w.to}`);
      problems.push(`${target.name}: ${windows.length > 0 ? windows.join('; ') : 'no chain'}`);
      if (!(error instanceof BackupError)) throw error;
    }
  }
  if (options.toTime === undefined) {
    throw new BackupError(ErrorCodes.INTEGRITY, `incremental ${options.ref} belongs to no intact chain on ${targets.map((t) => t.name).join(', ')}`, {
      hint: 'a link before it is missing or damaged: `mongo-backup verify` it, or restore another backup or moment',
    });
  }
  const moment = options.toTime === 'latest' ? 'the newest restore point' : new Date(options.toTime).toISOString();
  throw new BackupError(ErrorCodes.NOT_FOUND, `no target holds a chain that can restore ${moment}`, {
    hint: `restorable windows: ${problems.join('; ')}`,
  });
}

/** The links through the backup `id` (a chain's full or incremental), replayed to its end. */
function planThrough(chains: Chain<Manifest>[], id: string): RestorePlan<Manifest> | undefined {
  for (const chain of chains) {
    const at = chain.increments.findIndex((link) => link.id === id);
    if (at >= 0) return { base: chain.base, increments: chain.increments.slice(0, at + 1) };
    if (chain.base.id === id) return { base: chain.base, increments: [] };
  }
  return undefined;
}

/** One link's plain archive, decrypted and decompressed; `check` proves it whole once read. */
async function decodedLink(target: Target, link: Manifest, keys: DecryptKeys, signal: AbortSignal): Promise<{ archive: Readable; check(): void }> {
  const decode = decodeStages(link, keys, undefined, 'restore');
  const stored = await target.load(`${link.id}/${link.object}`, { signal });
  const archive = new PassThrough();
  // A failure anywhere reaches the reader through `archive`; a reader that stops early stops the load.
  pipeline([stored, ...decode.stages, archive]).catch((error: unknown) => archive.destroy(error as Error));
  return { archive, check: () => decode.check() };
}

/** The later links' entries in order (in batches), each link's archive proven whole when its entries are done. */
async function* sliceEntries(plan: ChainPlan, keys: Map<string, DecryptKeys>, signal: AbortSignal): AsyncGenerator<Buffer[]> {
  for (const link of plan.increments) {
    const { archive, check } = await decodedLink(plan.target, link, keys.get(link.id)!, signal);
    let complete = false;
    try {
      yield* documentsOf(archive, SLICE_NAMESPACE);
      complete = true;
    } finally {
      if (!complete) archive.destroy();
    }
    check();
  }
}

async function scanSlices(plan: ChainPlan, keys: Map<string, DecryptKeys>, decide: ReturnType<typeof replayDecider>, signal: AbortSignal): Promise<ReplaySummary> {
  let applied = 0;
  let last: OplogEntryView | undefined;
  let lastKept: Buffer | undefined;
  scan: for await (const batch of sliceEntries(plan, keys, signal)) {
    for (const entry of batch) {
      const decision = decide(entry);
      if (decision === 'stop') break scan;
      if (decision === 'drop') continue;
      applied++;
      lastKept = decision.keep;
    }
  }
  if (lastKept) last = viewOplogEntry(lastKept);
  return {
    base: plan.base.id,
    increments: plan.increments.map((link) => link.id),
    ...(plan.notAfterMs !== undefined ? { notAfter: new Date(plan.notAfterMs).toISOString() } : {}),
    sliceEntries: applied,
    baseEntries: plan.base.oplog?.entries ?? 0,
    ...(last ? { lastApplied: { time: new Date(last.timeMs).toISOString(), ts: formatTimestamp(last.ts), op: last.op, ns: last.ns } } : {}),
  };
}

async function replayIntoMongorestore(
  config: ResolvedConfig,
  uri: string,
  plan: ChainPlan,
  keys: Map<string, DecryptKeys>,
  options: RestoreOptions,
  decide: ReturnType<typeof replayDecider>,
  mapNamespace: ((ns: string) => string | undefined) | undefined,
): Promise<void> {
  // No --nsInclude/--nsFrom: mongorestore refuses them with --oplogReplay; the rewriter selects instead.
  const args = ['--archive', '--oplogReplay'];
  if (options.drop) args.push('--drop');
  args.push(...parallelismArgs(options), ...config.mongodb.restoreArgs);
  let baseCheck: (() => void) | undefined;
  await runToolPipeline({
    tool: { tool: 'mongorestore', binary: config.mongodb.mongorestore, uri, args, ...(options.events?.toolLine ? { onLine: options.events.toolLine } : {}) },
    role: 'sink',
    streams: async (signal) => {
      const base = await decodedLink(plan.target, plan.base, keys.get(plan.base.id)!, signal);
      baseCheck = base.check;
      const rewritten = rewriteArchive(base.archive, {
        ...(mapNamespace ? { mapNamespace } : {}),
        oplogEntry: decide,
        ...(plan.increments.length > 0 ? { appendOplog: sliceEntries(plan, keys, signal) } : {}),
      });
      return [Readable.from(rewritten.chunks), ...restoreCheckpointStages(signal)];
    },
    signal: options.signal,
    interrupted: 'restore interrupted; the destination may be partially restored',
  });
  baseCheck?.();
}
