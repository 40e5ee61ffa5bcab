/**
 * The one place that knows every target type. Adding a type = one factory file + one line here.
 */
import { BackupError, ErrorCodes } from '../errors.js';
import { azureTargetFactory } from './azure.js';
import { ftpTargetFactory } from './ftp.js';
import { gcsTargetFactory } from './gcs.js';
import { localTargetFactory } from './local.js';
import { s3TargetFactory } from './s3.js';
import { sftpTargetFactory } from './sftp.js';
import type { Target, TargetConfigBase, TargetFactory } from './types.js';

const factories = new Map<string, TargetFactory>();

export function registerTargetFactory(factory: TargetFactory): void {
  factories.set(factory.type, factory);
}

registerTargetFactory(localTargetFactory);
registerTargetFactory(s3TargetFactory);
registerTargetFactory(azureTargetFactory);
registerTargetFactory(gcsTargetFactory);
registerTargetFactory(sftpTargetFactory);
registerTargetFactory(ftpTargetFactory);

export function targetTypes(): string[] {
  return [...factories.keys()].sort();
}

export function createTarget(config: TargetConfigBase): Target {
  const factory = factories.get(config.type);
  if (!factory) {
    throw new BackupError(
      ErrorCodes.CONFIG_INVALID,
      `configuration: targets.${config.name}.type "${config.type}" is not a known target type (known: ${targetTypes().join(', ')})`,
    );
  }
  return factory.create(config);
}
