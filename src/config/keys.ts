/**
 * The configuration file's keys, declared once (checked by schema.ts). Target entries are
 * declared per type in src/targets/keys.ts; `retention:` blocks there too. docs/TARGETS.md and
 * backuprc.example.yaml describe them; test/unit/config-keys.test.ts keeps the example in step.
 */
import type { RetentionConfig } from '../retention/policy.js';
import { RETENTION_KEYS } from '../targets/keys.js';
import type { KeySpec } from '../settings/schema.js';

export const MONGODB_KEYS: KeySpec = {
  uri: 'string',
  uriFile: 'secretFile',
  mongodump: 'string',
  mongorestore: 'string',
  dumpArgs: 'stringList',
  restoreArgs: 'stringList',
  restoreParallelCollections: 'integer',
  restoreInsertionWorkers: 'integer',
};

export const COMPRESSION_KEYS: KeySpec = { algorithm: 'string', level: 'integer' };

export const ENCRYPTION_KEYS: KeySpec = { key: 'secret', keyFile: 'secretFile', recipients: 'stringList', identityFile: 'secretFile' };

export const HEALTH_KEYS: KeySpec = {
  maxAgeHours: 'number',
  minSuccessRate: 'number',
  minFreeDiskPercent: 'number',
  minFreeDiskBytes: 'number',
  rpoMinutes: 'number',
  incrementalInterval: 'duration',
  maxDrillAgeDays: 'number',
  rtoHours: 'number',
};

export const ALERTS_KEYS: KeySpec = { webhook: 'string', command: 'string', notifyOnSuccess: 'boolean', webhookTimeoutMs: 'integer' };

/** The top level of the file. */
export const CONFIG_KEYS: KeySpec = {
  mongodb: { mapping: MONGODB_KEYS },
  compression: { mapping: COMPRESSION_KEYS },
  encryption: { mapping: ENCRYPTION_KEYS },
  stateDir: 'path',
  autoPrune: 'boolean',
  targets: { list: 'mappings' },
  health: { mapping: HEALTH_KEYS },
  alerts: { mapping: ALERTS_KEYS },
  retention: { mapping: RETENTION_KEYS },
  retries: 'integer',
  incompleteGracePeriod: 'duration',
  lockStaleAfter: 'duration',
};

/** The file after checkSection(raw, '', CONFIG_KEYS): each key absent or of its declared kind. */
export interface CheckedConfig {
  mongodb?: {
    uri?: string;
    uriFile?: string;
    mongodump?: string;
    mongorestore?: string;
    dumpArgs?: string[];
    restoreArgs?: string[];
    restoreParallelCollections?: number;
    restoreInsertionWorkers?: number;
  };
  compression?: { algorithm?: string; level?: number };
  encryption?: { key?: string; keyFile?: string; recipients?: string[]; identityFile?: string };
  stateDir?: string;
  autoPrune?: boolean;
  targets?: unknown[];
  health?: {
    maxAgeHours?: number;
    minSuccessRate?: number;
    minFreeDiskPercent?: number;
    minFreeDiskBytes?: number;
    rpoMinutes?: number;
    incrementalInterval?: string;
    maxDrillAgeDays?: number;
    rtoHours?: number;
  };
  alerts?: { webhook?: string; command?: string; notifyOnSuccess?: boolean; webhookTimeoutMs?: number };
  retention?: RetentionConfig;
  retries?: number;
  incompleteGracePeriod?: string;
  lockStaleAfter?: string;
}
