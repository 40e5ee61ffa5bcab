// Vitest global setup: builds the CLI (so tests can spawn bin/mongo-backup) and starts the test
// bed, whose connection details reach the tests through provide('testbed') / inject('testbed').
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { notSelectedReason, startTestbed } from './start-testbed.js';
import { repoRoot } from './process.js';

const execFileAsync = promisify(execFile);

function log(message: string): void {
  process.stderr.write(`[testbed] ${message}\n`);
}

async function buildCli(): Promise<void> {
  try {
    await execFileAsync('node_modules/.bin/tsc', ['-p', 'tsconfig.build.json'], { cwd: repoRoot });
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string };
    throw new Error(`tsc -p tsconfig.build.json failed:\n${output.stdout ?? ''}${output.stderr ?? ''}`);
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const timed = async <T>(work: Promise<T>): Promise<{ value: T; ms: number }> => ({ value: await work, ms: Date.now() - started });
  const [build, bed] = await Promise.allSettled([timed(buildCli()), timed(startTestbed())]);
  if (bed.status === 'rejected') throw bed.reason;
  const { testbed, startupMs, stopAll, rootDir } = bed.value.value;
  if (build.status === 'rejected') {
    await stopAll();
    throw build.reason;
  }
  project.provide('testbed', testbed);

  const perPeer = Object.entries(startupMs).map(([name, ms]) => `${name} ${ms} ms`).join(', ');
  log(`ready in ${Date.now() - started} ms (in parallel: tsc build ${build.value.ms} ms, peers ${bed.value.ms} ms: ${perPeer || 'none'}); data under ${rootDir}`);
  const consequence = process.env['CI'] === 'true' ? 'CI: tests that need them fail' : 'tests that need them are skipped';
  const notSelected = Object.keys(testbed.missing).filter((name) => testbed.missing[name] === notSelectedReason);
  if (notSelected.length > 0) log(`not started (MONGO_BACKUP_TEST_PEERS): ${notSelected.join(', ')}; ${consequence}`);
  for (const [name, reason] of Object.entries(testbed.missing)) {
    if (reason !== notSelectedReason) log(`${name} unavailable (${consequence}): ${reason}`);
  }
  return async () => {
    await stopAll();
  };
}
