// Completed backups written straight through the Target API, laid out as `create` does (archive
// object first, manifest last), so tests can place backups at any point in time.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { newBackupId } from '../../src/engine/ids.js';
import { archiveObjectName, MANIFEST_FILE, MANIFEST_FORMAT, serializeManifest, type Manifest } from '../../src/engine/manifest.js';
import type { Target } from '../../src/targets/types.js';

export interface PlantOptions {
  /** Default: a new id for `startTime`. */
  id?: string;
  description: string;
  durationMs: number;
  /** Archive body repeats a line this many times (sets the stored size). */
  bodyLines: number;
}

/** Writes one completed backup that started at `startTime`; returns its id and stored size. */
export async function plantBackup(target: Target, startTime: Date, options: PlantOptions): Promise<{ id: string; storedSize: number }> {
  const id = options.id ?? newBackupId(startTime);
  const body = Buffer.from(`planted archive of ${id}\n`.repeat(options.bodyLines));
  await target.save(`${id}/${archiveObjectName('none', false)}`, Readable.from([body]));
  const manifest = plantedManifest(id, body, startTime, options);
  await target.save(`${id}/${MANIFEST_FILE}`, Readable.from([serializeManifest(manifest)]));
  return { id, storedSize: body.length };
}

/** The manifest `create` would write for an uncompressed, unencrypted archive `body`. */
export function plantedManifest(id: string, body: Buffer, startTime: Date, options: Pick<PlantOptions, 'description' | 'durationMs'>): Manifest {
  const checksum = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  return {
    manifestFormat: MANIFEST_FORMAT,
    id,
    type: 'FULL',
    status: 'COMPLETED',
    size: body.length,
    storedSize: body.length,
    object: archiveObjectName('none', false),
    compression: { algorithm: 'none' },
    encrypted: false,
    encryption: null,
    checksum,
    archiveChecksum: checksum,
    startTime: startTime.toISOString(),
    endTime: new Date(startTime.getTime() + options.durationMs).toISOString(),
    duration: options.durationMs,
    description: options.description,
    triggeredBy: 'test',
    source: { host: '127.0.0.1:27017' },
    tool: { name: 'mongo-backup', version: '0.0.0' },
    namespaces: { 'app.users': 3 },
  };
}
