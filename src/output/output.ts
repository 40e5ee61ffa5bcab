/**
 * Everything the tool prints goes through here. Rules (docs/REFERENCE.md#global-options):
 * - with --json, stdout holds exactly one JSON document; everything else goes to stderr;
 * - colour only on a TTY, never with --no-color or NO_COLOR;
 * - --quiet prints only errors (and the result document with --json);
 * - secrets never appear: every line passes redactSecrets();
 * - text from outside (ids, names and manifests from storage, server errors) cannot forge a line or
 *   send a terminal escape sequence: every text-mode line passes escapeControls() (escape.ts).
 */
import { Chalk, type ChalkInstance } from 'chalk';
import { redactSecrets } from '../errors.js';
import { escapeControls } from './escape.js';

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  color: boolean;
  progress: boolean;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  /** Colours for stdout text; a no-op instance when colour is off. */
  readonly c: ChalkInstance;
  /** Colours for stderr text. */
  readonly ce: ChalkInstance;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly progressEnabled: boolean;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.quiet = options.quiet;
    this.verbose = options.verbose;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    const noColorEnv = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
    const colorAllowed = options.color && !noColorEnv;
    this.c = new Chalk({ level: colorAllowed && this.stdout.isTTY ? 1 : 0 });
    this.ce = new Chalk({ level: colorAllowed && this.stderr.isTTY ? 1 : 0 });
    this.progressEnabled = options.progress && !options.quiet && Boolean(this.stderr.isTTY);
  }

  /** The command's result: one JSON document with --json, otherwise the human rendering on stdout. */
  result(json: unknown, human: () => string | string[]): void {
    if (this.json) {
      this.stdout.write(`${redactSecrets(JSON.stringify(json, null, 2))}\n`);
      return;
    }
    if (this.quiet) return;
    const text = human();
    const lines = Array.isArray(text) ? text.join('\n') : text;
    if (lines !== '') this.stdout.write(`${escapeControls(redactSecrets(lines), { keepNewlines: true, keepColour: this.c.level > 0 })}\n`);
  }

  /** Raw bytes to stdout (used by `cat`). */
  raw(): NodeJS.WritableStream {
    return this.stdout;
  }

  /** A progress/log line for people: stderr, suppressed by --quiet. */
  info(message: string): void {
    if (this.quiet) return;
    this.stderr.write(`${this.line(message)}\n`);
  }

  /** Detail shown only with --verbose. */
  debug(message: string): void {
    if (!this.verbose) return;
    this.stderr.write(`${this.ce.dim(this.line(message))}\n`);
  }

  warn(message: string): void {
    if (this.quiet) return;
    this.stderr.write(`${this.ce.yellow('warning:')} ${this.line(message)}\n`);
  }

  /** A multi-line detail (a stack trace with --verbose): secrets redacted, control characters but line breaks escaped. */
  detail(text: string): void {
    this.stderr.write(`${escapeControls(redactSecrets(text), { keepNewlines: true })}\n`);
  }

  /** Errors always print (even with --quiet); with --json the error document goes to stdout instead. */
  error(message: string): void {
    this.stderr.write(`${this.ce.red('error:')} ${this.line(message)}\n`);
  }

  /** What to do about the error just printed, on the line below it. */
  hint(message: string): void {
    this.stderr.write(`  ${this.ce.dim('hint:')} ${this.line(message)}\n`);
  }

  /** A message for stderr as one line: secrets redacted, control characters (line breaks too) escaped. */
  private line(message: string): string {
    return escapeControls(redactSecrets(message), { keepColour: this.ce.level > 0 });
  }
}

/** Formats bytes for people: 1.5 MB, 12 KB (decimal units, as disks and clouds bill). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '-';
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

/** Renders rows as an aligned text table (no borders; easy to grep and to read at 2 AM). */
export function formatTable(headers: string[], rows: string[][]): string {
  // Widths are measured without ANSI colour codes.
  // eslint-disable-next-line no-control-regex
  const visible = (s: string): number => s.replace(/\u001b\[[0-9;]*m/g, '').length;
  // A cell is one line: a line break in a value (a description read from storage) is shown, not obeyed.
  const cells = rows.map((row) => row.map((cell) => escapeControls(cell, { keepColour: true })));
  const widths = headers.map((h, i) => Math.max(visible(h), ...cells.map((r) => visible(r[i] ?? ''))));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visible(cell)))).join('  ');
  return [line(headers), ...cells.map(line)].join('\n');
}
