/**
 * `drill`: a restore test that leaves proof (docs/REFERENCE.md#drill, record layout in
 * docs/FORMAT.md#drill-records). It restores a backup with the restore engine into a scratch server
 * (--uri) or beside the data under prefixed database names (--prefix), never into the source's own
 * namespaces; checks every namespace's count; times each phase; drops what it restored unless
 * --keep; and writes a record of the outcome, passed or failed, next to the backup on the target it
 * read. Failures keep restore's error codes (a damaged copy: exit 3).
 */
import { hostname } from 'node:os';
import type { ResolvedConfig } from '../config/load.js';
import { BackupError, ErrorCodes, ExitCode, toBackupError } from '../errors.js';
import { TOOL_VERSION } from '../version.js';
import { isSystemNamespace, planNamespaces, type NamespaceOptions, type PlannedNamespace } from '../archive/namespaces.js';
import type { Target } from '../targets/types.js';
import { closeTargets, openTargets, readManifest, resolveBackup } from './catalog.js';
import { writeDrillRecord, type DrillPhases, type DrillRecord, type DrilledObject } from './drills.js';
import type { EngineEvents, Phase } from './events.js';
import type { Manifest } from './manifest.js';
import { countRestored, dropNamespaces, hostsOf } from './mongo-server.js';
import { toolVersion } from './mongo-tools.js';
import { restoreBackup, type RestoreResult } from './restore.js';
import type { ReplaySummary } from './restore-pitr.js';

export interface DrillOptions {
  /** A backup id or "latest"; with `toTime`, ignored. */
  ref: string;
  /** A point-in-time drill: this moment (ms) or the newest restore point (docs/PITR.md). */
  toTime?: number | 'latest';
  /** A scratch server to restore into. */
  uri?: string;
  /** Restore beside the data: database `x` becomes `<prefix>x`. */
  prefix?: string;
  keep: boolean;
  /** Read (and record) on this target; default the first that holds the backup. */
  target?: string;
  parallelCollections: number;
  insertionWorkers: number;
  signal: AbortSignal;
  events?: EngineEvents;
}

export interface DrillOutcome {
  record: DrillRecord;
  /** Where the record was written, or why it could not be. */
  recordKey?: string;
  recordError?: string;
  pointInTime?: ReplaySummary;
  /** The failure, when the drill failed (the record says so too). */
  error?: BackupError;
}

/** Databases the drill never restores: the server's own (users and roles are not part of the proof). */
const SERVER_DATABASES = ['admin.*', 'config.*', 'local.*'];

interface Destination {
  uri: string;
  /** Not the configured source server. */
  scratch: boolean;
  prefix?: string;
}

/** Where the drill restores; refuses the configured source's own namespaces. */
export function drillDestination(config: Pick<ResolvedConfig, 'mongodb'>, uri: string | undefined, prefix: string | undefined): Destination {
  if (prefix !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) {
    throw new BackupError(ErrorCodes.USAGE, `--prefix "${prefix}" is not usable in database names`, { hint: 'use letters, digits, _ and - (e.g. --prefix drill_)' });
  }
  const source = config.mongodb.uri;
  const chosen = uri ?? source;
  if (!chosen) {
    if (config.mongodb.uriProblem) throw config.mongodb.uriProblem;
    throw new BackupError(ErrorCodes.USAGE, 'drill needs a server: give --uri SCRATCH, or --prefix P with mongodb.uri configured');
  }
  const scratch = uri !== undefined && (source === undefined || !sharesAHost(uri, source));
  if (!scratch && prefix === undefined) {
    throw new BackupError(ErrorCodes.USAGE, `drill would restore into the configured source server (${hostsOf(chosen)}) under the backup's own names`, {
      hint: 'give --uri with a scratch server, or --prefix P to restore beside the data as P<database>',
    });
  }
  return { uri: chosen, scratch, ...(prefix !== undefined ? { prefix } : {}) };
}

/**
 * Whether two connection strings reach a common server: any host in common, with the default port
 * filled in and the loopback names (localhost, 127.0.0.1, ::1) taken as one — so `--uri
 * mongodb://localhost` is not mistaken for a scratch server when the source is 127.0.0.1:27017,
 * and a replica set named by another member is still the source.
 */
