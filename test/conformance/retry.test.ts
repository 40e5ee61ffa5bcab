// The retrying wrapper (src/targets/retry.ts): what is retried, what is not, and that a save is
// offered again only while its body is untouched.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BackupError, ErrorCodes, NotFoundError } from '../../src/errors.js';
import { bufferBody } from '../../src/targets/body.js';
import { isTransientError, withRetry } from '../../src/targets/retry.js';
import type { ObjectInfo, Target } from '../../src/targets/types.js';
import { readBuffer } from './streams.js';

function connectionReset(): Error {
  return Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
}

/** A target whose operations are scripted per test; everything not scripted throws. */
function fakeTarget(overrides: Partial<Target>): Target {
  const unexpected = () => Promise.reject(new Error('not scripted'));
  return {
    name: 'fake',
    type: 'fake',
    capabilities: { insecureTransport: false },
    describe: () => 'fake://',
    save: unexpected,
    load: unexpected,
    stat: unexpected,
    list: async function* () {
      throw new Error('not scripted');
    },
    remove: unexpected,
    check: unexpected,
    close: () => Promise.resolve(),
    ...overrides,
  };
}

/** Fails the first `failures` calls with `error`, then returns `value`. */
function failingThen<T>(failures: number, error: () => unknown, value: T): { run: () => Promise<T>; calls: () => number } {
  let calls = 0;
  return {
    run: async () => {
      calls++;
      if (calls <= failures) throw error();
      return value;
    },
    calls: () => calls,
  };
}

const fast = { baseDelayMs: 1, maxDelayMs: 5 };

