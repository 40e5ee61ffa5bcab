// Disaster recovery from one copy, for every registered target type: one `create` stores a backup
// on every available target at once; then, per target, a "fresh machine" — an empty state
// directory and a config naming only that one target (under another name) and the key — lists,
// shows, deep-verifies and restores it. The backups themselves are the source of truth (docs/REFERENCE.md#storage-layout).
//
// Timings of verify --deep and restore per target are printed; MONGO_BACKUP_MEASURE=1 adds a
// throughput run with a larger dump per target.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { targetTypes } from '../../src/targets/registry.js';
import { countDocuments, peerMissingReason, seedDatabase, testbed, type MongoPeer } from '../setup/testbed.js';
import {
  letters,
  makeWorkspace,
  mbPerSecond,
  peerOf,
  targetConfig,
  targetKinds,
  targetTypeOf,
  uniquePrefix,
  type CliResult,
  type TargetConfig,
  type TargetKind,
  type Workspace,
} from './target-configs.js';

interface Source {
  db: string;
  counts: Record<string, number>;
  /** The machine that makes the backups: every available target configured. */
  production: Workspace;
  targets: Map<TargetKind, TargetConfig>;
  /** The one `create` that stored the backup on every available target at once. */
  created: CliResult;
}

const registered = new Set(targetTypes());
/** Why a kind cannot be tested here, or undefined. */
function unavailable(kind: TargetKind): string | undefined {
  if (!registered.has(targetTypeOf(kind))) return `target type "${targetTypeOf(kind)}" is not registered in src/targets/registry.ts`;
  const peer = peerOf(kind);
  const reason = peerMissingReason('mongo') ?? (peer ? peerMissingReason(peer) : undefined);
  return reason === undefined ? undefined : `test peer not available: ${reason}`;
}

/** Skips a kind that cannot run here (in CI, a registered type whose peer is missing fails). */
function skipUnavailable(kind: TargetKind, ctx: { skip(note?: string): never }): void {
  const reason = unavailable(kind);
  if (reason === undefined) return;
  if (process.env['CI'] === 'true' && registered.has(targetTypeOf(kind))) throw new Error(reason);
  ctx.skip(reason);
}

const cleanups: Workspace[] = [];
const timings: Array<{ kind: TargetKind; storedBytes: number; archiveBytes: number; listMs: number; verifyDeepMs: number; restoreMs: number }> = [];

afterAll(async () => {
  if (timings.length > 0) {
    const first = timings[0]!;
    const rows = timings.map(
      (t) =>
        `  ${t.kind.padEnd(6)} list ${String(t.listMs).padStart(5)} ms  verify --deep ${String(t.verifyDeepMs).padStart(5)} ms (${mbPerSecond(t.storedBytes, t.verifyDeepMs)} MB/s)  ` +
        `restore ${String(t.restoreMs).padStart(5)} ms (${mbPerSecond(t.archiveBytes, t.restoreMs)} MB/s)`,
    );
    console.info(`[measure] disaster recovery from one copy, ${(first.archiveBytes / 1e6).toFixed(1)} MB archive, ${(first.storedBytes / 1e6).toFixed(1)} MB stored (CLI wall times, startup included):\n${rows.join('\n')}`);
  }
  await Promise.all(cleanups.map((w) => w.cleanup()));
});

let source: Promise<Source> | undefined;
/** Seeds the source database and backs it up once to every available target (one dump, fanned out). */
function prepareSource(mongo: MongoPeer): Promise<Source> {
  source ??= (async () => {
    const bed = testbed();
    const db = `drsource${letters(6)}`;
    // A few MB, mostly barely compressible, plus ordinary documents and an empty collection.
    const blobs = Array.from({ length: 60 }, (_, i) => ({ _id: i, payload: randomBytes(48 * 1024).toString('base64') }));
    const counts = await seedDatabase(mongo.uri, db, { blobs, people: 1000, empty: [] });
    const production = await makeWorkspace('dr-production', mongo);
    cleanups.push(production);
    const prefix = uniquePrefix('dr');
    const targets = new Map<TargetKind, TargetConfig>();
    for (const kind of targetKinds) {
      if (unavailable(kind) === undefined) targets.set(kind, targetConfig(kind, kind, bed, { prefix, localDir: join(production.dir, 'local') }));
    }
    await production.writeConfig({ targets: [...targets.values()] });
    const created = await production.run(['--json', 'create', '--db', db, '--description', 'disaster recovery source']);
    return { db, counts, production, targets, created };
  })();
  return source;
}

