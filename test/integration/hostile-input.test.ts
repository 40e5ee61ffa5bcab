// Hostile input, as an operator meets it (docs/REFERENCE.md#output, #backup-ids,
// #where-the-file-is-found, #file-permissions): an argument cannot forge a line or reach the
// terminal, a folder's JavaScript does not run, root refuses files others control, and a
// misspelt target key is an error, not a silent fallback to another retention.
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createTarget } from '../../src/targets/registry.js';
import { describeRun, runCli, type CliResult } from './helpers.js';
import { plantBackup } from './plant.js';

const ESC = '\u001b';
const asRoot = process.getuid?.() === 0;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mongo-backup-hostile-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fresh working folder for one test. */
async function folder(name: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(path, { recursive: true });
  return path;
}

function run(cwd: string, args: string[]): Promise<CliResult> {
  return runCli(args, { cwd, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: cwd, NO_COLOR: '1' } });
}

/** A configuration with one local target, written with `mode`. */
async function localConfig(cwd: string, extra: Record<string, unknown> = {}, mode = 0o644): Promise<string> {
  const file = join(cwd, 'backuprc.yaml');
  await writeFile(file, stringify({ stateDir: join(cwd, 'state'), targets: [{ name: 'local', type: 'local', path: join(cwd, 'backups') }], ...extra }), { mode });
  await chmod(file, mode);
  return file;
}

describe('backup id arguments', () => {
  const forged = 'x\nerror: forged line';
  const terminal = `x${ESC}[2J${ESC}]0;owned\u0007`;

  it.each([
    ['show', [forged]],
    ['show', [terminal]],
    ['verify', [terminal]],
    ['restore', [forged, '--dry-run']],
    ['delete', ['../backup-2026-02-18-103000-a1b2c3', '--yes']],
    ['cat', [terminal]],
    ['replicate', [forged, '--to', 'local']],
    ['drill', [terminal, '--prefix', 'drill_']],
  ])('%s refuses a non-id with exit 2 on one escaped line, before reading the configuration', async (command, args) => {
    const cwd = await folder(`ids-${command}-${args[0]!.length}`);
    // A configuration that cannot even be parsed: the id check must come first.
    const broken = join(cwd, 'broken.yaml');
    await writeFile(broken, 'targets: [unclosed\n');
    const result = await run(cwd, ['--config', broken, command, ...args]);
    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).not.toContain(ESC);
    expect(result.stderr).not.toContain('\u0007');
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(2); // the error and its hint
    expect(lines[0]).toMatch(/^error: ".*" is not a backup id$/);
    expect(lines[0]).toContain(args[0]!.includes('\n') ? 'x\\nerror: forged line' : args[0]!.startsWith('x') ? 'x\\x1b[2J\\x1b]0;owned\\x07' : '../backup-');
    expect(lines.filter((line) => line.startsWith('error:'))).toHaveLength(1);
  });

  it('shows an option or command that commander refuses escaped too, keeping its "Did you mean" line', async () => {
    const cwd = await folder('commander');
    const option = await run(cwd, ['show', `--x\nerror: forged${ESC}[2J`]);
    expect(option.code, describeRun(option)).toBe(2);
    expect(option.stderr.split('\n').filter((line) => line.startsWith('error:'))).toEqual([`error: unknown option '--x\\nerror: forged\\x1b[2J'`]);
    const typo = await run(cwd, ['list', '--jsn']);
    expect(typo.stderr).toContain("error: unknown option '--jsn'\n(Did you mean --json?)\n");
  });

  it('shows a description read from storage escaped: no forged line, no escape sequence', async () => {
    const cwd = await folder('stored-text');
    const config = await localConfig(cwd);
    const target = createTarget({ name: 'local', type: 'local', path: join(cwd, 'backups') });
    const { id } = await plantBackup(target, new Date('2026-02-18T10:30:00Z'), {
      description: `nightly\nerror: forged line${ESC}]0;owned\u0007${ESC}[2J`,
      durationMs: 1000,
      bodyLines: 3,
    });
    for (const args of [['show', id], ['list']]) {
      const result = await run(cwd, ['--config', config, ...args]);
      expect(result.code, describeRun(result)).toBe(0);
      expect(result.stdout).not.toContain(ESC);
      expect(result.stdout).not.toMatch(/^error:/m);
      expect(result.stdout).toContain('nightly\\nerror: forged line\\x1b]0;owned\\x07\\x1b[2J');
    }
    // JSON keeps the exact text (JSON.stringify escapes control characters itself).
    const json = await run(cwd, ['--config', config, 'show', id, '--json']);
    expect(json.json<{ backup: { description: string } }>().backup.description).toBe(`nightly\nerror: forged line${ESC}]0;owned\u0007${ESC}[2J`);
  });
});

