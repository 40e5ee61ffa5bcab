// One conformance suite for every storage target (like restic's backend Suite.RunTests or
// unstorage's testDriver): each *.test.ts in this folder calls runTargetConformance() with a way
// to build its target, and every target type must pass the same cases.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it, type TestContext } from 'vitest';
import { newBackupId } from '../../src/engine/ids.js';
import { pruneOne, type TargetPruneReport } from '../../src/engine/prune.js';
import { BackupError, ErrorCodes, isNotFound } from '../../src/errors.js';
import { policyFromConfig } from '../../src/retention/policy.js';
import { withRetry } from '../../src/targets/retry.js';
import { CAPABILITY_OPERATIONS, type LoadOptions, type ObjectInfo, type Target } from '../../src/targets/types.js';
import { plantBackup } from '../integration/plant.js';
import { CLEANUP_PROVEN_FOR, OBJECT_LOCK_PROVEN_FOR } from './capabilities.js';
import type { FolderAccess } from './folders.js';
import { endlessStream, failingStream, hashStream, mapLimit, pseudoRandomBytes, pseudoRandomStream, readBuffer } from './streams.js';

type Make<T> = (context: TestContext) => Promise<T> | T;

export interface ConformanceOptions {
  /** Size of the large round trip; default 200 MiB (`CONFORMANCE_BIG_MB` overrides). */
  bigObjectBytes?: number;
  /** Objects for the pagination case; default 1,500 (`CONFORMANCE_LIST_COUNT` overrides). */
  listCount?: number;
  /** Parallel saves/removes when filling and emptying the list case; default 16. */
  concurrency?: number;
  /**
   * The same target with a wrong password/key, and that wrong secret (it must not appear in the
   * error). A string instead: why the case is skipped (the peer does not enforce authentication).
   */
  wrongCredentials?: Make<{ target: Target; secret: string }> | string;
  /** The same target pointed at a port where nothing listens. */
  unreachable?: Make<Target>;
  /** SFTP: targets with no / a wrong host fingerprint configured, and the server's real fingerprint. */
  unknownHostKey?: Make<{ targets: Target[]; serverFingerprint: string }>;
  /** Types with folders (local, sftp, ftp): direct access to the target's folders (folders.ts). */
  folders?: Make<FolderAccess>;
}

const MIB = 1024 * 1024;
const HOUR = 60 * 60 * 1000;

function envNumber(name: string): number | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : Number(value);
}

async function listAll(target: Target, prefix: string): Promise<ObjectInfo[]> {
  const found: ObjectInfo[] = [];
  for await (const info of target.list(prefix)) found.push(info);
  return found.sort((a, b) => a.key.localeCompare(b.key));
}

async function save(target: Target, key: string, data: Buffer | string): Promise<void> {
  await target.save(key, Readable.from([Buffer.from(data)]));
}

async function loadText(target: Target, key: string, range?: { start: number; end?: number }): Promise<Buffer> {
  return readBuffer(await target.load(key, range ? { range } : {}));
}

/** Loads and reads a whole object: a failure of load() and of its stream alike reject the result. */
async function readLoad(target: Target, key: string, options: LoadOptions): Promise<Buffer> {
  return readBuffer(await target.load(key, options));
}

async function expectNotFound(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected the operation to fail with NotFoundError').toBeDefined();
  expect(isNotFound(error), `expected NotFoundError, got ${String(error)}`).toBe(true);
}

async function expectFailure(promise: Promise<unknown>): Promise<BackupError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected the operation to fail').toBeInstanceOf(BackupError);
  return error as BackupError;
}

function mbPerSecond(bytes: number, ms: number): string {
  return ((bytes / 1e6) / (ms / 1000)).toFixed(1);
}

