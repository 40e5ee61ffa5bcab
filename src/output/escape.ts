/**
 * Text from outside the tool (backup ids typed by a user, names and manifests read from storage,
 * server and SDK error messages) must not reach a terminal as control characters: a line break
 * would let it forge a line of our own output (`error: ...`), an escape sequence could clear the
 * screen, set the window title or worse. The output layer passes every text-mode line through
 * here (docs/REFERENCE.md#output); JSON output needs nothing, JSON.stringify escapes them already.
 */

/**
 * C0 controls, DEL, C1 controls (U+0080–U+009F, which some terminals honour like ESC sequences),
 * and the Unicode bidirectional overrides that can make text display in another order than it is
 * stored (the "Trojan Source" characters).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** The colour sequences chalk emits (SGR: ESC [ n ; n m) — the only escapes the tool itself writes. */
// eslint-disable-next-line no-control-regex
const SGR = /\u001b\[[0-9;]*m/y;

export interface EscapeOptions {
  /** Keep line breaks and tabs (multi-line results); otherwise `\n` shows as the two characters \n. */
  keepNewlines?: boolean;
  /** Keep colour sequences (only when the output itself is coloured). */
  keepColour?: boolean;
}

/** One character in a visible form: `\n`, `\t`, `\r`, else `\xNN` / `\u{NNNN}`. */
function visible(char: string): string {
  const named: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r' };
  const code = char.codePointAt(0) ?? 0;
  return named[char] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`);
}

/** `text` with every control character shown in a visible form (see EscapeOptions for what stays). */
export function escapeControls(text: string, options: EscapeOptions = {}): string {
  return text.replace(UNSAFE, (char, offset: number) => {
    if ((char === '\n' || char === '\t') && options.keepNewlines) return char;
    if (char === '\u001b' && options.keepColour) {
      SGR.lastIndex = offset;
      if (SGR.test(text)) return char;
    }
    return visible(char);
  });
}
