// The `targets:` list: each entry checked against its type's declared keys (src/targets/keys.ts),
// the environment's BACKUP_STORAGE_PATH and AWS_S3_BUCKET applied, names kept unique.
import * as path from 'node:path';
import { checkTargetConfig } from '../targets/keys.js';
import type { TargetConfigBase } from '../targets/types.js';
import { asMapping, configError } from '../settings/schema.js';

const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function resolveTargets(raw: unknown[] | undefined, env: NodeJS.ProcessEnv, cwd: string, baseDir: string): TargetConfigBase[] {
  const targets = (raw ?? []).map((entry, index) => validateTarget(entry, index, baseDir));
  const storagePath = env.BACKUP_STORAGE_PATH;
  if (targets.length === 0) {
    targets.push({ name: 'local', type: 'local', path: path.resolve(cwd, storagePath || './backups') });
  } else if (storagePath) {
    // The local target: the only one of type local, or the one named "local" among several.
    const locals = targets.filter((t) => t.type === 'local');
    const local = locals.length === 1 ? locals[0] : locals.find((t) => t.name === 'local');
    if (local) local.path = path.resolve(cwd, storagePath);
    else if (locals.length > 1) {
      throw configError('BACKUP_STORAGE_PATH', `is set but there are several local targets (${locals.map((t) => t.name).join(', ')}) and none is named "local"`);
    }
  }
  if (env.AWS_S3_BUCKET && !targets.some((t) => t.type === 's3' && t.bucket === env.AWS_S3_BUCKET)) {
    targets.push({
      name: targets.some((t) => t.name === 's3') ? 's3-env' : 's3',
      type: 's3',
      bucket: env.AWS_S3_BUCKET,
      ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    });
  }
  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t.name)) throw configError(`targets.${t.name}`, 'is defined twice (names must be unique)');
    seen.add(t.name);
  }
  return targets;
}

/** Name first (messages use it), then the type's declared keys (src/targets/keys.ts). */
function validateTarget(entry: unknown, index: number, baseDir: string): TargetConfigBase {
  const name = asMapping(entry, `targets[${index}]`).name;
  if (typeof name !== 'string' || !TARGET_NAME.test(name)) {
    throw configError(`targets[${index}].name`, 'is required: letters, digits, ".", "_" or "-" (at most 63)');
  }
  return checkTargetConfig(entry, { baseDir, index });
}
