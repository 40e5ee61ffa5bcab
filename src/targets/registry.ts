/**
 * The one place that knows every target type. Adding a type = one factory file + one line here.
 *
 * Each remote type's module pulls in a cloud SDK (tens of MB and a few hundred ms to load), so
 * modules are imported only for the types a configuration uses: loadTargetTypes() runs when the
 * configuration is loaded, and createTarget() stays synchronous, validating the config at once.
 */
import { BackupError, ErrorCodes } from '../errors.js';
import { localTargetFactory } from './local.js';
import { checkTargetConfig } from './keys.js';
import type { Target, TargetConfigBase, TargetFactory } from './types.js';

const loaders: Record<string, () => Promise<TargetFactory>> = {
  local: async () => localTargetFactory,
  s3: async () => (await import('./s3.js')).s3TargetFactory,
  gcs: async () => (await import('./gcs.js')).gcsTargetFactory,
  azure: async () => (await import('./azure.js')).azureTargetFactory,
  sftp: async () => (await import('./sftp/target.js')).sftpTargetFactory,
  ftp: async () => (await import('./ftp.js')).ftpTargetFactory,
};

const factories = new Map<string, TargetFactory>([['local', localTargetFactory]]);

export function targetTypes(): string[] {
  return [...new Set([...Object.keys(loaders), ...factories.keys()])].sort();
}

/** Imports the modules of the given types (unknown names are left for createTarget to report). */
export async function loadTargetTypes(types: Iterable<string> = Object.keys(loaders)): Promise<void> {
  await Promise.all(
    [...new Set(types)].map(async (type) => {
      const load = loaders[type];
      if (load && !factories.has(type)) factories.set(type, await load());
    }),
  );
}

/**
 * Builds a target after checking its keys against the declared ones (keys.ts), so a target built
 * directly (tests, tools) is held to the same rules as one from the configuration file.
 */
export function createTarget(unchecked: TargetConfigBase): Target {
  if (unchecked.unavailable) throw unchecked.unavailable;
  const config = checkTargetConfig(unchecked);
  const factory = factories.get(config.type);
  if (!factory) {
    if (config.type in loaders) {
      throw new Error(`target type "${config.type}" was used before loadTargetTypes() imported it`);
    }
    throw new BackupError(
      ErrorCodes.CONFIG_INVALID,
      `configuration: targets.${config.name}.type "${config.type}" is not a known target type (known: ${targetTypes().join(', ')})`,
    );
  }
  return factory.create(config);
}
