// Shared by the point-in-time integration tests: private FerretDB replica sets (so each oplog holds
// only its own test's writes), workspaces on them, and the manifest fields the tests read.
import { expect } from 'vitest';
import { peerDataDir, peerOrSkip, removePeerDataDir, testbed } from '../setup/testbed.js';
import { startFerretDB, type FerretDBStartOptions, type MongoPeer } from '../setup/peers.js';
import { describeRun, makeWorkspace, type Workspace, type WorkspaceOptions } from './helpers.js';

export interface OplogJson {
  from: { t: number; i: number };
  to: { t: number; i: number };
  fromTime: string;
  toTime: string;
  entries: number;
}

/** A backup as `create --json` and `show --json` report it: the fields these tests read. */
export interface BackupJson {
  id: string;
  type: 'FULL' | 'INCREMENTAL';
  status: string;
  checksum: string;
  namespaces: Record<string, number>;
  parent?: string;
  base?: string;
  pointInTime?: boolean;
  pointInTimeReason?: string;
  oplog?: OplogJson;
}

/** Whether private replica sets can start: the shared server is the test bed's patched FerretDB. */
export function replicaSetAvailable(): boolean {
  return testbed().missing.mongo === undefined && testbed().mongo.kind === 'ferretdb';
}

/** The shared server when it is the patched FerretDB; fails in CI, skips locally otherwise. */
export function ferretdbOrSkip(ctx: { skip(note?: string): never }): MongoPeer {
  const shared = peerOrSkip('mongo', ctx);
  if (shared.kind !== 'ferretdb') ctx.skip('needs the patched FerretDB of the test bed (a private replica set with an oplog)');
  return shared;
}

/** Private servers and workspaces of one test file, stopped and removed together (`afterAll(() => servers.stopAll())`). */
export class PrivateServers {
  private readonly cleanups: Array<() => Promise<void>> = [];

  /** A one-member replica set with its own capped oplog. */
  async replicaSet(label: string, options: Omit<FerretDBStartOptions, 'dataDir'> = {}): Promise<MongoPeer> {
    const dataDir = await peerDataDir(label);
    const handle = await startFerretDB({ dataDir, ...options });
    this.cleanups.push(async () => {
      await handle.stop();
      await removePeerDataDir(dataDir);
    });
    return handle.details;
  }

  async workspace(mongo: MongoPeer, options: Omit<WorkspaceOptions, 'mongo'> = {}): Promise<Workspace> {
    const ws = await makeWorkspace({ mongo, ...options });
    this.cleanups.push(() => ws.cleanup());
    return ws;
  }

  async stopAll(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0).reverse()) await cleanup();
  }
}

/** `create --json ARGS`, which must succeed; the backup it reports. */
export async function createBackup(ws: Workspace, args: string[] = []): Promise<BackupJson> {
  const result = await ws.run(['--json', 'create', ...args]);
  expect(result.code, describeRun(result)).toBe(0);
  return result.json<{ backup: BackupJson }>().backup;
}