export function runTargetConformance(name: string, makeTarget: Make<Target>, options: ConformanceOptions = {}): void {
  const bigBytes = (envNumber('CONFORMANCE_BIG_MB') ?? 0) * MIB || options.bigObjectBytes || 200 * MIB;
  const listCount = envNumber('CONFORMANCE_LIST_COUNT') ?? options.listCount ?? 1500;
  const concurrency = options.concurrency ?? 16;
  // Every run works in its own folder, so reruns against a long-lived server do not collide.
  const run = `conformance-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

  /** Builds the target for one test and closes it when the test ends. */
  async function open(context: TestContext): Promise<Target> {
    const target = await makeTarget(context);
    context.onTestFinished(() => target.close());
    return target;
  }

  describe(`target conformance: ${name}`, () => {
    it('passes check() and describes its location', async (context) => {
      const target = await open(context);
      await target.check();
      expect(target.describe()).not.toBe('');
      expect(target.name).not.toBe('');
    });

    it('saves a stream and loads the same bytes back', async (context) => {
      const target = await open(context);
      const key = `${run}/roundtrip/manifest.json`;
      const body = JSON.stringify({ id: 'backup-1', note: 'ünïcödé ✓' });
      const result = await target.save(key, Readable.from([Buffer.from(body)]), { contentType: 'application/json' });
      expect(result.size).toBe(Buffer.byteLength(body));
      expect((await loadText(target, key)).toString()).toBe(body);
      expect((await target.stat(key)).size).toBe(Buffer.byteLength(body));
    });

    it('round-trips an empty object', async (context) => {
      const target = await open(context);
      const key = `${run}/empty/nothing`;
      expect((await target.save(key, Readable.from([]))).size).toBe(0);
      expect((await target.stat(key)).size).toBe(0);
      expect((await loadText(target, key)).length).toBe(0);
    });

    it(`round-trips ${Math.round(bigBytes / MIB)} MiB with the same SHA-256, streaming both ways`, async (context) => {
      const target = await open(context);
      const key = `${run}/big/dump.archive.zst.enc`;
      const body = pseudoRandomStream(`big-${run}`, bigBytes);
      const saveStarted = performance.now();
      const saved = await target.save(key, body);
      const saveMs = performance.now() - saveStarted;
      expect(saved.size).toBe(bigBytes);
      expect((await target.stat(key)).size).toBe(bigBytes);
      const loadStarted = performance.now();
      const loaded = await hashStream(await target.load(key));
      const loadMs = performance.now() - loadStarted;
      expect(loaded.bytes).toBe(bigBytes);
      expect(loaded.sha256).toBe(await body.sha256());
      console.info(
        `[conformance] ${name}: ${Math.round(bigBytes / MIB)} MiB upload ${mbPerSecond(bigBytes, saveMs)} MB/s (${Math.round(saveMs)} ms), ` +
          `download ${mbPerSecond(bigBytes, loadMs)} MB/s (${Math.round(loadMs)} ms)`,
      );
    });

    it('loads byte ranges: start only, start and end, the last byte, an empty range', async (context) => {
      const target = await open(context);
      const key = `${run}/ranges/object.bin`;
      const data = pseudoRandomBytes(`ranges-${run}`, 3 * MIB + 123);
      await save(target, key, data);
      const size = data.length;
      expect(await loadText(target, key, { start: 2 * MIB + 5 })).toEqual(data.subarray(2 * MIB + 5));
      expect(await loadText(target, key, { start: 1000, end: MIB + 77 })).toEqual(data.subarray(1000, MIB + 77));
      expect(await loadText(target, key, { start: 0, end: 16 })).toEqual(data.subarray(0, 16));
      expect(await loadText(target, key, { start: size - 1 })).toEqual(data.subarray(size - 1));
      expect(await loadText(target, key, { start: size - 1, end: size })).toEqual(data.subarray(size - 1));
      expect((await loadText(target, key, { start: 10, end: 10 })).length).toBe(0);
    });

    it('lets a reader stop a load early or abort it, and stays usable afterwards', async (context) => {
      const target = await open(context);
      const key = `${run}/abandoned/object.bin`;
      const data = pseudoRandomBytes(`abandoned-${run}`, 8 * MIB);
      await save(target, key, data);
      // More abandoned loads than a connection pool has connections: none may stay checked out.
      for (let i = 0; i < 4; i++) {
        for await (const chunk of await target.load(key)) {
          expect((chunk as Buffer).length).toBeGreaterThan(0);
          break; // leaving the loop destroys the stream
        }
      }
      // The interface (LoadOptions.signal) promises the signal's own reason, not just any failure:
      // the engine relies on it to report an interrupted restore as INTERRUPTED.
      const controller = new AbortController();
      const gaveUp = new BackupError(ErrorCodes.INTERRUPTED, 'the reader gave up (conformance test)');
      const reading = (async () => {
        for await (const chunk of await target.load(key, { signal: controller.signal })) {
          void chunk;
          controller.abort(gaveUp);
        }
      })();
      await expect(reading).rejects.toBe(gaveUp);
      const tooLate = new BackupError(ErrorCodes.INTERRUPTED, 'aborted before the load (conformance test)');
      await expect(readLoad(target, key, { signal: AbortSignal.abort(tooLate) })).rejects.toBe(tooLate);
      expect((await loadText(target, key)).equals(data)).toBe(true);
    });

    it('stats an object: its size and a plausible modification time', async (context) => {
      const target = await open(context);
      const key = `${run}/stat/object.bin`;
      const before = Date.now();
      await save(target, key, pseudoRandomBytes('stat', 12_345));
      const info = await target.stat(key);
      expect(info.key).toBe(key);
      expect(info.size).toBe(12_345);
      if (info.modified !== undefined) {
        // Servers keep second (FTP: minute) precision and clocks drift a little: allow a margin.
        expect(info.modified.getTime()).toBeGreaterThan(before - 5 * 60_000);
        expect(info.modified.getTime()).toBeLessThan(Date.now() + 5 * 60_000);
      }
    });

    it(`lists ${listCount} objects across pages, filtered by prefix, then removes them all`, async (context) => {
      const target = await open(context);
      const base = `${run}/list`;
      const inA = Math.ceil((listCount * 2) / 3);
      const keys = Array.from({ length: listCount }, (_, i) => (i < inA ? `${base}/a/item-${String(i).padStart(5, '0')}` : `${base}/b/item-${String(i).padStart(5, '0')}`));
      await mapLimit(keys, concurrency, (key, i) => save(target, key, 'x'.repeat(i % 17)));

      const all = await listAll(target, `${base}/`);
      expect(all.map((info) => info.key)).toEqual([...keys].sort());
      expect(all.every((info) => info.size === keys.indexOf(info.key) % 17)).toBe(true);
      expect(await listAll(target, `${base}/a/`)).toHaveLength(inA);
      expect(await listAll(target, `${base}/b/`)).toHaveLength(listCount - inA);
      // A prefix that ends inside a name, not at a folder boundary.
      const partial = await listAll(target, `${base}/a/item-000`);
      expect(partial.map((info) => info.key)).toEqual(keys.filter((key) => key.startsWith(`${base}/a/item-000`)));
      expect(await listAll(target, `${base}/nothing-here/`)).toEqual([]);
      // The run's folder, listed from the target's root, holds the same objects.
      const fromRoot = (await listAll(target, '')).filter((info) => info.key.startsWith(`${base}/`));
      expect(fromRoot).toHaveLength(listCount);

      await mapLimit(keys, concurrency, (key) => target.remove(key));
      expect(await listAll(target, `${base}/`)).toEqual([]);
    });

    it('removes an object: it no longer loads, stats or lists', async (context) => {
      const target = await open(context);
      const key = `${run}/remove/object.bin`;
      const sibling = `${run}/remove/sibling.bin`;
      await save(target, key, 'to be removed');
      await save(target, sibling, 'stays');
      await target.remove(key);
      await expectNotFound(target.stat(key));
      await expectNotFound(target.load(key));
      expect((await listAll(target, `${run}/remove/`)).map((info) => info.key)).toEqual([sibling]);
    });

    it('reports a missing key as NotFoundError from load, stat and remove', async (context) => {
      const target = await open(context);
      const key = `${run}/missing/never-saved.bin`;
      await expectNotFound(target.load(key));
      await expectNotFound(target.load(key, { range: { start: 0, end: 10 } }));
      await expectNotFound(target.stat(key));
      await expectNotFound(target.remove(key));
    });

    it('leaves nothing under the key when the body fails halfway, and reports the body’s error', async (context) => {
      const target = await open(context);
      const folder = `${run}/failing-body`;
      const key = `${folder}/dump.archive`;
      // 20 MiB: past the first multipart part / block / several SFTP writes before the failure.
      const dumpFailed = new BackupError(ErrorCodes.MONGODUMP_FAILED, 'mongodump exited with code 1 (conformance test)');
      const error = await expectFailure(target.save(key, failingStream(20 * MIB, dumpFailed)));
      expect(error.code).toBe(ErrorCodes.MONGODUMP_FAILED);
      await expectNotFound(target.stat(key));
      expect(await listAll(target, `${folder}/`)).toEqual([]);
    });

    it('leaves nothing under the key when the save is aborted through its AbortSignal', async (context) => {
      const target = await open(context);
      const folder = `${run}/aborted`;
      const key = `${folder}/dump.archive`;
      const controller = new AbortController();
      const body = endlessStream((total) => {
        if (total >= 24 * MIB && !controller.signal.aborted) controller.abort(new Error('interrupted by the conformance test'));
      });
      await expectFailure(target.save(key, body, { signal: controller.signal }));
      await expectNotFound(target.stat(key));
      expect(await listAll(target, `${folder}/`)).toEqual([]);

      // A signal that is already aborted stores nothing either.
      const already = AbortSignal.abort(new Error('aborted before the start'));
      await expectFailure(target.save(`${folder}/never.bin`, Readable.from([Buffer.from('data')]), { signal: already }));
      await expectNotFound(target.stat(`${folder}/never.bin`));
    });

    it('overwrites an existing key with the new content and size', async (context) => {
      const target = await open(context);
      const key = `${run}/overwrite/manifest.json`;
      await save(target, key, 'first version, the longer one');
      await save(target, key, 'second');
      expect((await loadText(target, key)).toString()).toBe('second');
      expect((await target.stat(key)).size).toBe(6);
      expect(await listAll(target, `${run}/overwrite/`)).toHaveLength(1);
    });

    it('stores keys in nested folders and lists them by folder', async (context) => {
      const target = await open(context);
      const deep = `${run}/nested/backup-2026-02-18-103000-a1b2c3/parts/deeper/still/dump.archive.zst.enc`;
      const shallow = `${run}/nested/backup-2026-02-18-103000-a1b2c3/manifest.json`;
      await save(target, deep, 'deep');
      await save(target, shallow, 'shallow');
      expect((await loadText(target, deep)).toString()).toBe('deep');
      const inBackup = await listAll(target, `${run}/nested/backup-2026-02-18-103000-a1b2c3/`);
      expect(inBackup.map((info) => info.key)).toEqual([shallow, deep].sort());
      expect((await listAll(target, `${run}/nested/backup-2026-02-18-103000-a1b2c3/parts/`)).map((info) => info.key)).toEqual([deep]);
      await target.remove(deep);
      expect((await listAll(target, `${run}/nested/`)).map((info) => info.key)).toEqual([shallow]);
    });

    it('declares its capabilities as data, and the retry wrapper exposes exactly the same ones', async (context) => {
      const target = await open(context);
      const wrapped = withRetry(target);
      const declared = Object.keys(target.capabilities).sort();
      expect(Object.keys(wrapped.capabilities).sort()).toEqual(declared);
      expect(wrapped.capabilities.insecureTransport).toBe(target.capabilities.insecureTransport);
      // Optional operations live in `capabilities` only: no method a caller could sniff for instead.
      for (const operation of CAPABILITY_OPERATIONS) expect(operation in target, operation).toBe(false);
      if (target.capabilities.removeStaleTemporaries) expect(CLEANUP_PROVEN_FOR).toContain(target.type);
      if (target.capabilities.lockOf || target.capabilities.removeHiddenVersions) expect(OBJECT_LOCK_PROVEN_FOR).toContain(target.type);
    });

    it('keeps every complete object when a declared leftover cleanup runs, even with no grace period', async (context) => {
      const target = await open(context);
      const cleanup = withRetry(target).capabilities.removeStaleTemporaries;
      if (!cleanup) return context.skip(`${name} declares no removeStaleTemporaries`);
      const folder = `${run}/cleanup`;
      await save(target, `${folder}/manifest.json`, '{}');
      await save(target, `${folder}/dump.archive`, 'complete object');
      const touched = [...(await cleanup(0, { dryRun: true })), ...(await cleanup(0))];
      expect(touched.filter((key) => key.startsWith(`${folder}/`))).toEqual([]);
      expect((await listAll(target, `${folder}/`)).map((info) => info.key)).toEqual([`${folder}/dump.archive`, `${folder}/manifest.json`]);
    });

    it('prune removes incomplete backups older than the grace period (data without a manifest, an empty folder) and keeps young ones and complete ones', async (context) => {
      const target = await open(context);
      const folders = options.folders ? await options.folders(context) : undefined;
      if (folders) context.onTestFinished(() => folders.close());
      const longAgo = new Date(Date.now() - 3 * HOUR);
      // A run killed after its first upload (data, no manifest), one killed right after creating
      // its folder, the same two still running, and a backup that completed long ago.
      const oldPartial = newBackupId(longAgo);
      const oldEmpty = newBackupId(longAgo);
      const youngPartial = newBackupId(new Date());
      const youngEmpty = newBackupId(new Date());
      await save(target, `${oldPartial}/dump.archive.zst`, 'the start of a dump whose run was killed');
      await save(target, `${youngPartial}/dump.archive.zst`, 'a dump still being written');
      const { id: complete } = await plantBackup(target, new Date(longAgo.getTime() - HOUR), { description: 'conformance', durationMs: 1000, bodyLines: 2 });
      await folders?.plantEmpty(oldEmpty, 2 * HOUR);
      await folders?.plantEmpty(youngEmpty, 0);
      context.onTestFinished(async () => {
        for (const key of [...(await listAll(target, `${youngPartial}/`)), ...(await listAll(target, `${complete}/`))]) await target.remove(key.key).catch(() => undefined);
      });
      // No retention rule: only incomplete backups past the grace period may go.
      const prune = (dryRun: boolean): Promise<TargetPruneReport> =>
        pruneOne(withRetry(target), policyFromConfig(undefined, {}), { incompleteGraceMs: HOUR }, { targets: [], dryRun, signal: new AbortController().signal });
      const ours = (report: TargetPruneReport) => ({
        delete: report.decisions.filter((d) => d.action === 'delete' && [oldPartial, youngPartial, complete].includes(d.id)).map((d) => d.id),
        keep: report.decisions.filter((d) => d.action === 'keep' && [oldPartial, youngPartial, complete].includes(d.id)).map((d) => d.id).sort(),
        leftovers: report.leftovers.filter((key) => [oldEmpty, youngEmpty, oldPartial, youngPartial, complete].some((id) => key.startsWith(`${id}/`))),
      });
      const expected = { delete: [oldPartial], keep: [complete, youngPartial].sort(), leftovers: folders ? [`${oldEmpty}/`] : [] };

      const dryRun = await prune(true);
      expect(dryRun.error).toBeUndefined();
      expect(ours(dryRun)).toEqual(expected);
      expect(await listAll(target, `${oldPartial}/`)).toHaveLength(1);
      if (folders) expect(await folders.exists(oldEmpty)).toBe(true);

      const real = await prune(false);
      expect(real.error).toBeUndefined();
      expect(real.leftoversError).toBeUndefined();
      expect(ours(real)).toEqual(expected);
      expect(real.decisions.find((d) => d.id === oldPartial)?.deleted).toBe(true);
      expect(await listAll(target, `${oldPartial}/`)).toEqual([]);
      expect((await listAll(target, `${youngPartial}/`)).map((info) => info.key)).toEqual([`${youngPartial}/dump.archive.zst`]);
      expect((await listAll(target, `${complete}/`)).map((info) => info.key).sort()).toEqual([`${complete}/dump.archive`, `${complete}/manifest.json`]);
      if (folders) {
        // Neither the emptied folder of the deleted backup nor the empty one is left; the young one stays.
        expect(await folders.exists(oldPartial)).toBe(false);
        expect(await folders.exists(oldEmpty)).toBe(false);
        expect(await folders.exists(youngEmpty)).toBe(true);
      }
      expect(ours(await prune(false))).toEqual({ delete: [], keep: [complete, youngPartial].sort(), leftovers: [] });
    });

    it('reports plausible free space when it declares space, through the retry wrapper too', async (context) => {
      const target = await open(context);
      const space = withRetry(target).capabilities.space;
      if (!space) return context.skip(`${name} declares no space`);
      const { freeBytes, totalBytes } = await space();
      expect(totalBytes).toBeGreaterThan(0);
      expect(freeBytes).toBeGreaterThanOrEqual(0);
      expect(freeBytes).toBeLessThanOrEqual(totalBytes);
    });

    it('can be closed twice', async (context) => {
      const target = await makeTarget(context);
      await target.check();
      await target.close();
      await target.close();
    });

    const wrong = options.wrongCredentials;
    if (typeof wrong === 'string' || wrong === undefined) {
      it.skip(`refuses wrong credentials with TARGET_AUTH (${wrong ?? 'no wrong-credentials case given'})`, () => undefined);
    } else {
      it('refuses wrong credentials with TARGET_AUTH and a message that says what to check, without the secret', async (context) => {
        const { target, secret } = await wrong(context);
        context.onTestFinished(() => target.close());
        for (const operation of [() => target.check(), () => target.save(`${run}/auth/denied.bin`, Readable.from([Buffer.from('data')]))]) {
          const error = await expectFailure(operation());
          expect(error.code).toBe(ErrorCodes.TARGET_AUTH);
          expect(error.message).toMatch(/authentication failed for target .*: check /);
          expect(error.message).not.toContain(secret);
        }
      });
    }

    if (options.unreachable) {
      const makeUnreachable = options.unreachable;
      it('reports a server that does not answer as TARGET_UNREACHABLE', async (context) => {
        const target = await makeUnreachable(context);
        context.onTestFinished(() => target.close());
        const error = await expectFailure(target.check());
        expect(error.code).toBe(ErrorCodes.TARGET_UNREACHABLE);
        expect(error.message).toContain(target.name);
      });
    }

    if (options.unknownHostKey) {
      const makeUnknown = options.unknownHostKey;
      it('refuses an unknown or mismatching host key, printing the server’s fingerprint to configure', async (context) => {
        const { targets, serverFingerprint } = await makeUnknown(context);
        for (const target of targets) {
          context.onTestFinished(() => target.close());
          const error = await expectFailure(target.check());
          expect(error.code).toBe(ErrorCodes.TARGET_AUTH);
          expect(error.message).toContain(serverFingerprint);
          expect(error.message).toContain('hostFingerprint');
        }
      });
    }
  });
}