export function sharesAHost(a: string, b: string): boolean {
  const hostsA = serverAddresses(a);
  return serverAddresses(b).some((address) => hostsA.includes(address));
}

function serverAddresses(uri: string): string[] {
  const srv = /^mongodb\+srv:/i.test(uri);
  return hostsOf(uri)
    .split(',')
    .map((entry) => {
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry.trim().toLowerCase());
      if (!m) return entry.trim().toLowerCase();
      const host = ['localhost', '127.0.0.1', '[::1]', '::1'].includes(m[1]!) ? 'loopback' : m[1]!;
      return srv ? `srv:${host}` : `${host}:${m[2] ?? '27017'}`;
    });
}

/** The restore's namespace options: server databases left out, and every database renamed with the prefix. */
export function drillNamespaces(prefix: string | undefined): NamespaceOptions {
  return { include: [], exclude: SERVER_DATABASES, ...(prefix !== undefined ? { from: '$db$.$coll$', to: `${prefix}$db$.$coll$` } : {}) };
}

/** On the source server, a prefix must not map any database of the backup onto another of its databases. */
export function refuseSourceNamespaces(manifest: Pick<Manifest, 'namespaces'>, namespaces: NamespaceOptions): void {
  const databases = new Set(Object.keys(manifest.namespaces).map((ns) => ns.split('.')[0]!));
  const clashes = planNamespaces(manifest.namespaces, namespaces).filter((p) => databases.has(p.destination.split('.')[0]!));
  if (clashes.length > 0) {
    throw new BackupError(ErrorCodes.USAGE, `--prefix "${namespaces.to?.split('$')[0] ?? ''}" maps ${clashes[0]!.source} onto ${clashes[0]!.destination}, a database the backup's source holds`, {
      hint: 'choose another prefix, or drill into a scratch server with --uri',
    });
  }
}

/** Times the restore engine's phases from its events (and mongorestore's first index line), passing them on. */
class PhaseClock {
  private readonly marks = new Map<string, number>();
  readonly start = Date.now();

  constructor(private readonly inner: EngineEvents | undefined) {}

  mark(name: string): void {
    if (!this.marks.has(name)) this.marks.set(name, Date.now());
  }

  has(name: string): boolean {
    return this.marks.has(name);
  }

  at(name: string): number | undefined {
    return this.marks.get(name);
  }

  get events(): EngineEvents {
    const inner = this.inner;
    return {
      ...inner,
      phase: (phase: Phase, message: string) => {
        this.mark(phase);
        inner?.phase?.(phase, message);
      },
      toolLine: (line: string) => {
        if (/restoring indexes/i.test(line)) this.mark('indexes');
        inner?.toolLine?.(line);
      },
    };
  }

  /** Milliseconds between two marks (0 when the first is missing). */
  between(from: string, to: number | undefined): number {
    const a = this.marks.get(from);
    return a === undefined || to === undefined ? 0 : Math.max(0, to - a);
  }
}

interface Located {
  target: string;
  manifest: Manifest;
}

/** The backup (not a point-in-time moment) and the target the drill reads and records on. */
async function locate(config: ResolvedConfig, options: DrillOptions): Promise<Located | undefined> {
  if (options.toTime !== undefined) return undefined;
  const targets = openTargets(config, options.target ? [options.target] : []);
  try {
    const resolved = await resolveBackup(targets, options.ref);
    return { target: resolved.holders[0]!.name, manifest: resolved.manifest };
  } finally {
    await closeTargets(targets);
  }
}

