// Small helpers for the per-target conformance files (things the shared test bed does not offer).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes `content` to a fresh 0600 file (a wrong password file, say) and returns its path. */
export async function secretFile(content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mongo-backup-conformance-'));
  const path = join(dir, 'secret');
  await writeFile(path, `${content}\n`, { mode: 0o600 });
  return path;
}

/** A well-formed SHA256 fingerprint that matches no real key. */
export function randomFingerprint(): string {
  return `SHA256:${createHash('sha256').update(randomBytes(32)).digest('base64').replace(/=+$/, '')}`;
}
