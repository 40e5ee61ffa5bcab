// Untrusted text (ids typed by a user, names and manifests from storage, server errors) neither
// forges lines nor reaches the terminal as control sequences (docs/REFERENCE.md#output), and a
// backup id argument is checked against the one grammar (docs/REFERENCE.md#backup-ids).
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { backupIdArgument } from '../../src/commands/shared.js';
import { isBackupRef } from '../../src/engine/ids.js';
import { ErrorCodes, ExitCode } from '../../src/errors.js';
import { escapeControls } from '../../src/output/escape.js';
import { formatTable, Output } from '../../src/output/output.js';

function captured(colour: boolean): { output: Output; stdout: () => string; stderr: () => string } {
  const out = Object.assign(new PassThrough(), { isTTY: colour });
  const err = Object.assign(new PassThrough(), { isTTY: colour });
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  out.on('data', (c: Buffer) => chunks.out.push(c));
  err.on('data', (c: Buffer) => chunks.err.push(c));
  const output = new Output({ json: false, quiet: false, verbose: true, color: colour, progress: false, stdout: out, stderr: err });
  return { output, stdout: () => Buffer.concat(chunks.out).toString(), stderr: () => Buffer.concat(chunks.err).toString() };
}

describe('escapeControls', () => {
  it('shows line breaks, ESC, BEL, DEL, C1 controls and bidi overrides in a visible form', () => {
    expect(escapeControls('x\nerror: forged line')).toBe('x\\nerror: forged line');
    expect(escapeControls('x\u001b[2J\u001b]0;owned\u0007')).toBe('x\\x1b[2J\\x1b]0;owned\\x07');
    expect(escapeControls('a\rb\tc\u0000d\u007fe\u009bf')).toBe('a\\rb\\tc\\x00d\\x7fe\\x9bf');
    expect(escapeControls('admin\u202egpj.exe')).toBe('admin\\u{202e}gpj.exe');
  });

  it('leaves printable text, non-ASCII letters and emoji alone', () => {
    const text = 'backup-2026-02-18-103000-a1b2c3 ünïcödé ✓ 数据库 🙂 "quoted" \\ back';
    expect(escapeControls(text)).toBe(text);
  });

  it('keeps line breaks and tabs only when asked, and colour only when asked and well-formed', () => {
    expect(escapeControls('one\ntwo\tthree', { keepNewlines: true })).toBe('one\ntwo\tthree');
    expect(escapeControls('\u001b[31mred\u001b[39m', { keepColour: true })).toBe('\u001b[31mred\u001b[39m');
    expect(escapeControls('\u001b[31mred\u001b[39m')).toBe('\\x1b[31mred\\x1b[39m');
    // A colour start is kept, a screen clear beside it is not.
    expect(escapeControls('\u001b[1m\u001b[2J', { keepColour: true })).toBe('\u001b[1m\\x1b[2J');
  });
});

describe('the output layer', () => {
  it('prints an error, warning, info, hint and verbose detail as single lines, however many line breaks the text holds', () => {
    const { output, stderr } = captured(false);
    output.error('backup x\nerror: forged line was not found');
    output.warn('target y\r\nwarning: forged');
    output.info('listing\u001b]0;owned\u0007');
    output.hint('run\nhint: forged');
    output.debug('detail\u001b[2J');
    const lines = stderr().split('\n').filter((line) => line !== '');
    expect(lines).toEqual([
      'error: backup x\\nerror: forged line was not found',
      'warning: target y\\r\\nwarning: forged',
      'listing\\x1b]0;owned\\x07',
      '  hint: run\\nhint: forged',
      'detail\\x1b[2J',
    ]);
  });

  it('keeps the line structure of a result but escapes the control characters in it; table cells stay one line', () => {
    const { output, stdout } = captured(false);
    const table = formatTable(['ID', 'DESCRIPTION'], [['backup-1', 'nightly\nerror: forged'], ['backup-2', 'title\u001b]0;owned\u0007']]);
    output.result({}, () => ['first line', table, 'clear\u001b[2J']);
    expect(stdout().split('\n')).toEqual(['first line', 'ID        DESCRIPTION', 'backup-1  nightly\\nerror: forged', 'backup-2  title\\x1b]0;owned\\x07', 'clear\\x1b[2J', '']);
  });

  it('keeps its own colours on a terminal and still escapes everything else', () => {
    const { output, stderr, stdout } = captured(true);
    output.error('name\u001b[2J');
    output.result({}, () => [`${output.c.green('ok')} \u001b]0;owned\u0007`]);
    expect(stderr()).toBe('\u001b[31merror:\u001b[39m name\\x1b[2J\n');
    expect(stdout()).toBe('\u001b[32mok\u001b[39m \\x1b]0;owned\\x07\n');
  });
});

describe('backup id arguments', () => {
  it('accepts an id of the grammar, and latest where the command takes it', () => {
    expect(backupIdArgument('backup-2026-02-18-103000-a1b2c3', { latest: false })).toBe('backup-2026-02-18-103000-a1b2c3');
    expect(backupIdArgument('latest', { latest: true })).toBe('latest');
    expect(isBackupRef('latest', false)).toBe(false);
  });

  it.each([
    ['a line break', 'x\nerror: forged line'],
    ['escape sequences', 'x\u001b[2J\u001b]0;owned\u0007'],
    ['a path', '../backup-2026-02-18-103000-a1b2c3'],
    ['a folder separator', 'backup-2026-02-18-103000-a1b2c3/manifest.json'],
    ['upper-case hex', 'backup-2026-02-18-103000-A1B2C3'],
    ['trailing text', 'backup-2026-02-18-103000-a1b2c3x'],
    ['a NUL', 'backup-2026-02-18-103000-a1b2c3\u0000'],
    ['nothing', ''],
    ['another word', 'newest'],
  ])('refuses %s with a usage error (exit 2) that shows the text escaped', (_what, value) => {
    let thrown: unknown;
    try {
      backupIdArgument(value, { latest: true });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: ErrorCodes.USAGE, exitCode: ExitCode.USAGE });
    expect((thrown as Error).message).toContain('is not a backup id');
  });

  it('refuses latest where the command needs an explicit id', () => {
    expect(() => backupIdArgument('latest', { latest: false })).toThrow(/"latest" is not a backup id/);
  });
});