describe('withRetry', () => {
  it('retries a transient failure and then succeeds, reporting each retry', async () => {
    const info: ObjectInfo = { key: 'a', size: 3 };
    const scripted = failingThen(2, connectionReset, info);
    const retries: number[] = [];
    const target = withRetry(fakeTarget({ stat: scripted.run }), { ...fast, onRetry: (event) => retries.push(event.attempt) });
    await expect(target.stat('a')).resolves.toEqual(info);
    expect(scripted.calls()).toBe(3);
    expect(retries).toEqual([1, 2]);
  });

  it('gives up after the configured number of retries with the last error', async () => {
    const scripted = failingThen(10, connectionReset, undefined);
    const target = withRetry(fakeTarget({ check: scripted.run }), { ...fast, retries: 2 });
    await expect(target.check()).rejects.toThrow('ECONNRESET');
    expect(scripted.calls()).toBe(3);
  });

  it('never retries NotFound or authentication failures', async () => {
    const missing = failingThen(10, () => new NotFoundError('object a'), undefined);
    const denied = failingThen(10, () => new BackupError(ErrorCodes.TARGET_AUTH, 'authentication failed'), undefined);
    const target = withRetry(fakeTarget({ remove: missing.run, check: denied.run }), fast);
    await expect(target.remove('a')).rejects.toBeInstanceOf(NotFoundError);
    await expect(target.check()).rejects.toMatchObject({ code: ErrorCodes.TARGET_AUTH });
    expect(missing.calls()).toBe(1);
    expect(denied.calls()).toBe(1);
  });

  it('retries a save whose body was not touched, and the retry stores the whole body', async () => {
    let calls = 0;
    let stored: Buffer = Buffer.alloc(0);
    const target = withRetry(
      fakeTarget({
        save: async (_key, body) => {
          calls++;
          if (calls === 1) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
          stored = await readBuffer(body);
          return { size: stored.length };
        },
      }),
      fast,
    );
    await expect(target.save('a', Readable.from([Buffer.from('whole body')]))).resolves.toEqual({ size: 10 });
    expect(calls).toBe(2);
    expect(stored.toString()).toBe('whole body');
  });

  it('does not retry a save once the body has started flowing', async () => {
    let calls = 0;
    const target = withRetry(
      fakeTarget({
        save: async (_key, body) => {
          calls++;
          for await (const chunk of body) {
            void chunk;
            throw connectionReset(); // the connection drops after the first chunk
          }
          return { size: 0 };
        },
      }),
      fast,
    );
    await expect(target.save('a', Readable.from([Buffer.from('one'), Buffer.from('two')]))).rejects.toThrow('ECONNRESET');
    expect(calls).toBe(1);
  });

  it('retries a save of an in-memory body (a manifest) even after it was read, each time with every byte', async () => {
    const stored: string[] = [];
    const target = withRetry(
      fakeTarget({
        save: async (_key, body) => {
          const bytes = await readBuffer(body);
          stored.push(bytes.toString());
          if (stored.length < 3) throw connectionReset(); // the connection drops after the upload
          return { size: bytes.length };
        },
      }),
      fast,
    );
    await expect(target.save('manifest.json', bufferBody(Buffer.from('{"id":"b"}')))).resolves.toEqual({ size: 10 });
    expect(stored).toEqual(['{"id":"b"}', '{"id":"b"}', '{"id":"b"}']);
  });

  it('retries a listing that fails before its first entry, never one that fails midway', async () => {
    let attempts = 0;
    const flaky = withRetry(
      fakeTarget({
        list: async function* () {
          attempts++;
          if (attempts === 1) throw connectionReset();
          yield { key: 'a', size: 1 };
          yield { key: 'b', size: 1 };
        },
      }),
      fast,
    );
    const keys: string[] = [];
    for await (const info of flaky.list()) keys.push(info.key);
    expect(keys).toEqual(['a', 'b']);

    let midwayAttempts = 0;
    const breaksMidway = withRetry(
      fakeTarget({
        list: async function* () {
          midwayAttempts++;
          yield { key: 'a', size: 1 };
          throw connectionReset();
        },
      }),
      fast,
    );
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const info of breaksMidway.list()) seen.push(info.key);
      })(),
    ).rejects.toThrow('ECONNRESET');
    expect(seen).toEqual(['a']);
    expect(midwayAttempts).toBe(1);
  });

  it('keeps the wrapped target’s identity and declared capabilities, and retries their operations', async () => {
    const space = failingThen(1, connectionReset, { freeBytes: 1, totalBytes: 2 });
    const cleanup = failingThen(2, connectionReset, ['backup-1/.tmp-data.bin-0a1b2c3d']);
    const inner = fakeTarget({ capabilities: { insecureTransport: true, space: space.run, removeStaleTemporaries: cleanup.run } });
    const target = withRetry(inner, fast);
    expect(target.name).toBe('fake');
    expect(target.describe()).toBe('fake://');
    expect(target.capabilities.insecureTransport).toBe(true);
    expect(await target.capabilities.space?.()).toEqual({ freeBytes: 1, totalBytes: 2 });
    expect(await target.capabilities.removeStaleTemporaries?.(1000, { dryRun: true })).toEqual(['backup-1/.tmp-data.bin-0a1b2c3d']);
    expect([space.calls(), cleanup.calls()]).toEqual([2, 3]);
    const plain = withRetry(fakeTarget({}));
    expect(Object.keys(plain.capabilities)).toEqual(['insecureTransport']);
  });

  it('passes the arguments of a capability operation through unchanged', async () => {
    const seen: unknown[] = [];
    const inner = fakeTarget({
      capabilities: {
        insecureTransport: false,
        removeStaleTemporaries: async (olderThanMs, options) => {
          seen.push(olderThanMs, options);
          return [];
        },
      },
    });
    await withRetry(inner).capabilities.removeStaleTemporaries?.(1234, { dryRun: true });
    expect(seen).toEqual([1234, { dryRun: true }]);
  });
});

describe('isTransientError', () => {
  it.each([
    ['a reset connection', connectionReset(), true],
    ['a refused connection wrapped as TARGET_UNREACHABLE', new BackupError(ErrorCodes.TARGET_UNREACHABLE, 'unreachable'), true],
    ['S3 503 SlowDown', Object.assign(new Error('Please reduce your request rate'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }), true],
    ['a GCS 503 (status in code)', Object.assign(new Error('Service Unavailable'), { code: 503 }), true],
    ['an Azure 500', Object.assign(new Error('InternalError'), { statusCode: 500 }), true],
    ['FTP 421 service not available', Object.assign(new Error('421 Too many connections'), { code: 421 }), true],
    ['a cause deep inside a wrapper', new BackupError(ErrorCodes.TARGET_FAILED, 'could not save', { cause: connectionReset() }), true],
    ['NotFound', new NotFoundError('object a'), false],
    ['bad credentials', new BackupError(ErrorCodes.TARGET_AUTH, 'authentication failed'), false],
    ['an HTTP 404', Object.assign(new Error('No such object'), { code: 404 }), false],
    ['an S3 403', Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }), false],
    ['an abort', Object.assign(new Error('aborted'), { name: 'AbortError' }), false],
    ['a plain bug', new TypeError('x is not a function'), false],
  ])('%s → %s', (_label, error, transient) => {
    expect(isTransientError(error)).toBe(transient);
  });
});