/** What the fan-out create says about one target: the backup, or why that copy failed. */
function outcomeOn(created: CliResult, kind: TargetKind): { backup?: { id: string; checksum: string; size: number; storedSize: number }; problem?: string } {
  const outcomes = (created.json?.copies ?? created.json?.error?.details?.outcomes) as Array<{ name: string; ok: boolean; error?: { message: string } }> | undefined;
  const outcome = outcomes?.find((o) => o.name === kind);
  if (!outcome) return { problem: `create did not report on ${kind} (exit ${created.code}): ${created.stderr}` };
  if (!outcome.ok) return { problem: `create failed on ${kind}: ${outcome.error?.message}` };
  return { backup: created.json.backup };
}

describe('disaster recovery from one copy', () => {
  for (const kind of targetKinds) {
    it(`${kind}: a fresh machine with only this target and the key can list, show, deep-verify and restore`, async (ctx) => {
      skipUnavailable(kind, ctx);
      const mongo = testbed().mongo;
      const { db, counts, production, targets, created } = await prepareSource(mongo);
      const { backup, problem } = outcomeOn(created, kind);
      expect(problem).toBeUndefined();

      // The fresh machine: the same storage under another target name, the key, nothing else.
      const fresh = await makeWorkspace(`dr-${kind}`, mongo, { key: production.key });
      cleanups.push(fresh);
      await fresh.writeConfig({ targets: [{ ...targets.get(kind)!, name: 'recovered' }] });
      expect(existsSync(fresh.stateDir)).toBe(false);

      const [listed, shown] = await Promise.all([fresh.run(['--json', 'list']), fresh.run(['--json', 'show', 'latest'])]);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.json.backups).toEqual([expect.objectContaining({ id: backup!.id, status: 'COMPLETED', checksum: backup!.checksum, targets: ['recovered'] })]);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.json.backup).toMatchObject({ id: backup!.id, namespaces: counts, encrypted: true, targets: ['recovered'] });

      const verified = await fresh.run(['--json', 'verify', 'latest', '--deep']);
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.json.result).toMatchObject({ valid: true, issues: [] });
      expect(verified.json.result.copies).toEqual([expect.objectContaining({ target: 'recovered', deep: true, valid: true, namespaces: counts })]);

      const restoredDb = `restored${letters(8)}`;
      const restored = await fresh.run(['--json', 'restore', 'latest', '--ns-from', `${db}.$c$`, '--ns-to', `${restoredDb}.$c$`]);
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.json.result.backupId).toBe(backup!.id);
      const expected = Object.fromEntries(Object.entries(counts).map(([ns, n]) => [ns.replace(`${db}.`, `${restoredDb}.`), n]));
      expect(await countDocuments(mongo.uri, restoredDb)).toEqual(expected);

      timings.push({ kind, archiveBytes: backup!.size, storedBytes: backup!.storedSize, listMs: listed.ms, verifyDeepMs: verified.ms, restoreMs: restored.ms });
    });
  }
});

// Throughput per target, on demand (MONGO_BACKUP_MEASURE=1), one step at a time so they do not
// compete: `create --target X` (mongodump + upload), `replicate` from local to X (upload alone) and
// `verify --deep` on X (download, decrypt, parse). Rates come from the CLI's own phase lines
// ("dump: 26.2 MB in 4.1s (6.4 MB/s)"), which leave out process start-up.
function phaseRate(stderr: string, phase: string): string {
  return new RegExp(`^\\s*${phase}: (.+)$`, 'm').exec(stderr)?.[1] ?? '(no phase line)';
}

