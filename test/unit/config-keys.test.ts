// The one configuration check (src/settings/schema.ts): every section and every target type
// declares its keys once; an unknown key fails with exit 2 naming it and the nearest known key,
// a value of the wrong kind names its key, and file paths are relative to the configuration file.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONFIG_KEYS } from '../../src/config/keys.js';
import { loadConfig } from '../../src/config/load.js';
import type { KeySpec } from '../../src/settings/schema.js';
import { BackupError, ErrorCodes } from '../../src/errors.js';
import { COMMON_TARGET_KEYS, declaredTargetTypes, TARGET_KEYS } from '../../src/targets/keys.js';
import { createTarget, loadTargetTypes, targetTypes } from '../../src/targets/registry.js';

const EXAMPLE = resolve(__dirname, '../../backuprc.example.yaml');
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mb-config-keys-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(text: string, env: Record<string, string> = {}, cwd = dir): Promise<Awaited<ReturnType<typeof loadConfig>>> {
  const file = join(dir, 'backuprc.yaml');
  await writeFile(file, text);
  return loadConfig({ configFile: file, cwd, env: { HOME: dir, ...env } });
}

async function refusal(text: string, env: Record<string, string> = {}): Promise<BackupError> {
  const error = await load(text, env).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected the configuration to be refused:\n${text}`).toBeInstanceOf(BackupError);
  const failure = error as BackupError;
  expect(failure.code).toBe(ErrorCodes.CONFIG_INVALID);
  expect(failure.exitCode).toBe(2);
  return failure;
}

/** Every key declared anywhere: top level, sections, common target keys, every type's own. */
function declaredKeys(): Set<string> {
  const keys = new Set<string>();
  const walk = (spec: KeySpec): void => {
    for (const [key, kind] of Object.entries(spec)) {
      keys.add(key);
      if (typeof kind === 'object' && 'mapping' in kind) walk(kind.mapping);
    }
  };
  walk(CONFIG_KEYS);
  walk(COMMON_TARGET_KEYS);
  for (const spec of Object.values(TARGET_KEYS)) walk(spec);
  return keys;
}

/** Keys named in the example file, commented-out ones included (at a key position, or in a `{ ... }` mapping). */
function exampleKeys(text: string): Set<string> {
  const keys = new Set<string>();
  for (const match of text.matchAll(/^[\s#-]*([a-z][A-Za-z]*):(?:\s|$)/gm)) keys.add(match[1]!);
  for (const match of text.matchAll(/[{,]\s*([a-z][A-Za-z]*):\s/g)) keys.add(match[1]!);
  return keys;
}

describe('declared configuration keys', () => {
  it('accepts backuprc.example.yaml through the real loader, with its variables set', async () => {
    const config = await loadConfig({ configFile: EXAMPLE, cwd: dir, env: { MONGO_BACKUP_PASSWORD: 'pw', BACKUP_ENCRYPTION_KEY: 'a'.repeat(64), HOME: dir } });
    expect(config.targets.map((t) => [t.name, t.type])).toEqual([
      ['local', 'local'],
      ['offsite', 's3'],
    ]);
    expect(config.configFile).toBe(EXAMPLE);
  });

  it('describes in backuprc.example.yaml every declared key, and names no key that is not declared', async () => {
    const named = exampleKeys(await readFile(EXAMPLE, 'utf8'));
    const declared = declaredKeys();
    expect([...declared].filter((key) => !named.has(key)).sort(), 'declared but missing from the example').toEqual([]);
    expect([...named].filter((key) => !declared.has(key)).sort(), 'in the example but not declared').toEqual([]);
  });

  it('names every declared key of each target type in that type\'s "Keys:" paragraph of docs/TARGETS.md', async () => {
    const docs = await readFile(resolve(__dirname, '../../docs/TARGETS.md'), 'utf8');
    for (const [type, spec] of Object.entries(TARGET_KEYS)) {
      const section = docs.split(/^## /m).find((part) => part.startsWith(`${type} — `));
      const paragraph = section?.split(/^Keys: /m)[1]?.split(/\n\n/)[0] ?? '';
      const named = new Set([...paragraph.matchAll(/`([A-Za-z]+)`/g)].map((match) => match[1]));
      expect(Object.keys(spec).filter((key) => !named.has(key)), `keys of ${type} missing from docs/TARGETS.md`).toEqual([]);
    }
  });

  it('declares keys for exactly the target types the registry can build', () => {
    expect(declaredTargetTypes()).toEqual(targetTypes());
  });

  it.each([
    ['retension', 'type: local\n    path: ./backups\n    retension: { keepLast: 2 }', 'targets.t.retension', 'retention'],
    ['storageclass', 'type: s3\n    bucket: b\n    storageclass: STANDARD_IA', 'targets.t.storageclass', 'storageClass'],
    ['minage', 'type: local\n    path: ./backups\n    retention: { keepLast: 2, minage: 7d }', 'targets.t.retention.minage', 'minAge'],
  ])('refuses the unknown target key %s with exit 2, naming it and the nearest known key', async (_typo, lines, key, nearest) => {
    const error = await refusal(`targets:\n  - name: t\n    ${lines}\n`);
    expect(error.message).toBe(`configuration: ${key} is not a known key (did you mean ${nearest}?)`);
    expect(error.hint).toMatch(/^known keys of targets\.t/);
  });

  it('refuses an unknown key even in a target set aside for an unset variable', async () => {
    const error = await refusal('targets:\n  - { name: o, type: s3, bucket: b, secretAccessKey: "${NOT_SET_HERE}", storageclass: GLACIER }\n');
    expect(error.message).toContain('targets.o.storageclass is not a known key (did you mean storageClass?)');
  });

  it.each([
    ['the top level', 'retentoin: { keepLast: 2 }\n', 'retentoin', 'retention'],
    ['mongodb', 'mongodb: { dumpArg: [] }\n', 'mongodb.dumpArg', 'dumpArgs'],
    ['compression', 'compression: { levle: 3 }\n', 'compression.levle', 'level'],
    ['encryption', 'encryption: { keyfile: /k }\n', 'encryption.keyfile', 'keyFile'],
    ['health', 'health: { maxAgeHour: 4 }\n', 'health.maxAgeHour', 'maxAgeHours'],
    ['alerts', 'alerts: { webhok: https://x }\n', 'alerts.webhok', 'webhook'],
    ['retention', 'retention: { keepDayly: 7 }\n', 'retention.keepDayly', 'keepDaily'],
    ['a target retention', 'targets:\n  - { name: l, type: local, path: x, retention: { maxage: 9d } }\n', 'targets.l.retention.maxage', 'maxAge'],
  ])('refuses an unknown key in %s, naming it and the nearest known key', async (_section, text, key, nearest) => {
    const error = await refusal(text);
    expect(error.message).toBe(`configuration: ${key} is not a known key (did you mean ${nearest}?)`);
  });

  it('lists the known keys, without a guess, for a key like none of them', async () => {
    const error = await refusal('health: { colour: blue }\n');
    expect(error.message).toBe('configuration: health.colour is not a known key');
    expect(error.hint).toBe('known keys of health: maxAgeHours, minSuccessRate, minFreeDiskPercent, minFreeDiskBytes, rpoMinutes, incrementalInterval, maxDrillAgeDays, rtoHours');
  });

  it.each([
    ['a target port that is not a number', 'targets:\n  - { name: f, type: ftp, host: h, user: u, password: p, path: /b, port: twenty-one }\n', 'targets.f.port must be a number'],
    ['a flag that is not true or false', 'autoPrune: "yes"\n', 'autoPrune must be true or false'],
    ['a target flag that is not true or false', 'targets:\n  - { name: o, type: s3, bucket: b, forcePathStyle: "on" }\n', 'targets.o.forcePathStyle must be true or false'],
    ['a bucket that is a list', 'targets:\n  - { name: o, type: s3, bucket: [a, b] }\n', 'targets.o.bucket must be text'],
    ['a section that is a list', 'health: [1, 2]\n', 'health must be a mapping'],
    ['a target that is not a mapping', 'targets:\n  - local\n', 'targets[0] must be a mapping'],
    ['targets that are not a list', 'targets: { name: l }\n', 'targets must be a list'],
    ['a retention rule that is a mapping', 'retention: { keepLast: { n: 1 } }\n', 'retention.keepLast must be a single value'],
  ])('refuses %s, naming the key', async (_label, text, message) => {
    expect((await refusal(text)).message).toContain(message);
  });

  it('takes exactly "true"/"false" and numbers from ${VAR} expansion for flags and numbers', async () => {
    await loadTargetTypes(['s3', 'ftp']);
    const config = await load(
      'autoPrune: ${AUTO}\nretries: ${RETRIES}\ntargets:\n  - { name: o, type: s3, bucket: b, forcePathStyle: "${PATH_STYLE}" }\n  - { name: f, type: ftp, host: h, user: u, password: p, path: /b, port: "${FTP_PORT}", secure: "${FTP_SECURE}" }\n',
      { AUTO: 'true', RETRIES: '5', PATH_STYLE: 'false', FTP_PORT: '2121', FTP_SECURE: 'implicit' },
    );
    expect(config.autoPrune).toBe(true);
    expect(config.retries).toBe(5);
    expect(config.targets.map((t) => [t.forcePathStyle, t.port, t.secure])).toEqual([
      [false, undefined, undefined],
      [undefined, 2121, 'implicit'],
    ]);
    expect(createTarget(config.targets[1]!).describe()).toBe('ftps://u@h:2121/b');
  });

  it('resolves relative passwordFile, privateKey and ca paths against the configuration file’s folder, not the working directory', async () => {
    await loadTargetTypes(['sftp', 'ftp']);
    await mkdir(join(dir, 'secrets'));
    await writeFile(join(dir, 'secrets', 'sftp-password'), 'sftp-pass\n');
    await writeFile(join(dir, 'secrets', 'id_ed25519'), 'not parsed before connecting\n');
    await writeFile(join(dir, 'secrets', 'ca.pem'), 'certificate\n');
    const elsewhere = await mkdtemp(join(tmpdir(), 'mb-config-cwd-'));
    try {
      const config = await load(
        [
          'targets:',
          '  - { name: s, type: sftp, host: h, username: u, passwordFile: secrets/sftp-password, privateKey: ./secrets/id_ed25519 }',
          '  - { name: f, type: ftp, host: h, user: u, passwordFile: secrets/sftp-password, path: /b, secure: true, ca: secrets/ca.pem }',
          '  - { name: l, type: local, path: backups }',
          '',
        ].join('\n'),
        {},
        elsewhere,
      );
      const [sftp, ftp, local] = config.targets;
      expect(sftp!.passwordFile).toBe(join(dir, 'secrets', 'sftp-password'));
      expect(sftp!.privateKey).toBe(join(dir, 'secrets', 'id_ed25519'));
      expect(ftp!.ca).toBe(join(dir, 'secrets', 'ca.pem'));
      expect(local!.path).toBe(join(dir, 'backups'));
      // The files are really read from there when the targets are built.
      expect(() => createTarget(sftp!)).not.toThrow();
      expect(() => createTarget(ftp!)).not.toThrow();
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('names the key and the resolved path when a configured file cannot be read', async () => {
    await loadTargetTypes(['sftp']);
    const config = await load('targets:\n  - { name: s, type: sftp, host: h, username: u, passwordFile: missing-password }\n');
    const error = (() => {
      try {
        createTarget(config.targets[0]!);
      } catch (e) {
        return e as BackupError;
      }
      throw new Error('expected createTarget to fail');
    })();
    expect(error.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(error.message).toBe(`configuration: targets.s.passwordFile names a file that cannot be read (ENOENT): ${join(dir, 'missing-password')}`);
  });

  it('resolves mongodb.uriFile against the configuration file’s folder', async () => {
    await writeFile(join(dir, 'uri'), 'mongodb://u:p@db:27017/\n');
    const elsewhere = await mkdtemp(join(tmpdir(), 'mb-config-cwd-'));
    try {
      expect((await load('mongodb: { uriFile: uri }\n', {}, elsewhere)).mongodb.uri).toBe('mongodb://u:p@db:27017/');
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('names restoreArgs, not dumpArgs, for a tool-owned argument in restoreArgs', async () => {
    const error = await refusal('mongodb: { restoreArgs: ["--uri=mongodb://x"] }\n');
    expect(error.message).toMatch(/^configuration: mongodb\.restoreArgs must not contain --uri/);
  });

  it('fills each default from its one definition', async () => {
    const config = await load('{}\n');
    expect(config.health).toEqual({ maxAgeHours: 26, minSuccessRate: 0.9, minFreeDiskPercent: 10, rpoMinutes: 60, incrementalIntervalMs: 3_600_000, maxDrillAgeDays: 35, rtoHours: 4 });
    expect([config.incompleteGraceMs, config.lockStaleAfterMs]).toEqual([24 * 3600_000, 24 * 3600_000]);
  });
});