export async function drillBackup(config: ResolvedConfig, options: DrillOptions): Promise<DrillOutcome> {
  const destination = drillDestination(config, options.uri, options.prefix);
  const namespaces = drillNamespaces(options.prefix);
  const located = await locate(config, options);
  if (located && !destination.scratch) refuseSourceNamespaces(located.manifest, namespaces);
  const startTime = new Date();
  const clock = new PhaseClock(options.events);
  let result: RestoreResult | undefined;
  let failure: BackupError | undefined;
  try {
    result = await restoreBackup(config, {
      ref: located?.manifest.id ?? options.ref,
      ...(options.toTime !== undefined ? { toTime: options.toTime } : {}),
      ...(located ? { from: located.target } : options.target ? { from: options.target } : {}),
      uri: destination.uri,
      drop: false,
      force: false,
      dryRun: false,
      verify: true,
      parallel: options.parallelCollections,
      insertionWorkers: options.insertionWorkers,
      namespaces,
      signal: options.signal,
      events: clock.events,
    });
  } catch (error) {
    failure = toBackupError(error);
  } finally {
    options.events?.endPhase?.();
  }
  const restoredEnd = Date.now();
  if (result?.pointInTime) failure ??= await countPointInTime(destination.uri, result).catch((e: unknown) => toBackupError(e));
  const countedEnd = Date.now();
  const restoredNamespaces = destinationsToDrop(result, located, namespaces, clock.has('restore'));
  const dropMs = await dropUnlessKept(destination.uri, restoredNamespaces, options, clock);
  // An interrupted drill proves nothing, and a refusal (exit 2: occupied namespaces, a missing key)
  // says nothing about the backup: neither is recorded as a failed drill.
  if (failure && (failure.code === ErrorCodes.INTERRUPTED || failure.exitCode === ExitCode.USAGE)) throw failure;

  const source = result?.from ?? located?.target;
  const objects = await drilledObjects(config, source, result, located);
  if (!source || objects.length === 0) {
    // A point-in-time drill that failed before choosing its chain has no backup to record under.
    throw failure ?? new BackupError(ErrorCodes.FAILED, 'drill restored nothing');
  }
  const record = buildRecord({
    config,
    options,
    destination,
    startTime,
    endMs: countedEnd,
    source,
    objects,
    result,
    located,
    namespaces,
    phases: phasesOf(clock, restoredEnd, countedEnd, dropMs, Boolean(result?.pointInTime)),
    mongorestore: await toolVersion(config.mongodb.mongorestore, 'mongorestore').catch(() => undefined),
    failure,
  });
  const outcome: DrillOutcome = { record, ...(result?.pointInTime ? { pointInTime: result.pointInTime } : {}), ...(failure ? { error: failure } : {}) };
  await storeRecord(config, source, record, outcome);
  return outcome;
}

/** After a replay the counts are the moment's: counted and recorded, with nothing in the manifest to compare. */
async function countPointInTime(uri: string, result: RestoreResult): Promise<undefined> {
  const checkable = result.namespaces.filter((n) => !isSystemNamespace(n.destination));
  const counts = await countRestored(uri, Object.fromEntries(checkable.map((n) => [n.destination, n.documents])));
  for (const ns of checkable) {
    ns.restored = counts[ns.destination] ?? 0;
    ns.checked = true;
  }
  return undefined;
}

/** What the drill put on the server: only once mongorestore started (a refusal leaves others' data alone). */
function destinationsToDrop(result: RestoreResult | undefined, located: Located | undefined, namespaces: NamespaceOptions, restoreStarted: boolean): string[] {
  if (result) return result.namespaces.map((n) => n.destination).filter((ns) => !isSystemNamespace(ns));
  if (!restoreStarted || !located) return [];
  return planNamespaces(located.manifest.namespaces, namespaces)
    .map((p) => p.destination)
    .filter((ns) => !isSystemNamespace(ns));
}

async function dropUnlessKept(uri: string, restored: string[], options: DrillOptions, clock: PhaseClock): Promise<number> {
  if (options.keep || restored.length === 0) return 0;
  const started = Date.now();
  options.events?.phase?.('drop', `dropping the ${restored.length} namespaces the drill restored`);
  clock.mark('drop');
  try {
    const notDropped = await dropNamespaces(uri, restored).catch(() => restored);
    if (notDropped.length > 0) options.events?.warn?.(`could not drop ${notDropped.join(', ')} after the drill; drop them by hand`);
  } finally {
    options.events?.endPhase?.();
  }
  return Date.now() - started;
}