describe.runIf(process.env['MONGO_BACKUP_MEASURE'] === '1')('throughput per target (MONGO_BACKUP_MEASURE=1)', () => {
  it('create, replicate and verify --deep on each target', async (ctx) => {
    if (peerMissingReason('mongo')) ctx.skip('no mongo peer');
    const mongo = testbed().mongo;
    const db = `measure${letters(6)}`;
    const blobs = Array.from({ length: 400 }, (_, i) => ({ _id: i, payload: randomBytes(48 * 1024).toString('base64') }));
    await seedDatabase(mongo.uri, db, { blobs });
    const ws = await makeWorkspace('dr-measure', mongo);
    cleanups.push(ws);
    const kinds = targetKinds.filter((kind) => unavailable(kind) === undefined);
    const prefix = uniquePrefix('measure');
    await ws.writeConfig({ targets: kinds.map((kind) => targetConfig(kind, kind, testbed(), { prefix, localDir: join(ws.dir, 'local') })) });
    const rows: string[] = [];
    let localBackup: string | undefined;
    for (const kind of kinds) {
      const created = await ws.run(['--json', 'create', '--db', db, '--target', kind, '--compression', 'none'], { measureRss: true });
      expect(created.code, created.stderr).toBe(0);
      const { id } = created.json.backup;
      localBackup ??= kind === 'local' ? id : undefined;
      const replicated = kind === 'local' || !localBackup ? undefined : await ws.run(['replicate', localBackup, '--from', 'local', '--to', kind]);
      expect(replicated?.code ?? 0, replicated?.stderr).toBe(0);
      const verified = await ws.run(['verify', id, '--target', kind, '--deep']);
      expect(verified.code, verified.stderr).toBe(0);
      rows.push(
        `  ${kind.padEnd(6)} create ${String(created.ms).padStart(6)} ms wall, dump+upload ${phaseRate(created.stderr, 'dump')}, peak RSS ${((created.maxRssBytes ?? 0) / 1e6).toFixed(0)} MB\n` +
          `         replicate from local ${replicated ? phaseRate(replicated.stderr, 'replicate') : '-'}\n` +
          `         verify --deep ${phaseRate(verified.stderr, 'verify')}`,
      );
    }
    console.info(`[measure] throughput per target, ${((blobs.length * 64 * 1024) / 1e6).toFixed(0)} MB dump, --compression none, encrypted:\n${rows.join('\n')}`);

    // Peak memory of a three-target fan-out does not grow with the dump: ~100 MB this time.
    const bigDb = `measurebig${letters(6)}`;
    for (let batch = 0; batch < 5; batch++) {
      const more = Array.from({ length: 300 }, (_, i) => ({ _id: batch * 300 + i, payload: randomBytes(48 * 1024).toString('base64') }));
      await seedDatabase(mongo.uri, bigDb, { blobs: more });
    }
    const fanoutTargets = (['local', 's3', 'sftp'] as const).filter((kind) => kinds.includes(kind));
    const fanout = await ws.run(['--json', 'create', '--db', bigDb, ...fanoutTargets.flatMap((kind) => ['--target', kind])], { measureRss: true });
    expect(fanout.code, fanout.stderr).toBe(0);
    console.info(
      `[measure] fan-out to ${fanoutTargets.join('+')}: ${(fanout.json.backup.size / 1e6).toFixed(0)} MB archive → ${(fanout.json.backup.storedSize / 1e6).toFixed(0)} MB stored, ` +
        `${fanout.ms} ms wall, dump+upload ${phaseRate(fanout.stderr, 'dump')}, peak RSS ${((fanout.maxRssBytes ?? 0) / 1e6).toFixed(0)} MB`,
    );
  });
});
