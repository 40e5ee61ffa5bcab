/**
 * `create`: one mongodump, streamed through inspection → SHA-256 (plain) → compression → encryption
 * → SHA-256 (stored) → every selected target at once. No temporary files; memory is bounded by the
 * streams' buffers whatever the dump size. The manifest is written last, per target, only after the
 * stored object has been verified there; a folder without a manifest is an incomplete backup.
 */
import type { Transform } from 'node:stream';
import { ArchiveInspector, type ArchiveSummary } from '../archive/inspector.js';
import { Batcher, BufferPool } from '../streams.js';
import { createEncryptStream } from '../crypto/index.js';
import { BackupError, ErrorCodes, toBackupError } from '../errors.js';
import type { ResolvedConfig } from '../config/load.js';
import { bufferBody } from '../targets/body.js';
import type { Target } from '../targets/types.js';
import { TOOL_VERSION } from '../version.js';
import { closeTargets, openTargets } from './catalog.js';
import { checkpoint, checkpointStage } from './checkpoints.js';
import { removeBackupEverywhere } from './delete.js';
import { createCompressor, defaultLevel } from './compression.js';
import { FRAME_BYTES } from './parallel-frames.js';
import { FanOut } from './fanout.js';
import { HashingStream } from './hash.js';
import { newBackupId } from './ids.js';
import {
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  archiveObjectName,
  serializeManifest,
  type CompressionAlgorithm,
  type Manifest,
  type ManifestEncryption,
  type ManifestLock,
} from './manifest.js';
import { toolVersion } from './mongo-tools.js';
import { runToolPipeline } from './tool-pipeline.js';
import { serverInfo } from './mongo-server.js';
import { verifyStoredObject } from './verify.js';
import { withCopyLock } from './object-lock.js';
import { chainFieldsOf, describePlan, planDump, type ChainFields, type DumpPlan } from './dump-plan.js';
import { OplogRecorder } from '../pitr/oplog.js';
import type { EngineEvents } from './events.js';

export interface CreateOptions {
  type: 'FULL' | 'INCREMENTAL';
  description?: string;
  /** Target names; empty = every configured target. */
  targets?: string[];
  db?: string;
  collection?: string;
  compression?: CompressionAlgorithm;
  /** false = --no-encrypt. */
  encrypt?: boolean;
  /** false = --no-verify. */
  verify?: boolean;
  requireAllTargets?: boolean;
  triggeredBy?: string;
  signal: AbortSignal;
  events?: EngineEvents;
}

export interface TargetOutcome {
  name: string;
  ok: boolean;
  verified: boolean;
  location: string;
  /** The Object Lock the server set on this copy (targets with `objectLock`). */
  objectLock?: ManifestLock;
  error?: { code: string; message: string };
}

export interface CreateResult {
  manifest: Manifest;
  outcomes: TargetOutcome[];
  /** Names of the targets holding a complete, verified copy. */
  completedOn: string[];
}

