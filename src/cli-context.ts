/**
 * What every command receives: the global options, an Output, lazily loaded configuration, and an
 * AbortSignal that fires on SIGINT/SIGTERM. `defineAction` wraps a command handler so that every
 * error is mapped in one place to an exit code and to the `--json` error document.
 */
import type { Command } from 'commander';
import { BackupError, ErrorCodes, ExitCode, toBackupError, toJsonError, type ExitCodeValue } from './errors.js';
import { Output } from './output/output.js';
import { loadConfig, type ResolvedConfig } from './config/load.js';
import { setPermissionWarningSink } from './settings/secret-file.js';
import type { RunBooking } from './engine/runs.js';

export interface GlobalOptions {
  config?: string;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  color: boolean;
  progress: boolean;
}

export interface CommandContext {
  globals: GlobalOptions;
  output: Output;
  /** Fires on SIGINT/SIGTERM; long operations stop, clean up, and throw INTERRUPTED. */
  signal: AbortSignal;
  /** Loads and validates the configuration once (exit 2 on problems). */
  config(): Promise<ResolvedConfig>;
  /** What the engine's run bookkeeping needs: the command line as typed (for the lock file), and where warnings go. */
  booking: RunBooking;
}

let lastExitCode: ExitCodeValue = ExitCode.OK;

export function takeExitCode(): ExitCodeValue {
  const code = lastExitCode;
  lastExitCode = ExitCode.OK;
  return code;
}

export function globalsOf(command: Command): GlobalOptions {
  const o = command.optsWithGlobals() as Record<string, unknown>;
  return {
    ...(typeof o.config === 'string' ? { config: o.config } : {}),
    json: Boolean(o.json),
    quiet: Boolean(o.quiet),
    verbose: Boolean(o.verbose),
    color: o.color !== false,
    progress: o.progress !== false,
  };
}

type Handler = (ctx: CommandContext, ...args: never[]) => Promise<ExitCodeValue | void>;

/**
 * Wraps a command handler. The handler receives the context followed by commander's positional
 * arguments and options object; it returns an exit code (default ExitCode.OK) or throws.
 */
export function defineAction<H extends Handler>(handler: H): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const globals = globalsOf(command);
    const output = new Output(globals);
    // Warnings about the configuration's files (docs/REFERENCE.md#file-permissions) print like every other.
    setPermissionWarningSink((message) => output.warn(message));
    const controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals): void => {
      if (controller.signal.aborted) return;
      output.warn(`received ${signal}: stopping and cleaning up (send it again to force)`);
      controller.abort(new BackupError(ErrorCodes.INTERRUPTED, `interrupted by ${signal}`));
      // A second signal while cleaning up ends the process at once.
      process.once(signal, () => process.exit(ExitCode.INTERRUPTED));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let configPromise: Promise<ResolvedConfig> | undefined;
    const commandLine = ['mongo-backup', ...process.argv.slice(2)].join(' ');
    const ctx: CommandContext = {
      globals,
      output,
      signal: controller.signal,
      config: () => (configPromise ??= loadConfig({ ...(globals.config ? { configFile: globals.config } : {}) })),
      booking: { commandLine, warn: (message) => output.warn(message) },
    };
    try {
      const code = await handler(ctx, ...(args.slice(0, -1) as never[]));
      lastExitCode = code ?? ExitCode.OK;
    } catch (error) {
      lastExitCode = reportError(output, error, globals);
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
  };
}

/** Prints an error the one way the tool prints errors, and returns its exit code. */
export function reportError(output: Output, error: unknown, globals: Pick<GlobalOptions, 'json' | 'verbose'>): ExitCodeValue {
  const e = toBackupError(error);
  if (globals.json) {
    output.stdout.write(`${JSON.stringify(toJsonError(e), null, 2)}\n`);
  } else {
    output.error(e.message);
    if (e.hint) output.hint(e.hint);
  }
  if (globals.verbose) {
    const stack = e.cause instanceof Error ? e.cause.stack : e.stack;
    if (stack) output.detail(stack);
  }
  return e.exitCode;
}
