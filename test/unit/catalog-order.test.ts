// Listing order when ids cannot tell: two backups started in the same second (docs/REFERENCE.md#backup-ids).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildCatalog, listBackups, resolveInCatalog } from '../../src/engine/catalog.js';
import { createTarget } from '../../src/targets/registry.js';
import { plantBackup } from '../integration/plant.js';

let folder: string | undefined;
afterEach(async () => {
  if (folder) await rm(folder, { recursive: true, force: true });
});

describe('backups started in the same second', () => {
  it('list newest first by start time, and latest names the one that started last', async () => {
    folder = await mkdtemp(join(tmpdir(), 'catalog-order-'));
    const target = createTarget({ name: 'local', type: 'local', path: folder });
    const second = '2026-12-06T02:00:00';
    // The random suffixes sort the other way round from the start times.
    const earlier = await plantBackup(target, new Date(`${second}.100Z`), { id: 'backup-2026-12-06-020000-ffffff', description: 'earlier', durationMs: 10, bodyLines: 1 });
    const later = await plantBackup(target, new Date(`${second}.900Z`), { id: 'backup-2026-12-06-020000-000000', description: 'later', durationMs: 10, bodyLines: 1 });
    expect((await listBackups(target)).map((e) => e.id)).toEqual([later.id, earlier.id]);
    const catalog = await buildCatalog([target]);
    expect(catalog.backups.map((b) => b.id)).toEqual([later.id, earlier.id]);
    expect(resolveInCatalog(catalog, [target], 'latest').id).toBe(later.id);
  });
});