export async function createBackup(config: ResolvedConfig, options: CreateOptions): Promise<CreateResult> {
  if (options.type === 'INCREMENTAL' && (options.db || options.collection)) {
    throw new BackupError(ErrorCodes.USAGE, 'an incremental backup holds the whole oplog: --db and --collection do not apply to it', {
      hint: 'drop --db/--collection, or take a full backup of that database instead',
    });
  }
  const uri = config.mongodb.uri;
  if (!uri) {
    if (config.mongodb.uriProblem) throw config.mongodb.uriProblem;
    throw new BackupError(ErrorCodes.CONFIG_INVALID, 'no MongoDB connection string configured', {
      hint: 'set MONGODB_URI or mongodb.uri in the configuration file',
    });
  }
  const events = options.events;
  const encryptionKeys = chooseEncryption(config, options.encrypt !== false);
  const algorithm = options.compression ?? config.compression.algorithm;
  const level = options.compression && options.compression !== config.compression.algorithm ? defaultLevel(algorithm) : config.compression.level ?? defaultLevel(algorithm);
  const targets = openTargets(config, options.targets ?? []);
  try {
    const [mongodumpVersion, source] = await Promise.all([
      toolVersion(config.mongodb.mongodump, 'mongodump'),
      serverInfo(uri),
    ]);
    const { usable, unusable } = await checkTargets(targets, events);
    if (usable.length === 0) {
      // Every target lacks part of its configuration on this host: that is the error (exit 2).
      const configProblems = [...unusable.values()].filter((e) => e.code === ErrorCodes.CONFIG_INVALID);
      if (configProblems.length === unusable.size && configProblems[0]) throw configProblems[0];
      const causes = [...unusable].map(([name, e]) => ({ name, ok: false, error: { code: e.code, message: e.message } }));
      throw new BackupError(ErrorCodes.TARGET_FAILED, `no target is usable; nothing was dumped: ${causes.map((c) => `${c.name}: ${c.error.message}`).join('; ')}`, {
        ...(unusable.size === 1 && [...unusable.values()][0]!.hint ? { hint: [...unusable.values()][0]!.hint! } : {}),
        details: { outcomes: causes },
      });
    }
    if (options.requireAllTargets && usable.length < targets.length) {
      throw new BackupError(ErrorCodes.TARGET_FAILED, 'a target is not usable and --require-all-targets was given; nothing was dumped');
    }
    for (const t of usable) if (t.capabilities.insecureTransport) events?.warn?.(insecureTransportWarning(t));

    const id = newBackupId();
    const objectName = archiveObjectName(algorithm, encryptionKeys !== undefined);
    const startTime = new Date();
    const plan = await planDump(uri, options, usable);
    if (plan.pointInTimeReason) events?.warn?.(`backup ${id} is not point-in-time: ${plan.pointInTimeReason}`);
    events?.phase?.('dump', `backup ${id}: ${describePlan(plan, source.host, mongodumpVersion)} → ${usable.map((t) => t.name).join(', ')}`);
    const recorder = new OplogRecorder();

    const stream = await runDumpPipeline({
      config,
      uri,
      options,
      targets: usable,
      key: `${id}/${objectName}`,
      algorithm,
      ...(level !== undefined ? { level } : {}),
      encryptionKeys,
      plan,
      recorder,
    });
    let chainFields: ChainFields;
    try {
      chainFields = await chainFieldsOf(plan, recorder, uri);
    } catch (error) {
      await removeObjectEverywhere(usable, `${id}/${objectName}`);
      throw error;
    }

    // The backup's time span ends when its data is stored; verification per copy comes after.
    const storedAt = new Date();
    const base: Manifest = {
      manifestFormat: MANIFEST_FORMAT,
      id,
      type: plan.type,
      status: 'COMPLETED',
      size: stream.plainBytes,
      storedSize: stream.storedBytes,
      object: objectName,
      compression: { algorithm, ...(level !== undefined && algorithm !== 'none' ? { level } : {}) },
      encrypted: stream.encryption !== null,
      encryption: stream.encryption,
      checksum: stream.storedChecksum,
      archiveChecksum: stream.plainChecksum,
      startTime: startTime.toISOString(),
      endTime: storedAt.toISOString(),
      duration: storedAt.getTime() - startTime.getTime(),
      description: options.description ?? '',
      triggeredBy: options.triggeredBy ?? 'manual',
      source: {
        host: source.host,
        ...(source.serverVersion ? { serverVersion: source.serverVersion } : {}),
        ...(options.db ? { database: options.db } : {}),
        ...(options.collection ? { collection: options.collection } : {}),
      },
      tool: { name: 'mongo-backup', version: TOOL_VERSION, mongodump: mongodumpVersion },
      namespaces: stream.summary.namespaces,
      ...chainFields,
    };
    const stored = usable.filter((t) => stream.saved.get(t.name)?.ok).map((t) => t.name);
    if (options.verify !== false && stored.length > 0) {
      events?.phase?.('verify', `verifying the ${stored.length === 1 ? 'copy' : 'copies'} on ${stored.join(', ')}`);
    }
    const outcomes = await finishTargets(targets, unusable, stream.saved, base, options, events);
    if (options.signal.aborted) {
      // Interrupted while verifying or writing manifests: a copy that got its manifest meanwhile
      // must not stay behind as COMPLETED (docs/REFERENCE.md#failure-semantics).
      await removeBackupEverywhere(usable, id);
      throw new BackupError(ErrorCodes.INTERRUPTED, `backup ${id} interrupted before it completed; its copies were removed`);
    }
    const completed = outcomes.filter((o) => o.ok);
    const manifest: Manifest = { ...base, verified: completed.length > 0 && completed.every((o) => o.verified) };
    const completedOn = outcomes.filter((o) => o.ok).map((o) => o.name);
    if (completedOn.length === 0) {
      throw new BackupError(ErrorCodes.TARGET_FAILED, `backup ${id} failed on every target: ${outcomes.map((o) => `${o.name}: ${o.error?.message}`).join('; ')}`, {
        details: { outcomes },
      });
    }
    if (options.requireAllTargets && completedOn.length < targets.length) {
      await removeBackupEverywhere(targets, id);
      throw new BackupError(ErrorCodes.TARGET_FAILED, `backup ${id} did not reach every target and --require-all-targets was given; the copies were removed`, {
        details: { outcomes },
      });
    }
    return { manifest, outcomes, completedOn };
  } finally {
    await closeTargets(targets);
  }
}

