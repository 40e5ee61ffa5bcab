import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createTarget } from '../../src/targets/registry.js';
import { localFolders } from './folders.js';
import { runTargetConformance } from './target-suite.js';

const root = await mkdtemp(join(tmpdir(), 'mongo-backup-conformance-local-'));
afterAll(() => rm(root, { recursive: true, force: true }));

runTargetConformance('local', () => createTarget({ name: 'local', type: 'local', path: root, prefix: 'backups/' }), {
  folders: () => localFolders(join(root, 'backups')),
});
