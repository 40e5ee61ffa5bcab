/** `key generate` (symmetric, 64 hex) and, for keyless backup hosts, `key generate --public` / `key public FILE`. */
import * as fs from 'node:fs/promises';
import type { Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { generateIdentity, generateSymmetricKeyHex, keyFingerprint, parseHexKey, parseIdentities, recipientFingerprint, recipientOf } from '../crypto/index.js';
import { BackupError, ErrorCodes, ExitCode, type ExitCodeValue } from '../errors.js';

export function registerKeyCommand(program: Command): void {
  const key = program.command('key').description('generate and inspect encryption keys');
  key
    .command('generate')
    .description('print a new random 256-bit key as 64 hex characters (or, with --public, write an X25519 key pair)')
    .option('--public', 'generate a public/private key pair for keyless backup hosts')
    .option('--out <file>', 'with --public: where to write the private key (0600, never overwritten)')
    .addHelpText(
      'after',
      `
Examples:
  $ mongo-backup key generate > /etc/mongo-backup/key && chmod 600 /etc/mongo-backup/key
  $ mongo-backup key generate --public --out /secure/dr-identity.txt   # prints the public key for encryption.recipients`,
    )
    .action(defineAction(runGenerate));
  key
    .command('public')
    .description('print the public key (recipient) of a private identity file')
    .argument('<file>', 'identity file written by "key generate --public"')
    .action(defineAction(runPublic));
}

async function runGenerate(ctx: CommandContext, flags: { public?: boolean; out?: string }): Promise<ExitCodeValue> {
  if (!flags.public) {
    if (flags.out) throw new BackupError(ErrorCodes.USAGE, '--out goes with --public');
    const hex = generateSymmetricKeyHex();
    const fingerprint = keyFingerprint(parseHexKey(hex, 'generated key'));
    // The key itself is the output; it is printed raw so it can be redirected into a key file.
    if (ctx.output.json) ctx.output.stdout.write(`${JSON.stringify({ success: true, key: hex, fingerprint })}\n`);
    else ctx.output.stdout.write(`${hex}\n`);
    return ExitCode.OK;
  }
  if (!flags.out) {
    throw new BackupError(ErrorCodes.USAGE, 'key generate --public needs --out FILE for the private key', {
      hint: 'the private key must not end up in a terminal scrollback or a log; keep it off the backup host',
    });
  }
  const { identity, recipient } = generateIdentity();
  const text = `# mongo-backup identity (private key), created ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`;
  try {
    await fs.writeFile(flags.out, text, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new BackupError(ErrorCodes.USAGE, `${flags.out} already exists; refusing to overwrite a private key`);
    }
    throw error;
  }
  ctx.output.result({ success: true, recipient, fingerprint: recipientFingerprint(recipient), identityFile: flags.out }, () => recipient);
  ctx.output.info(`private key written to ${flags.out} (mode 0600); put the public key above into encryption.recipients`);
  return ExitCode.OK;
}

async function runPublic(ctx: CommandContext, file: string): Promise<ExitCodeValue> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new BackupError(ErrorCodes.USAGE, `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const recipients = parseIdentities(text).map(recipientOf);
  ctx.output.result({ success: true, recipients: recipients.map((r) => ({ recipient: r, fingerprint: recipientFingerprint(r) })) }, () => recipients);
  return ExitCode.OK;
}
