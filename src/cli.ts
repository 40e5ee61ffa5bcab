/**
 * The command tree. Subcommands live one per file in src/commands/ and only parse flags, call the
 * engine and render; see src/cli-context.ts for the shared action wrapper.
 */
import { Command, CommanderError } from 'commander';
import { takeExitCode } from './cli-context.js';
import { ExitCode, toJsonError, usageError } from './errors.js';
import { registerCommands } from './commands/index.js';
import { TOOL_VERSION_LINE } from './version.js';
import { escapeControls } from './output/escape.js';

export function buildProgram(): Command {
  const program = new Command('mongo-backup')
    .description('Back up MongoDB to local disk and cloud storage, and get the data back.')
    .version(TOOL_VERSION_LINE, '-V, --version')
    .option('-c, --config <file>', 'configuration file (default: .backuprc* in the working directory, else /etc/mongo-backup/backuprc.yaml; a .js/.ts one only when named here)')
    .option('--json', 'print exactly one JSON document on stdout')
    .option('-q, --quiet', 'print only errors')
    .option('-v, --verbose', 'print details, and stack traces on errors')
    .option('--no-color', 'no colours (also when NO_COLOR is set)')
    .option('--no-progress', 'no progress bars')
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions(false);
  registerCommands(program);
  program.addHelpText(
    'after',
    `
Environment: MONGODB_URI, BACKUP_ENCRYPTION_KEY, BACKUP_STORAGE_PATH, BACKUP_STATE_DIR, MAX_BACKUPS,
BACKUP_RETENTION_DAYS, AWS_S3_BUCKET, AWS_REGION, ENABLE_AUTO_BACKUP, NO_COLOR (they override the file).

Exit codes: 0 ok (health: HEALTHY) · 1 failed or partial (WARNING) · 2 bad usage/config, nothing done
(CRITICAL) · 3 integrity failure (checksum, authentication, archive, counts, wrong key) · 4 locked by
another run · 130 interrupted.

Examples:
  $ mongo-backup create && mongo-backup verify latest --deep
  $ mongo-backup restore latest --ns-from 'shop.$c$' --ns-to 'shop_check.$c$'
  $ mongo-backup health --prometheus /var/lib/node_exporter/mongo_backup.prom`,
  );
  return program;
}


/** Runs the CLI and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  // A reader that goes away early (`| head`) is not an error worth a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK);
  });
  const program = buildProgram();
  applyRecursively(program, (command) => command.exitOverride().configureOutput({ outputError: writeUsageError }));
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version are "errors" with exit code 0; commander's own usage errors are
      // ours too: exit 2, and under --json the one error shape (errors.ts).
      if (error.exitCode === ExitCode.OK) return ExitCode.OK;
      const usage = usageError(error.message.replace(/^error: /, ''));
      if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(toJsonError(usage), null, 2)}\n`);
      return usage.exitCode;
    }
    throw error;
  }
  return takeExitCode();
}

/**
 * Commander's own usage errors quote the argument they refuse (`unknown option '--x…'`): shown
 * escaped like every message (docs/REFERENCE.md#output), keeping only its own "(Did you mean …?)" line.
 */
function writeUsageError(text: string, write: (text: string) => void): void {
  const [, message = text, suggestion = ''] = /^(.*?)(\n\(Did you mean [^\n]*\?\))?\n?$/s.exec(text) ?? [];
  write(`${escapeControls(message)}${suggestion}\n`);
}

function applyRecursively(command: Command, apply: (command: Command) => void): void {
  apply(command);
  for (const sub of command.commands) applyRecursively(sub, apply);
}