interface EncryptionKeys {
  key?: Buffer;
  recipients?: string[];
}

/** Any type can talk in the clear (plain FTP, an http:// endpoint); only FTP sends a password that way. */
function insecureTransportWarning(target: Target): string {
  if (target.type === 'ftp') return `target ${target.name} uses plain FTP: data and password cross the network unencrypted (set secure: true)`;
  return `target ${target.name} (${target.describe()}) uses an unencrypted connection: data crosses the network in the clear (use an https:// endpoint)`;
}

function chooseEncryption(config: ResolvedConfig, wanted: boolean): EncryptionKeys | undefined {
  if (!wanted) return undefined;
  if (config.encryption.recipients.length > 0) return { recipients: config.encryption.recipients };
  if (config.encryption.key) return { key: config.encryption.key };
  return undefined;
}

/** Checks every target before dumping; returns the usable ones and why the others are not. */
async function checkTargets(targets: Target[], events: EngineEvents | undefined): Promise<{ usable: Target[]; unusable: Map<string, BackupError> }> {
  const unusable = new Map<string, BackupError>();
  await Promise.all(
    targets.map(async (t) => {
      try {
        await t.check();
      } catch (error) {
        const e = toBackupError(error);
        unusable.set(t.name, e);
        events?.targetFailed?.(t.name, e);
      }
    }),
  );
  return { usable: targets.filter((t) => !unusable.has(t.name)), unusable };
}

interface DumpPipelineInput {
  config: ResolvedConfig;
  uri: string;
  options: CreateOptions;
  targets: Target[];
  key: string;
  algorithm: CompressionAlgorithm;
  level?: number;
  encryptionKeys: EncryptionKeys | undefined;
  plan: DumpPlan;
  recorder: OplogRecorder;
}

interface DumpPipelineResult {
  summary: ArchiveSummary;
  plainBytes: number;
  plainChecksum: string;
  storedBytes: number;
  storedChecksum: string;
  encryption: ManifestEncryption | null;
  saved: Map<string, { ok: boolean; error?: BackupError }>;
}

const DUMP_BATCH_BYTES = 256 * 1024;

