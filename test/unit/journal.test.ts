import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackupError } from '../../src/errors.js';
import {
  beginRun,
  journalPath,
  KEEP_AFTER_COMPACTION,
  MAX_RECORDS,
  readJournal,
  readRuns,
  recordRun,
  recordRunOrWarn,
  type RunRecord,
} from '../../src/state/journal.js';

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'journal-'));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

function record(runId: string, startTime: string, overrides: Partial<RunRecord> = {}): RunRecord {
  return { runId, command: 'create', status: 'SUCCESS', startTime, endTime: startTime, duration: 1000, host: 'h', ...overrides };
}

describe('run journal', () => {
  it('reads back what was appended, oldest first, creating the state directory', async () => {
    const dir = join(stateDir, 'nested', 'state');
    await recordRun(dir, record('r1', '2026-01-01T00:00:00.000Z', { backupId: 'backup-2026-01-01-000000-aaaaaa', storedSize: 42 }));
    await recordRun(dir, record('r2', '2026-01-02T00:00:00.000Z', { status: 'FAILED', error: { code: 'MONGODUMP_FAILED', message: 'boom' } }));
    const runs = await readRuns(dir);
    expect(runs.map((r) => r.runId)).toEqual(['r1', 'r2']);
    expect(runs[0]).toMatchObject({ backupId: 'backup-2026-01-01-000000-aaaaaa', storedSize: 42 });
    expect(runs[1]).toMatchObject({ status: 'FAILED', error: { code: 'MONGODUMP_FAILED', message: 'boom' } });
  });

  it('treats a missing journal as empty', async () => {
    expect(await readJournal(stateDir)).toEqual({ runs: [], corruptLines: 0 });
  });

  it('skips and counts damaged lines, keeping the good ones around them', async () => {
    await recordRun(stateDir, record('r1', '2026-01-01T00:00:00.000Z'));
    // A torn write (no newline, half a JSON object), then a valid JSON line that is not a record.
    await appendFile(journalPath(stateDir), '{"runId":"torn","comm\n{"hello":"world"}\n');
    await recordRun(stateDir, record('r2', '2026-01-02T00:00:00.000Z'));
    const { runs, corruptLines } = await readJournal(stateDir);
    expect(runs.map((r) => r.runId)).toEqual(['r1', 'r2']);
    expect(corruptLines).toBe(2);
  });

  it('filters by start time and command', async () => {
    await recordRun(stateDir, record('old', '2026-01-01T00:00:00.000Z'));
    await recordRun(stateDir, record('new', '2026-02-01T00:00:00.000Z'));
    await recordRun(stateDir, record('verify', '2026-02-02T00:00:00.000Z', { command: 'verify' }));
    expect((await readRuns(stateDir, { since: new Date('2026-01-15T00:00:00Z') })).map((r) => r.runId)).toEqual(['new', 'verify']);
    expect((await readRuns(stateDir, { command: 'verify' })).map((r) => r.runId)).toEqual(['verify']);
  });

  it('reports an unwritable journal as a typed error, which recordRunOrWarn turns into a warning', async () => {
    const notADirectory = join(stateDir, 'file');
    await writeFile(notADirectory, 'x');
    const error = await recordRun(notADirectory, record('r1', '2026-01-01T00:00:00.000Z')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupError);
    expect((error as BackupError).code).toBe('FAILED');
    expect((error as BackupError).message).toContain(notADirectory);
    const warnings: string[] = [];
    expect(await recordRunOrWarn(notADirectory, record('r1', '2026-01-01T00:00:00.000Z'), (m) => warnings.push(m))).toBe(false);
    expect(warnings).toHaveLength(1);
  });

  it('compacts itself to the most recent records once it grows past the limit', async () => {
    const padding = 'x'.repeat(100);
    const lines = Array.from({ length: MAX_RECORDS + 5 }, (_, i) =>
      JSON.stringify(record(`r${i}`, new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString(), { description: padding } as Partial<RunRecord>)),
    );
    await writeFile(journalPath(stateDir), `${lines.join('\n')}\n`);
    await recordRun(stateDir, record('last', '2026-06-01T00:00:00.000Z'));
    const runs = await readRuns(stateDir);
    expect(runs).toHaveLength(KEEP_AFTER_COMPACTION);
    expect(runs.at(-1)?.runId).toBe('last');
    expect(runs[0]?.runId).toBe(`r${MAX_RECORDS + 5 + 1 - KEEP_AFTER_COMPACTION}`);
  });

  it('beginRun times the run and keeps passwords out of recorded errors', async () => {
    const run = beginRun('restore', new Date(Date.now() - 1500));
    const finished = run.finish('FAILED', { error: { code: 'SOURCE_UNREACHABLE', message: 'cannot reach mongodb://admin:hunter2@db1:27017' } });
    expect(finished.duration).toBeGreaterThanOrEqual(1500);
    expect(finished.command).toBe('restore');
    await recordRun(stateDir, finished);
    const text = await readFile(journalPath(stateDir), 'utf8');
    expect(text).not.toContain('hunter2');
    expect((await readRuns(stateDir))[0]?.error?.message).toContain('admin:***@db1');
  });
});
