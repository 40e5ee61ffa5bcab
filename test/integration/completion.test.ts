// Shell completion scripts: the shipped files in completions/ are what the live command tree
// generates now, `completion <shell>` prints them, and each one loads in its shell and completes
// subcommands, nested subcommands, options, declared choices, file names and target names.
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { COMPLETION_FILES, generateCompletion, SHELLS } from '../../src/completion/index.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const node = join(repoRoot, 'node_modules/.bin/node');
const shipped = (shell: (typeof SHELLS)[number]): string => join(repoRoot, 'completions', COMPLETION_FILES[shell]);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd = repoRoot): Promise<Run> {
  return new Promise((done) => {
    execFile(command, args, { cwd, env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

function hasShell(shell: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${shell}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
// Missing shells skip locally; in CI they must be installed (apt-get install zsh fish).
const skipShell = (shell: string): boolean => !hasShell(shell) && process.env.CI !== 'true';

let workDir: string;
let configFile: string;
/** PATH with a `mongo-backup` that runs this checkout, so scripts can ask it for target names. */
let pathWithCli: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'mongo-backup-completion-'));
  configFile = join(workDir, 'backuprc.yaml');
  writeFileSync(
    configFile,
    ['targets:', '  - name: primary', '    type: local', `    path: ${workDir}/a`, '  - name: offsite', '    type: local', `    path: ${workDir}/b`, ''].join('\n'),
  );
  const binDir = join(workDir, 'bin');
  mkdirSync(binDir);
  writeFileSync(join(binDir, 'mongo-backup'), `#!/bin/sh\nexec '${node}' '${join(repoRoot, 'bin/mongo-backup')}' "$@"\n`);
  chmodSync(join(binDir, 'mongo-backup'), 0o755);
  mkdirSync(join(workDir, 'some-dir'));
  writeFileSync(join(workDir, 'some-file.yaml'), '');
  pathWithCli = `${binDir}:${process.env.PATH}`;
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** Every command path of the live tree with its visible long options. */
function liveCommands(): Array<{ path: string[]; longOptions: string[]; subcommands: string[] }> {
  const out: Array<{ path: string[]; longOptions: string[]; subcommands: string[] }> = [];
  const walk = (command: Command, path: string[]): void => {
    const help = command.createHelp();
    out.push({
      path,
      longOptions: help.visibleOptions(command).flatMap((option) => (option.long ? [option.long] : [])),
      subcommands: help.visibleCommands(command).map((sub) => sub.name()),
    });
    for (const sub of help.visibleCommands(command)) walk(sub, [...path, sub.name()]);
  };
  walk(buildProgram(), []);
  return out;
}

describe('shipped completion scripts', () => {
  it.each(SHELLS)('completions/%s is what the current command tree generates', (shell) => {
    const expected = generateCompletion(shell, buildProgram());
    // On failure: npm run build && node scripts/gen-completions.mjs
    expect(readFileSync(shipped(shell), 'utf8')).toBe(expected);
  });

  it.each(SHELLS)('`mongo-backup completion %s` prints the shipped script', async (shell) => {
    const result = await run(node, ['bin/mongo-backup', 'completion', shell]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(readFileSync(shipped(shell), 'utf8'));
  });

  it('`completion --targets` prints configured target names, and nothing (exit 0) when the config is broken', async () => {
    const good = await run(node, ['bin/mongo-backup', '--config', configFile, 'completion', '--targets']);
    expect(good).toEqual({ code: 0, stdout: 'primary\noffsite\n', stderr: '' });
    const broken = await run(node, ['bin/mongo-backup', '--config', join(workDir, 'missing.yaml'), 'completion', '--targets']);
    expect(broken).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('`completion` without a shell is a usage error (exit 2)', async () => {
    expect((await run(node, ['bin/mongo-backup', 'completion'])).code).toBe(2);
    expect((await run(node, ['bin/mongo-backup', 'completion', 'tcsh'])).code).toBe(2);
  });
});

// ------------------------------------------------------------------------------------------------
// bash: source the script, set COMP_WORDS/COMP_CWORD, call the registered function, read COMPREPLY.

async function bashComplete(line: string[]): Promise<string[]> {
  const script = [
    'source "$1" || exit 10',
    'shift',
    'fn=$(complete -p mongo-backup | sed -E "s/.*-F ([^ ]+).*/\\1/")',
    'COMP_WORDS=("$@")',
    'COMP_CWORD=$((${#COMP_WORDS[@]} - 1))',
    '"$fn"',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const result = await run('bash', ['--norc', '-c', script, 'bash', shipped('bash'), 'mongo-backup', ...line], { PATH: pathWithCli }, workDir);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout.split('\n').filter((word) => word !== '');
}

describe.skipIf(skipShell('bash'))('bash completion', () => {
  it('loads without output or errors', async () => {
    expect(await run('bash', ['--norc', '-c', 'source "$1" && complete -p mongo-backup', 'bash', shipped('bash')])).toMatchObject({
      code: 0,
      stderr: '',
      stdout: expect.stringMatching(/^complete -F \S+ mongo-backup\n$/),
    });
  });

  it('completes subcommands, nested subcommands, and declared choices', async () => {
    expect(await bashComplete(['sch'])).toEqual(['schedule']);
    expect(await bashComplete(['schedule', ''])).toEqual(['print', 'install', 'remove', 'help']);
    expect(await bashComplete(['--json', 'schedule', 'in'])).toEqual(['install']);
    expect(await bashComplete(['schedule', 'install', '--type', ''])).toEqual(['full', 'incremental', 'drill']);
    expect(await bashComplete(['schedule', 'install', '--type', '=', 'i'])).toEqual(['incremental']); // --type=i
    expect(await bashComplete(['completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    expect(await bashComplete(['completion', 'bash', ''])).toEqual([]);
  });

  it('completes every top-level command and, for every command, every option of the live tree', async () => {
    const commands = liveCommands();
    expect((await bashComplete([''])).sort()).toEqual([...(commands[0]?.subcommands ?? [])].sort());
    for (const command of commands.filter((c) => c.path.length > 0 && c.subcommands.length === 0)) {
      const offered = await bashComplete([...command.path, '--']);
      expect(offered, command.path.join(' ')).toEqual(expect.arrayContaining([...command.longOptions, '--config', '--json']));
    }
  });

  it('completes file names, directories, and target names from the configuration', async () => {
    expect(await bashComplete(['-c', 'some-f'])).toEqual(['some-file.yaml']);
    expect(await bashComplete(['schedule', 'install', '--dir', 'some-'])).toEqual(['some-dir']);
    expect(await bashComplete(['--config', configFile, 'list', '--target', ''])).toEqual(['primary', 'offsite']);
    expect(await bashComplete(['-c', configFile, 'replicate', '--to', 'o'])).toEqual(['offsite']);
  });
});

// ------------------------------------------------------------------------------------------------
// zsh: a pseudo-terminal runs an interactive `zsh -f` with compinit and the script on $fpath, types
// the line and a TAB; compadd is wrapped to print each match, and the shell exits after completing.

const ZSH_INIT = (fpathDir: string): string =>
  [
    "PROMPT='' RPROMPT=''",
    `fpath=(${fpathDir} $fpath)`,
    'autoload -Uz compinit && compinit -u -D',
    "bindkey '^I' complete-word",
    "zstyle ':completion:*' insert-tab false",
    'compadd() {',
    '  if (( ${@[(I)-[OAD]]} )); then builtin compadd "$@"; return; fi',
    '  local -a __hits',
    '  builtin compadd -A __hits "$@"',
    '  (( $#__hits )) && print -rl -- "<<M>>"${^__hits}',
    '  builtin compadd "$@"',
    '}',
    'comppostfuncs=( exit )',
    '',
  ].join('\n');

const ZSH_CAPTURE = [
  'zmodload zsh/zpty || exit 3',
  'zpty z zsh -f -i',
  'zpty -w z "source ${(q)1}"',
  "zpty -w -n z \"$2\"$'\\t'",
  'while zpty -r z line; do',
  "  [[ $line == *'<<M>>'* ]] && print -r -- \"${line#*<<M>>}\"",
  'done',
  'exit 0',
  '',
].join('\n');

async function zshComplete(line: string): Promise<string[]> {
  const capture = join(workDir, 'capture.zsh');
  const init = join(workDir, 'init.zsh');
  if (!existsSync(capture)) {
    writeFileSync(capture, ZSH_CAPTURE);
    writeFileSync(init, ZSH_INIT(join(repoRoot, 'completions')));
  }
  const result = await run('zsh', ['-f', capture, init, `mongo-backup ${line}`], { PATH: pathWithCli }, workDir);
  expect(result.code, result.stderr).toBe(0);
  const matches = result.stdout.split('\n').map((match) => match.replace(/\r$/, '')).filter((match) => match !== '');
  return [...new Set(matches)];
}

describe.skipIf(skipShell('zsh'))('zsh completion', () => {
  it('loads without errors, both from $fpath and with source', async () => {
    const fromFpath = await run('zsh', ['-fc', `fpath=(${join(repoRoot, 'completions')} $fpath); autoload -Uz compinit; compinit -u -D; print -r -- $_comps[mongo-backup]`]);
    expect(fromFpath).toEqual({ code: 0, stdout: '_mongo-backup\n', stderr: '' });
    const sourced = await run('zsh', ['-fc', `autoload -Uz compinit; compinit -u -D; source ${shipped('zsh')}; print -r -- $_comps[mongo-backup]`]);
    expect(sourced).toEqual({ code: 0, stdout: '_mongo-backup\n', stderr: '' });
  });

  it('completes subcommands, nested subcommands, options and choices', async () => {
    expect(await zshComplete('sch')).toEqual(['schedule']);
    expect((await zshComplete('schedule ')).sort()).toEqual(['help', 'install', 'print', 'remove']);
    expect(await zshComplete('--json schedule ins')).toEqual(['install']);
    expect(await zshComplete('schedule install --ty')).toEqual(['--type']);
    expect(await zshComplete('schedule install --type ')).toEqual(['full', 'incremental', 'drill']);
    expect(await zshComplete('completion ')).toEqual(['bash', 'zsh', 'fish']);
    const options = await zshComplete('schedule remove --');
    expect(options).toEqual(expect.arrayContaining(['--cron', '--systemd', '--crontab-file', '--config', '--json']));
    expect(options).not.toContain('--at'); // remove has no --at
  });

  it('completes file names and target names', async () => {
    expect(await zshComplete('-c some-f')).toEqual(['some-file.yaml']);
    expect(await zshComplete(`--config ${configFile} list --target `)).toEqual(['primary', 'offsite']);
  });
});

// ------------------------------------------------------------------------------------------------
// fish: `complete -C` prints the completions of a command line.

async function fishComplete(line: string): Promise<string[]> {
  const result = await run('fish', ['--no-config', '-c', 'source $argv[1]; complete -C $argv[2]', shipped('fish'), `mongo-backup ${line}`], { PATH: pathWithCli }, workDir);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout.split('\n').filter((entry) => entry !== '').map((entry) => entry.split('\t')[0] ?? '');
}

describe.skipIf(skipShell('fish'))('fish completion', () => {
  it('loads without errors', async () => {
    expect(await run('fish', ['--no-config', '--no-execute', shipped('fish')])).toMatchObject({ code: 0, stderr: '' });
    expect(await run('fish', ['--no-config', '-c', 'source $argv[1]', shipped('fish')])).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('completes subcommands, nested subcommands, options and choices', async () => {
    expect(await fishComplete('cr')).toEqual(['create']);
    expect((await fishComplete('schedule ')).sort()).toEqual(['help', 'install', 'print', 'remove']);
    expect(await fishComplete('--json schedule ins')).toEqual(['install']);
    expect(await fishComplete('schedule install --ty')).toEqual(['--type']);
    expect(await fishComplete('schedule install --type ')).toEqual(['drill', 'full', 'incremental']);
    expect((await fishComplete('completion ')).sort()).toEqual(['bash', 'fish', 'zsh']);
    expect(await fishComplete('completion bash ')).toEqual([]);
    const options = await fishComplete('schedule remove --');
    expect(options).toEqual(expect.arrayContaining(['--cron', '--systemd', '--crontab-file', '--config', '--json']));
    expect(options).not.toContain('--at');
  });

  it('completes file names and target names', async () => {
    expect(await fishComplete('-c some-f')).toEqual(['some-file.yaml']);
    expect((await fishComplete(`--config ${configFile} list --target `)).sort()).toEqual(['offsite', 'primary']);
  });
});
