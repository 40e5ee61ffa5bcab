// docs/REFERENCE.md stays true to the code: every command and option of the live command tree,
// every key of backuprc.example.yaml, every error code with its exit code, and every environment
// variable the configuration loader reads has its row there. A new flag or key without its
// documentation fails here, naming what is missing.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildProgram } from '../../src/cli.js';
import { allCommands, buildCompletionModel, flagsOf, type CompletionCommand, type CompletionOption } from '../../src/completion/model.js';
import { BackupError, ErrorCodes, type ErrorCode } from '../../src/errors.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const reference = readFileSync(join(repoRoot, 'docs/REFERENCE.md'), 'utf8');

/** The lines under a heading whose text is exactly `title`, up to the next heading of the same or a higher level. */
function section(markdown: string, title: string): string[] | undefined {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => /^#{2,4} /.test(line) && line.replace(/^#+ /, '').trim() === title);
  if (start < 0) return undefined;
  const level = /^#+/.exec(lines[start]!)![0].length;
  const end = lines.findIndex((line, i) => i > start && /^#+ /.test(line) && /^#+/.exec(line)![0].length <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

function requireSection(title: string): string[] {
  const lines = section(reference, title);
  if (!lines) throw new Error(`docs/REFERENCE.md has no heading "${title}"`);
  return lines;
}

/** Table rows (lines starting with `|`) that mention `token` in backticks, optionally followed by more text inside them. */
function rowsMentioning(lines: string[], token: string): string[] {
  const escaped = token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`\`${escaped}(\`|[ ,<\\[])`);
  return lines.filter((line) => line.startsWith('|') && pattern.test(line));
}

// ---- commands and options ----

const model = buildCompletionModel(buildProgram());
/** commander's implicit `help` subcommands and `-h, --help` options are documented once, not per command. */
const documentedCommands = allCommands(model.root).filter((command) => command.name !== 'help');

/** A command's section: its own `### \`path\`` heading, else its parent's (schedule print → schedule). */
function commandSection(command: CompletionCommand): string[] | undefined {
  for (let depth = command.path.length; depth > 0; depth--) {
    const lines = section(reference, `\`${command.path.slice(0, depth).join(' ')}\``);
    if (lines) return lines;
  }
  return undefined;
}

/** How the option is written at the start of its row: `-c, --config` or `--json`. */
function optionToken(option: CompletionOption): string {
  return flagsOf(option).join(', ');
}

function isHelp(option: CompletionOption): boolean {
  return option.long === '--help';
}

describe('docs/REFERENCE.md: commands', () => {
  it('walks a command tree with the commands and nesting the CLI has', () => {
    // Guards the walk itself: if it found nothing, every check below would pass vacuously.
    expect(documentedCommands.map((c) => c.path.join(' '))).toEqual(expect.arrayContaining(['create', 'restore', 'alerts resolve', 'schedule install', 'key generate']));
  });

  it('has a section for every command of the live command tree', () => {
    const missing = documentedCommands.filter((command) => commandSection(command) === undefined).map((c) => c.path.join(' '));
    expect(missing).toEqual([]);
  });

  it('names every subcommand, with its arguments, in its section', () => {
    const missing: string[] = [];
    for (const command of documentedCommands) {
      const text = (commandSection(command) ?? []).join('\n');
      const path = command.path.join(' ');
      if (command.path.length > 1 && !new RegExp(`\`${path}[ \`]`).test(text)) missing.push(path);
      for (const argument of command.arguments) {
        const written = `${argument.required ? '<' : '['}${argument.name}${argument.variadic ? '...' : ''}${argument.required ? '>' : ']'}`;
        if (!text.includes(written)) missing.push(`${path} ${written}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('has a table row for every option of every command', () => {
    const missing: string[] = [];
    for (const command of documentedCommands) {
      const lines = commandSection(command) ?? [];
      for (const option of command.options.filter((o) => !isHelp(o))) {
        if (rowsMentioning(lines, optionToken(option)).length === 0) missing.push(`${command.path.join(' ')} ${optionToken(option)}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('mentions the hidden options too (completion --targets), which --help and the completion model leave out', () => {
    const hidden: string[] = [];
    const walk = (command: Command, path: string[]): void => {
      for (const option of command.options.filter((o) => o.hidden && o.long)) {
        const lines = section(reference, `\`${path.join(' ')}\``) ?? [];
        if (!lines.some((line) => line.includes(`\`${option.long}\``))) hidden.push(`${path.join(' ')} ${option.long}`);
      }
      for (const sub of command.commands) walk(sub, [...path, sub.name()]);
    };
    walk(buildProgram(), []);
    expect(hidden).toEqual([]);
  });

  it('has a row for every global option', () => {
    const lines = requireSection('Global options');
    const missing = model.globalOptions.map(optionToken).filter((token) => rowsMentioning(lines, token).length === 0);
    expect(model.globalOptions.length).toBeGreaterThan(4);
    expect(missing).toEqual([]);
  });
});

// ---- configuration keys ----

/**
 * backuprc.example.yaml with its commented-out keys switched on: a whole-line comment that starts
 * with `key:` or `- key:` becomes that line (repeatedly, for `#   # key:` inside a commented
 * block). Prose comments (`# Default: ...`, `# accessKeyId / secretAccessKey: ...`) stay comments.
 */
function uncommentKeys(yamlText: string): string {
  return yamlText.split('\n').map(uncommentKeyLine).join('\n');
}

const KEY_LINE = /^\s*(?:- )?[a-z][A-Za-z0-9]*:(?:\s|$)/;
const COMMENT_LINE = /^(\s*)# ?(.*)$/;

/** The line with its comment marks removed when what they hide is a key line; else the line as it is. */
function uncommentKeyLine(line: string): string {
  if (KEY_LINE.test(line)) return line;
  const comment = COMMENT_LINE.exec(line);
  if (!comment) return line;
  const inner = uncommentKeyLine(`${comment[1]}${comment[2]}`);
  return KEY_LINE.test(inner) ? inner : line;
}

/** Every key path of a parsed YAML value; list items are written `[]` (targets[].bucket). */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return [...new Set(value.flatMap((item) => keyPaths(item, `${prefix}[]`)))];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return [path, ...keyPaths(child, path)];
  });
}

/** Where a key path is described: [section heading, token written in a table row of it]. */
function whereDescribed(path: string): [string, string] {
  const retention = /^(?:targets\[\]\.)?retention\.(.+)$/.exec(path);
  if (retention) return ['Retention', retention[1]!];
  const target = /^targets\[\]\.(.+)$/.exec(path);
  if (target) return ['Target keys', target[1]!];
  return ['Configuration', path];
}

describe('docs/REFERENCE.md: configuration keys', () => {
  const example = readFileSync(join(repoRoot, 'backuprc.example.yaml'), 'utf8');
  const paths = keyPaths(parseYaml(uncommentKeys(example)));

  it('reads the commented-out keys of the example too', () => {
    expect(uncommentKeys('  # - name: gcs\n  #   # apiEndpoint: x   # emulators\n# Default: one\n')).toBe('  - name: gcs\n    apiEndpoint: x   # emulators\n# Default: one\n');
    expect(paths).toEqual(expect.arrayContaining(['mongodb.uri', 'mongodb.uriFile', 'targets[].bucket', 'targets[].apiEndpoint', 'targets[].retention.keepLast', 'alerts.webhook', 'retention.keepDaily']));
  });

  it('describes every key path of backuprc.example.yaml in a table row', () => {
    const missing = paths.filter((path) => {
      const [title, token] = whereDescribed(path);
      return rowsMentioning(requireSection(title), token).length === 0;
    });
    expect(missing).toEqual([]);
  });
});

// ---- error codes and exit codes ----

describe('docs/REFERENCE.md: error codes', () => {
  it('lists every error code with the exit code it produces', () => {
    const lines = requireSection('Error codes');
    const wrong = Object.values(ErrorCodes)
      .map((code: ErrorCode) => ({ code, exit: new BackupError(code, 'x').exitCode }))
      .filter(({ code, exit }) => !lines.some((line) => new RegExp(`^\\|\\s*\`${code}\`\\s*\\|\\s*${exit}\\s*\\|`).test(line)))
      .map(({ code, exit }) => `${code} (exit ${exit})`);
    expect(wrong).toEqual([]);
  });

  it('explains every exit code an error code can produce', () => {
    const lines = requireSection('Exit codes');
    const exits = new Set(Object.values(ErrorCodes).map((code) => new BackupError(code, 'x').exitCode));
    const missing = [0, ...exits].filter((exit) => !lines.some((line) => new RegExp(`^\\|\\s*${exit}\\s*\\|`).test(line)));
    expect(missing).toEqual([]);
  });
});

// ---- environment variables ----

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : name.endsWith('.ts') ? [full] : [];
  });
}