function phasesOf(clock: PhaseClock, restoredEnd: number, countedEnd: number, dropMs: number, pointInTime: boolean): DrillPhases {
  const check = clock.at('check');
  const verify = clock.at('verify');
  const restore = clock.at('restore');
  const count = pointInTime ? restoredEnd : clock.at('count');
  const restoreEnd = count ?? restoredEnd;
  const indexes = clock.at('indexes');
  return {
    checkMs: check === undefined ? 0 : check - clock.start,
    verifyMs: verify === undefined ? 0 : clock.between('verify', restore ?? restoredEnd),
    restoreMs: restore === undefined ? 0 : clock.between('restore', restoreEnd),
    ...(indexes !== undefined ? { indexesMs: clock.between('indexes', restoreEnd) } : {}),
    countMs: count === undefined ? 0 : Math.max(0, countedEnd - count),
    dropMs,
  };
}

/** The stored objects the drill restored, with the checksums their manifests give (every link of a chain). */
async function drilledObjects(config: ResolvedConfig, source: string | undefined, result: RestoreResult | undefined, located: Located | undefined): Promise<DrilledObject[]> {
  const describe = (m: Manifest): DrilledObject => ({ backupId: m.id, object: m.object, checksum: m.checksum, storedSize: m.storedSize, size: m.size });
  const links = result?.pointInTime ? [result.pointInTime.base, ...result.pointInTime.increments] : undefined;
  if (!links || !source) return located ? [describe(located.manifest)] : [];
  const [target] = openTargets(config, [source]);
  try {
    return await Promise.all(links.map(async (id) => describe(await readManifest(target!, id))));
  } finally {
    await closeTargets([target!]);
  }
}

interface RecordInputs {
  config: ResolvedConfig;
  options: DrillOptions;
  destination: Destination;
  startTime: Date;
  endMs: number;
  source: string;
  objects: DrilledObject[];
  result: RestoreResult | undefined;
  located: Located | undefined;
  namespaces: NamespaceOptions;
  phases: DrillPhases;
  mongorestore: string | undefined;
  failure: BackupError | undefined;
}

function buildRecord(inputs: RecordInputs): DrillRecord {
  const { options, destination, result, failure } = inputs;
  const toTime = options.toTime === undefined ? undefined : options.toTime === 'latest' ? 'latest' : new Date(options.toTime).toISOString();
  const planned: Array<PlannedNamespace & { restored?: number }> = result?.namespaces ?? (inputs.located ? planNamespaces(inputs.located.manifest.namespaces, inputs.namespaces) : []);
  return {
    drillFormat: 1,
    backupId: result?.backupId ?? inputs.objects.at(-1)!.backupId,
    startTime: inputs.startTime.toISOString(),
    endTime: new Date(inputs.endMs).toISOString(),
    duration: Math.max(0, inputs.endMs - inputs.startTime.getTime()),
    host: hostname(),
    tool: { name: 'mongo-backup', version: TOOL_VERSION, ...(inputs.mongorestore ? { mongorestore: inputs.mongorestore } : {}) },
    target: inputs.source,
    destination: { hosts: hostsOf(destination.uri), scratch: destination.scratch, ...(destination.prefix !== undefined ? { prefix: destination.prefix } : {}) },
    ...(toTime ? { toTime } : {}),
    objects: inputs.objects,
    bytes: inputs.objects.reduce((sum, o) => sum + o.size, 0),
    namespaces: planned
      .filter((p) => !isSystemNamespace(p.destination))
      .map((p) => ({ source: p.source, destination: p.destination, expected: p.documents, ...(p.restored !== undefined ? { restored: p.restored } : {}) })),
    phases: inputs.phases,
    parallelism: { collections: options.parallelCollections, insertionWorkers: options.insertionWorkers },
    kept: options.keep,
    result: failure ? { passed: false, code: failure.code, message: failure.message } : { passed: true },
  };
}

/** Writes the record last, on the target the drill read; a drill whose record cannot be written has not left its proof. */
async function storeRecord(config: ResolvedConfig, source: string, record: DrillRecord, outcome: DrillOutcome): Promise<void> {
  const targets: Target[] = openTargets(config, [source]);
  try {
    outcome.recordKey = await writeDrillRecord(targets[0]!, record);
  } catch (error) {
    outcome.recordError = `the drill record could not be written to ${source}: ${toBackupError(error).message}`;
  } finally {
    await closeTargets(targets);
  }
}
