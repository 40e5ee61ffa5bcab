import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { BackupError } from '../../src/errors.js';

const KEY = 'a'.repeat(64);
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mb-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(text: string, name = '.backuprc.yaml'): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

async function configError(promise: Promise<unknown>): Promise<BackupError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BackupError);
  return error as BackupError;
}

describe('configuration', () => {
  it('works with no file at all and only MONGODB_URI: one local target at ./backups', async () => {
    const config = await loadConfig({ cwd: dir, env: { MONGODB_URI: 'mongodb://127.0.0.1:27017/', HOME: dir } });
    expect(config.mongodb.uri).toBe('mongodb://127.0.0.1:27017/');
    expect(config.targets).toEqual([{ name: 'local', type: 'local', path: join(dir, 'backups') }]);
    expect(config.compression.algorithm).toBe('zstd');
    expect(config.encryption.key).toBeUndefined();
    expect(config.retentionDefaults).toEqual({ maxBackups: 10, retentionDays: 30 });
  });

  it('accepts the documented example file (backuprc.example.yaml) with its variables set', async () => {
    const example = resolve(__dirname, '../../backuprc.example.yaml');
    const config = await loadConfig({
      configFile: example,
      cwd: dir,
      env: { MONGO_BACKUP_PASSWORD: 'pw', BACKUP_ENCRYPTION_KEY: KEY, HOME: dir },
    });
    expect(config.targets.map((t) => t.name)).toEqual(['local', 'offsite']);
    expect(config.mongodb.uri).toContain('backup:pw@db1');
    expect(config.encryption.key?.length).toBe(32);
    expect(config.health.maxAgeHours).toBe(26);
  });

  it('is found by cosmiconfig in the working directory and expands ${VAR}', async () => {
    await writeConfig('mongodb:\n  uri: mongodb://u:${PW}@h:1/\ncompression: { algorithm: gzip, level: 9 }\n');
    const config = await loadConfig({ cwd: dir, env: { PW: 'secret', HOME: dir } });
    expect(config.mongodb.uri).toBe('mongodb://u:secret@h:1/');
    expect(config.compression).toEqual({ algorithm: 'gzip', level: 9 });
  });

  it('lets environment variables override the file', async () => {
    await writeConfig(`mongodb: { uri: "mongodb://file:1/" }\ntargets:\n  - { name: local, type: local, path: /nowhere }\n`);
    const config = await loadConfig({
      cwd: dir,
      env: { MONGODB_URI: 'mongodb://env:2/', BACKUP_STORAGE_PATH: 'here', BACKUP_STATE_DIR: 'st', MAX_BACKUPS: '3', HOME: dir },
    });
    expect(config.mongodb.uri).toBe('mongodb://env:2/');
    expect(config.targets[0]!.path).toBe(join(dir, 'here'));
    expect(config.stateDir).toBe(resolve('st'));
    expect(config.retentionDefaults.maxBackups).toBe(3);
  });

  it('adds an S3 target from AWS_S3_BUCKET', async () => {
    const config = await loadConfig({ cwd: dir, env: { AWS_S3_BUCKET: 'b', AWS_REGION: 'eu-west-1', HOME: dir } });
    expect(config.targets.map((t) => [t.name, t.type])).toEqual([
      ['local', 'local'],
      ['s3', 's3'],
    ]);
  });

  it.each([
    ['an unknown top-level key', 'mongodbb: {}\n', /mongodbb is not a known key/],
    ['an unknown nested key', 'compression: { algoritm: zstd }\n', /compression\.algoritm is not a known key/],
    ['a bad compression', 'compression: { algorithm: lz4 }\n', /compression\.algorithm must be zstd, gzip or none/],
    ['a duplicate target name', 'targets:\n  - { name: a, type: local, path: x }\n  - { name: a, type: local, path: y }\n', /targets\.a is defined twice/],
    ['a target without type', 'targets:\n  - { name: a, path: x }\n', /targets\.a\.type is required/],
    ['a missing variable', 'stateDir: "${NOPE_NOT_SET}/state"\n', /stateDir refers to environment variable NOPE_NOT_SET/],
    ['invalid YAML', 'mongodb: [\n', /not valid YAML/],
    ['a short key', `encryption: { key: "abcd" }\n`, /encryption\.key/],
  ])('rejects %s with exit 2 and names it', async (_label, text, message) => {
    const file = await writeConfig(text, 'bad.yaml');
    const error = await configError(loadConfig({ configFile: file, cwd: dir, env: { HOME: dir } }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(message);
  });

  it('defers an unset variable in mongodb.uri until the URI is needed, so list/verify still work', async () => {
    const file = await writeConfig('mongodb: { uri: "mongodb://u:${NOPE_PW}@h/" }\n', 'deferred.yaml');
    const config = await loadConfig({ configFile: file, cwd: dir, env: { HOME: dir } });
    expect(config.mongodb.uri).toBeUndefined();
    expect(config.mongodb.uriProblem?.exitCode).toBe(2);
    expect(config.mongodb.uriProblem?.message).toMatch(/mongodb\.uri refers to environment variable NOPE_PW, which is not set/);
    // MONGODB_URI still wins, and then nothing is missing.
    const withEnv = await loadConfig({ configFile: file, cwd: dir, env: { HOME: dir, MONGODB_URI: 'mongodb://h:1/' } });
    expect(withEnv.mongodb.uri).toBe('mongodb://h:1/');
    expect(withEnv.mongodb.uriProblem).toBeUndefined();
  });

  it('defers an unset variable in a target\'s settings to that target, keeping its name and type', async () => {
    const text = 'targets:\n  - { name: near, type: local, path: ./b }\n  - { name: far, type: s3, bucket: b, prefix: p/, secretAccessKey: "${NOPE_SECRET}", accessKeyId: k }\n';
    const config = await loadConfig({ configFile: await writeConfig(text, 'deferred-target.yaml'), cwd: dir, env: { HOME: dir } });
    const [near, far] = config.targets;
    expect(near?.unavailable).toBeUndefined();
    expect(far).toMatchObject({ name: 'far', type: 's3', prefix: 'p/' });
    expect(far?.['secretAccessKey']).toBeUndefined(); // the unexpanded text is not kept
    expect(far?.unavailable?.message).toMatch(/targets\.far\.secretAccessKey refers to environment variable NOPE_SECRET, which is not set/);
  });

  it('leaves out an alert channel that names an unset variable, and keeps the reason for the alerts', async () => {
    const text = 'alerts: { webhook: "https://hooks.example/${NOPE_HOOK}", command: "/bin/true", notifyOnSuccess: true }\n';
    const config = await loadConfig({ configFile: await writeConfig(text, 'deferred-alerts.yaml'), cwd: dir, env: { HOME: dir } });
    expect(config.alerts.webhook).toBeUndefined();
    expect(config.alerts.command).toBe('/bin/true');
    expect(config.alerts.notifyOnSuccess).toBe(true);
    expect(config.alerts.problem?.message).toMatch(/alerts\.webhook refers to environment variable NOPE_HOOK, which is not set/);
  });

  it('never echoes a malformed key back', async () => {
    const bad = 'z'.repeat(64);
    const error = await configError(loadConfig({ cwd: dir, env: { BACKUP_ENCRYPTION_KEY: bad, HOME: dir } }));
    expect(error.exitCode).toBe(2);
    expect(error.message).not.toContain(bad);
  });

  it('rejects a malformed MongoDB URI with exit 2', async () => {
    const error = await configError(loadConfig({ cwd: dir, env: { MONGODB_URI: 'http://db:27017', HOME: dir } }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/MONGODB_URI is not a valid MongoDB connection string/);
  });

  it('refuses dump arguments that would put secrets into argv', async () => {
    const file = await writeConfig('mongodb: { dumpArgs: ["--password=x"] }\n', 'bad.yaml');
    const error = await configError(loadConfig({ configFile: file, cwd: dir, env: { HOME: dir } }));
    expect(error.message).toMatch(/must not contain --password/);
  });
});