describe('configuration discovery', () => {
  it('does not run a backup.config.js found in the working directory, and says it was not loaded', async () => {
    const cwd = await folder('js-config');
    const marker = join(cwd, 'code-ran');
    await writeFile(join(cwd, 'backup.config.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\nmodule.exports = { targets: [] };\n`);
    await writeFile(join(cwd, '.backuprc.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\nmodule.exports = {};\n`);
    await mkdir(join(cwd, '.config'));
    await writeFile(join(cwd, '.config', 'config.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\nmodule.exports = {};\n`);

    const result = await run(cwd, ['list']);

    expect(existsSync(marker)).toBe(false);
    expect(result.code, describeRun(result)).toBe(0);
    expect(result.stderr).toMatch(/warning: .*(backup\.config\.js|\.backuprc\.js) is not loaded: a JavaScript\/TypeScript configuration runs only when named with --config/);
  });

  it('loads a JavaScript configuration named with --config', async () => {
    const cwd = await folder('js-named');
    const file = join(cwd, 'named.config.js');
    await writeFile(file, `module.exports = { targets: [{ name: 'fromjs', type: 'local', path: ${JSON.stringify(join(cwd, 'b'))}, retension: {} }] };\n`);
    const result = await run(cwd, ['--config', file, 'list']);
    // Its content reached the key check: the typo in it is reported.
    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain('targets.fromjs.retension is not a known key (did you mean retention?)');
  });

  it('still finds the data files in the working directory (.backuprc.yaml)', async () => {
    const cwd = await folder('data-config');
    await writeFile(join(cwd, '.backuprc.yaml'), stringify({ targets: [{ name: 'found', type: 'local', path: join(cwd, 'b') }] }));
    const result = await run(cwd, ['list', '--json']);
    expect(result.code, describeRun(result)).toBe(0);
    expect(result.json<{ targets?: unknown }>()).toBeDefined();
    const typo = await run(cwd, ['list', '--target', 'nosuch']);
    expect(typo.stderr).toContain('configured targets: found');
  });
});

describe('a misspelt key inside a target', () => {
  it('exits 2 naming it with the suggestion, instead of falling back to the default retention', async () => {
    const cwd = await folder('typo');
    const config = await localConfig(cwd);
    await writeFile(config, stringify({ targets: [{ name: 'local', type: 'local', path: join(cwd, 'backups'), retension: { keepLast: 2 } }] }));
    for (const command of [['prune', '--dry-run'], ['list']]) {
      const result = await run(cwd, ['--config', config, ...command]);
      expect(result.code, describeRun(result)).toBe(2);
      expect(result.stderr).toContain('error: configuration: targets.local.retension is not a known key (did you mean retention?)');
    }
  });
});

describe.runIf(asRoot)('file permissions, running as root', () => {
  it('refuses a configuration file others can write, naming it and the fix', async () => {
    const cwd = await folder('perm-writable');
    const config = await localConfig(cwd, {}, 0o666);
    const result = await run(cwd, ['--config', config, 'list']);
    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain(`${config} can be written by users other than its owner (mode 0666)`);
    expect(result.stderr).toContain(`hint: chmod go-w ${config}`);
    // The same file found by the search in the working directory.
    await writeFile(join(cwd, '.backuprc.yaml'), 'targets: []\n', { mode: 0o664 });
    await chmod(join(cwd, '.backuprc.yaml'), 0o664);
    const searched = await run(cwd, ['list']);
    expect(searched.code, describeRun(searched)).toBe(2);
    expect(searched.stderr).toContain(`hint: chmod go-w ${join(cwd, '.backuprc.yaml')}`);
  });

  it('refuses a configuration file or a key file owned by another user', async () => {
    const cwd = await folder('perm-owner');
    const config = await localConfig(cwd);
    await chown(config, 65534, 65534);
    const result = await run(cwd, ['--config', config, 'list']);
    expect(result.code, describeRun(result)).toBe(2);
    expect(result.stderr).toContain(`${config} is owned by user id 65534, not root`);

    await chown(config, 0, 0);
    const keyFile = join(cwd, 'key');
    await writeFile(keyFile, `${'a'.repeat(64)}\n`, { mode: 0o600 });
    await chown(keyFile, 65534, 65534);
    await localConfig(cwd, { encryption: { keyFile } });
    const owned = await run(cwd, ['--config', config, 'list']);
    expect(owned.code, describeRun(owned)).toBe(2);
    expect(owned.stderr).toContain(`configuration: encryption.keyFile ${keyFile} is owned by user id 65534, not root`);

    // Another user's project folder: its package.json is no configuration and stops nothing.
    await writeFile(join(cwd, 'package.json'), '{ "name": "someone-elses-project" }\n');
    await chown(join(cwd, 'package.json'), 65534, 65534);
    const project = await run(cwd, ['list']);
    expect(project.code, describeRun(project)).toBe(0);

    await chown(keyFile, 0, 0);
    await chmod(keyFile, 0o622);
    const writable = await run(cwd, ['--config', config, 'list']);
    expect(writable.code, describeRun(writable)).toBe(2);
    expect(writable.stderr).toContain(`hint: chmod go-w ${keyFile}`);
  });

  it('warns once when a file holding a secret is readable by every user, and not when it is private', async () => {
    const cwd = await folder('perm-readable');
    const keyFile = join(cwd, 'key');
    await writeFile(keyFile, `${'a'.repeat(64)}\n`, { mode: 0o644 });
    const config = await localConfig(cwd, { encryption: { keyFile } });
    const readable = await run(cwd, ['--config', config, 'list']);
    expect(readable.code, describeRun(readable)).toBe(0);
    const warnings = readable.stderr.split('\n').filter((line) => line.startsWith('warning:'));
    expect(warnings).toEqual([`warning: encryption.keyFile ${keyFile} holds a secret and every user can read it (mode 0644): chmod o-r ${keyFile} (or chmod 600)`]);

    // A configuration with a secret written into it is a secret file too.
    await localConfig(cwd, { encryption: { key: 'b'.repeat(64) } });
    const inline = await run(cwd, ['--config', config, 'list']);
    expect(inline.stderr).toContain(`warning: the configuration file ${config} holds a secret and every user can read it`);

    await chmod(config, 0o600);
    const quiet = await run(cwd, ['--config', config, 'list']);
    expect(quiet.code, describeRun(quiet)).toBe(0);
    expect(quiet.stderr).toBe('');
  });
});
