/** `completion bash|zsh|fish`: prints a completion script; `completion --targets` feeds it target names. */
import { Argument, Option, type Command } from 'commander';
import { defineAction, type CommandContext } from '../cli-context.js';
import { generateCompletion, SHELLS, type Shell } from '../completion/index.js';
import { usageError, ExitCode, type ExitCodeValue } from '../errors.js';

export function registerCompletionCommand(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (the same scripts ship in completions/)')
    .addArgument(new Argument('[shell]', 'bash, zsh or fish').choices(SHELLS))
    // Used by the scripts themselves to complete --target/--from/--to; prints nothing on any error.
    .addOption(new Option('--targets', 'print the configured target names, one per line').hideHelp())
    .action(
      defineAction(async (ctx: CommandContext, shell: Shell | undefined, options: { targets?: boolean }) => {
        if (options.targets) return printTargetNames(ctx);
        if (!shell) throw usageError('which shell? mongo-backup completion bash|zsh|fish');
        // `program` is complete by the time any action runs.
        const script = generateCompletion(shell, program);
        if (ctx.globals.json) ctx.output.result({ success: true, shell, script }, () => script);
        else ctx.output.raw().write(script);
        return ExitCode.OK;
      }),
    );
}

async function printTargetNames(ctx: CommandContext): Promise<ExitCodeValue> {
  try {
    const config = await ctx.config();
    const names = config.targets.map((target) => target.name).filter((name) => typeof name === 'string' && name !== '');
    if (names.length > 0) ctx.output.raw().write(`${names.join('\n')}\n`);
  } catch {
    // A completion must never print errors into the user's command line.
  }
  return ExitCode.OK;
}
