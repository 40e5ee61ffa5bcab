// The test-only checkpoints of src/engine/checkpoints.ts: inert without the explicit switch, and
// with it they announce, warn, and never hold a run for ever.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCheckpoints } from '../../src/engine/checkpoints.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'checkpoints-'));
  file = join(dir, 'checkpoint.pid');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function armed(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { MONGO_BACKUP_TEST_CHECKPOINT: 'before-manifest', MONGO_BACKUP_TEST_CHECKPOINT_FILE: file, ...extra };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((done) => setTimeout(done, 5));
}

describe('test checkpoints', () => {
  it('do nothing without MONGO_BACKUP_TEST_CHECKPOINTS=1, even when a checkpoint is named', async () => {
    for (const env of [armed(), armed({ MONGO_BACKUP_TEST_CHECKPOINTS: 'true' })]) {
      const warnings: string[] = [];
      const checkpoints = createCheckpoints(env, (line) => warnings.push(line));
      await checkpoints.checkpoint('before-manifest', new AbortController().signal);
      expect(checkpoints.isArmed('before-manifest')).toBe(false);
      expect(checkpoints.stage('before-manifest', new AbortController().signal, 'before-first-chunk')).toBeUndefined();
      expect(warnings).toEqual([]);
      expect(existsSync(file)).toBe(false);
    }
  });

  it('with the switch: warn, announce the PID, and go on when the test removes the file', async () => {
    const warnings: string[] = [];
    const checkpoints = createCheckpoints(armed({ MONGO_BACKUP_TEST_CHECKPOINTS: '1' }), (line) => warnings.push(line));
    let passed = false;
    const held = checkpoints.checkpoint('before-manifest', new AbortController().signal).then(() => (passed = true));
    await until(() => existsSync(file));
    expect((await readFile(file, 'utf8')).trim()).toBe(String(process.pid));
    expect(warnings).toEqual([expect.stringMatching(/test checkpoint "before-manifest" reached .*MONGO_BACKUP_TEST_CHECKPOINTS=1 is for tests only.*holding this run and its lock for up to 60 s/)]);
    expect(passed).toBe(false);
    await rm(file);
    await held;
    expect(passed).toBe(true);
  });

  it('with the switch: an abort lets the run go on at once', async () => {
    const checkpoints = createCheckpoints(armed({ MONGO_BACKUP_TEST_CHECKPOINTS: '1' }), () => undefined);
    const controller = new AbortController();
    const held = checkpoints.checkpoint('before-manifest', controller.signal);
    await until(() => existsSync(file));
    controller.abort();
    await expect(held).resolves.toBeUndefined();
  });

  it('with the switch: fails the run clearly instead of holding it (and its lock) for ever', async () => {
    const checkpoints = createCheckpoints(armed({ MONGO_BACKUP_TEST_CHECKPOINTS: '1', MONGO_BACKUP_TEST_CHECKPOINT_TIMEOUT_MS: '50' }), () => undefined);
    await expect(checkpoints.checkpoint('before-manifest', new AbortController().signal)).rejects.toMatchObject({
      code: 'FAILED',
      message: 'test checkpoint "before-manifest" was not released within 0.05 s; stopping this run',
      hint: expect.stringContaining('MONGO_BACKUP_TEST_CHECKPOINTS=1 is a switch for the test suite only'),
    });
  });
});