/**
 * Names the code reads from the environment: `env.NAME`, `env['NAME']`, and quoted UPPER_SNAKE
 * names handed to a helper (`optionalEnvInt(env, 'MAX_BACKUPS', ...)`).
 */
function environmentReads(source: string): string[] {
  const patterns = [/\benv\.([A-Z][A-Z0-9_]*)\b/g, /\benv\[['"]([A-Z][A-Z0-9_]*)['"]\]/g, /\benv,\s*['"]([A-Z][A-Z0-9_]*)['"]/g];
  return [...new Set(patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((m) => m[1]!)))];
}

describe('docs/REFERENCE.md: environment variables', () => {
  const lines = requireSection('Environment variables');

  it('finds the reads the code has', () => {
    expect(environmentReads("x = env.MONGODB_URI; process.env['CI']; optionalEnvInt(env, 'MAX_BACKUPS', 'n')").sort()).toEqual(['CI', 'MAX_BACKUPS', 'MONGODB_URI']);
  });

  it('describes every variable the configuration loader reads', () => {
    const names = sourceFiles(join(repoRoot, 'src/config')).flatMap((file) => environmentReads(readFileSync(file, 'utf8')));
    expect(names).toEqual(expect.arrayContaining(['MONGODB_URI', 'BACKUP_ENCRYPTION_KEY', 'BACKUP_STATE_DIR']));
    expect([...new Set(names)].filter((name) => rowsMentioning(lines, name).length === 0)).toEqual([]);
  });

  it('describes every variable read anywhere else in src/', () => {
    const names = sourceFiles(join(repoRoot, 'src')).flatMap((file) => environmentReads(readFileSync(file, 'utf8')));
    expect([...new Set(names)].filter((name) => rowsMentioning(lines, name).length === 0)).toEqual([]);
  });
});

// ---- citations ----

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  if (!existsSync(file)) return new Set();
  const headings = readFileSync(file, 'utf8').split('\n').filter((line) => /^#{1,6} /.test(line));
  return new Set(headings.map((line) => slug(line.replace(/^#+ /, ''))));
}

/** `docs/<PAGE>.md#<anchor>` anywhere; in a page of docs/, its `(<PAGE>.md#<anchor>)` and `(#<anchor>)` links. */
function citations(text: string, page?: string): Array<{ doc: string; anchor: string }> {
  const pattern = page ? /\]\(([A-Z]*\.md)?#([^)\s]+)\)/g : /docs\/([A-Z]+\.md)#([a-z0-9-]+)/g;
  return [...text.matchAll(pattern)].map((m) => ({ doc: m[1] ?? page!, anchor: m[2]! }));
}

describe('citations of docs/', () => {
  const codeFiles = ['src', 'test', 'bin', 'scripts', 'bench'].flatMap((dir) => sourceFiles(join(repoRoot, dir)));
  const docFiles = readdirSync(join(repoRoot, 'docs')).filter((name) => name.endsWith('.md')).map((name) => join(repoRoot, 'docs', name));

  it('computes anchors the way GitHub does', () => {
    expect(slug('local — a directory on this machine')).toBe('local--a-directory-on-this-machine');
    expect(slug('`alerts resolve`')).toBe('alerts-resolve');
  });

  it('every docs/*.md#anchor cited in the code, the README or docs/ names a heading that exists', () => {
    const sources = [
      ...[...codeFiles, join(repoRoot, 'README.md')].map((file) => ({ file, found: citations(readFileSync(file, 'utf8')) })),
      ...docFiles.map((file) => ({ file, found: citations(readFileSync(file, 'utf8'), basename(file)) })),
    ];
    expect(sources.flatMap((s) => s.found).length).toBeGreaterThan(20);
    const broken = sources.flatMap(({ file, found }) =>
      found.filter(({ doc, anchor }) => !anchorsOf(join(repoRoot, 'docs', doc)).has(anchor)).map(({ doc, anchor }) => `${file.slice(repoRoot.length + 1)}: ${doc}#${anchor}`),
    );
    expect(broken).toEqual([]);
  });

  it('no comment cites the product brief, which is not in the repository', () => {
    const brief = new RegExp(['S', 'PEC'].join('') + '\\b');
    const citing = [...codeFiles, join(repoRoot, 'README.md'), ...docFiles].filter((file) => brief.test(readFileSync(file, 'utf8')));
    expect(citing.map((file) => file.slice(repoRoot.length + 1))).toEqual([]);
  });
});