async function runDumpPipeline(input: DumpPipelineInput): Promise<DumpPipelineResult> {
  const { config, options, targets } = input;
  const events = options.events;
  const args = ['--archive'];
  if (options.db) args.push(`--db=${options.db}`);
  if (options.collection) args.push(`--collection=${options.collection}`);
  args.push(...input.plan.args, ...config.mongodb.dumpArgs);
  const watch = input.plan.watch;
  const inspector = new ArchiveInspector(watch ? { watch: { namespace: watch, document: input.recorder.document } } : {});
  const plainHash = new HashingStream((bytes) => events?.progress?.('dump', bytes));
  const encryptor = input.encryptionKeys ? createEncryptStream(input.encryptionKeys) : undefined;
  const storedHash = new HashingStream();
  // 64 KiB pipe reads regrouped before inspection, hashing and compression: fewer, bigger jobs
  // (docs/PERFORMANCE.md). For zstd and gzip a batch is one whole frame, from a pool the
  // compressor gives back to.
  const pool = input.algorithm === 'none' ? undefined : new BufferPool(FRAME_BYTES);
  const batcher = pool ? new Batcher(FRAME_BYTES, pool) : new Batcher(DUMP_BATCH_BYTES);
  const stages: Transform[] = [batcher, inspector, plainHash, createCompressor(input.algorithm, input.level, pool)];
  if (encryptor) stages.push(encryptor);
  stages.push(storedHash);
  // Every stage exists before mongodump starts (runToolPipeline builds the streams first).
  let fanout: FanOut | undefined;
  await runToolPipeline({
    tool: {
      tool: 'mongodump',
      binary: config.mongodb.mongodump,
      uri: input.uri,
      args,
      ...(events?.toolLine ? { onLine: events.toolLine } : {}),
    },
    role: 'source',
    streams: (signal) => {
      fanout = new FanOut(targets, input.key, signal, events?.targetProgress ? (name, bytes) => events.targetProgress?.(name, 'dump', bytes) : undefined);
      // Test-only fault injection (checkpoints.ts): absent unless a test armed them.
      const dumpStarted = checkpointStage('dump-started', signal, 'before-first-chunk');
      const uploadStarted = checkpointStage('upload-started', signal, 'after-first-chunk');
      return [...(dumpStarted ? [dumpStarted] : []), ...stages, ...(uploadStarted ? [uploadStarted] : []), fanout];
    },
    signal: options.signal,
    interrupted: 'backup interrupted; partial uploads were removed',
    onFailure: async () => {
      // Let every branch settle (their saves remove partial uploads), then remove completed copies.
      await fanout?.results();
      await removeObjectEverywhere(targets, input.key);
    },
  });
  const results = await fanout!.results();
  const saved = new Map(results.map((r) => [r.target.name, r.ok ? { ok: true } : { ok: false, ...(r.error ? { error: r.error } : {}) }]));
  return {
    summary: inspector.summary(),
    plainBytes: plainHash.bytes,
    plainChecksum: plainHash.digest(),
    storedBytes: storedHash.bytes,
    storedChecksum: storedHash.digest(),
    encryption: encryptor ? (encryptor.info() as ManifestEncryption) : null,
    saved,
  };
}

async function finishTargets(
  all: Target[],
  unusable: Map<string, BackupError>,
  saved: Map<string, { ok: boolean; error?: BackupError }>,
  base: Manifest,
  options: CreateOptions,
  events: EngineEvents | undefined,
): Promise<TargetOutcome[]> {
  return Promise.all(
    all.map(async (target): Promise<TargetOutcome> => {
      const location = target.describe();
      const checkError = unusable.get(target.name);
      if (checkError) {
        return { name: target.name, ok: false, verified: false, location, error: { code: checkError.code, message: `not usable, nothing was sent: ${checkError.message}` } };
      }
      const save = saved.get(target.name);
      if (!save?.ok) {
        const error = save?.error ?? new BackupError(ErrorCodes.TARGET_FAILED, 'upload failed');
        events?.targetFailed?.(target.name, error);
        return { name: target.name, ok: false, verified: false, location, error: { code: error.code, message: error.message } };
      }
      try {
        let verified = false;
        if (options.verify !== false) {
          await verifyStoredObject(target, `${base.id}/${base.object}`, base.storedSize, base.checksum, options.signal, (bytes) =>
            events?.targetProgress?.(target.name, 'verify', bytes, base.storedSize),
          );
          verified = true;
        }
        // A locked target's copy records the lock the server actually set (docs/REFERENCE.md#manifest).
        const manifest: Manifest = await withCopyLock(target, { ...base, verified });
        await checkpoint('before-manifest', options.signal);
        await target.save(`${base.id}/${MANIFEST_FILE}`, bufferBody(Buffer.from(serializeManifest(manifest), 'utf8')), {
          contentType: 'application/json',
          signal: options.signal,
        });
        return { name: target.name, ok: true, verified, location, ...(manifest.objectLock ? { objectLock: manifest.objectLock } : {}) };
      } catch (error) {
        const e = toBackupError(error);
        events?.targetFailed?.(target.name, e);
        await removeObjectEverywhere([target], `${base.id}/${base.object}`);
        return { name: target.name, ok: false, verified: false, location, error: { code: e.code, message: e.message } };
      }
    }),
  );
}

async function removeObjectEverywhere(targets: Target[], key: string): Promise<void> {
  await Promise.all(targets.map((t) => t.remove(key).catch(() => undefined)));
}

