/** The fish completion script, generated from the command tree. */
import { allCommands, flagsOf, type CompletionCommand, type CompletionModel, type CompletionOption } from './model.js';
import { configFlags, functionName, GENERATED_NOTICE } from './shared.js';

export function generateFish(model: CompletionModel): string {
  const fn = `__${functionName(model.program)}`;
  const program = model.program;
  const commands = [model.root, ...allCommands(model.root)];
  const config = configFlags(model);
  const pathCase = (pick: (command: CompletionCommand) => string[]): string[] =>
    commands.flatMap((command) => {
      const words = pick(command);
      return words.length === 0 ? [] : [`        case ${quote(command.path.join(' '))}`, `            printf '%s\\n' ${words.map(quote).join(' ')}`];
    });
  return [
    `# fish completion for ${program}. ${GENERATED_NOTICE}`,
    `# Install: copy to ~/.config/fish/completions/${program}.fish`,
    `# (or /usr/share/fish/vendor_completions.d/${program}.fish).`,
    '',
    '# Subcommands of the command at a path ("" = top level).',
    `function ${fn}_subcommands`,
    '    switch "$argv[1]"',
    ...pathCase((command) => command.subcommands.map((sub) => sub.name)),
    '    end',
    'end',
    '',
    '# Options that take a value, at a path (global ones included).',
    `function ${fn}_value_options`,
    '    switch "$argv[1]"',
    ...pathCase((command) => optionsWithValue(model, command)),
    '    end',
    'end',
    '',
    '# Prints the number of positional arguments typed so far, then ":" and the subcommand path.',
    `function ${fn}_state`,
    '    set -l tokens (commandline -opc)',
    '    set -e tokens[1]',
    "    set -l path ''",
    '    set -l positionals 0',
    '    set -l expecting 0',
    '    for token in $tokens',
    '        if test $expecting = 1',
    '            set expecting 0',
    '            continue',
    '        end',
    '        switch $token',
    "            case '--*=*'",
    "            case '-*'",
    `                if contains -- $token (${fn}_value_options "$path")`,
    '                    set expecting 1',
    '                end',
    "            case '*'",
    `                if test $positionals = 0; and contains -- $token (${fn}_subcommands "$path")`,
    '                    set path (string trim -- "$path $token")',
    '                else',
    '                    set positionals (math $positionals + 1)',
    '                end',
    '        end',
    '    end',
    '    echo $positionals',
    '    echo ":$path"',
    'end',
    '',
    '# True when the command line is at PATH (and, with a second argument, before any positional).',
    `function ${fn}_at`,
    `    set -l state (${fn}_state)`,
    '    test "$state[2]" = ":$argv[1]"; or return 1',
    '    test (count $argv) -lt 2; or test "$state[1]" = 0',
    'end',
    '',
    '# Target names from the configuration; silent when there is none.',
    `function ${fn}_targets`,
    '    set -l tokens (commandline -opc)',
    '    set -l config',
    ...(config.length > 0
      ? [
          '    for index in (seq (count $tokens))',
          `        if contains -- $tokens[$index] ${config.join(' ')}; and test $index -lt (count $tokens)`,
          '            set config --config $tokens[(math $index + 1)]',
          '        end',
          '    end',
        ]
      : []),
    `    ${program} $config completion --targets 2>/dev/null`,
    'end',
    '',
    `complete -c ${program} -e`,
    '# No file names unless an option asks for them.',
    `complete -c ${program} -f`,
    ...model.globalOptions.flatMap((option) => optionLine(model, fn, option, undefined)),
    ...commands.flatMap((command) => commandLines(model, fn, command)),
    '',
  ].join('\n');
}

function optionsWithValue(model: CompletionModel, command: CompletionCommand): string[] {
  const own = command.path.length === 0 ? [] : command.options;
  return [...own, ...model.globalOptions].filter((option) => option.value).flatMap(flagsOf);
}

function commandLines(model: CompletionModel, fn: string, command: CompletionCommand): string[] {
  const at = `${fn}_at ${quote(command.path.join(' '))}`;
  const lines: string[] = [];
  for (const sub of command.subcommands) {
    lines.push(`complete -c ${model.program} -n ${quote(`${at} first`)} -a ${quote(sub.name)} -d ${quote(sub.description)}`);
  }
  const choices = command.arguments[0]?.choices ?? [];
  if (choices.length > 0) {
    lines.push(`complete -c ${model.program} -n ${quote(`${at} first`)} -a ${quote(choices.join(' '))}`);
  }
  if (command.path.length > 0) {
    const globalFlags = new Set(model.globalOptions.flatMap(flagsOf));
    for (const option of command.options) {
      if (flagsOf(option).every((flag) => globalFlags.has(flag))) continue;
      lines.push(...optionLine(model, fn, option, at));
    }
  }
  return lines;
}

function optionLine(model: CompletionModel, fn: string, option: CompletionOption, condition: string | undefined): string[] {
  const parts = [`complete -c ${model.program}`];
  if (condition) parts.push(`-n ${quote(condition)}`);
  if (option.short) parts.push(`-s ${option.short.replace(/^-/, '')}`);
  if (option.long) parts.push(`-l ${option.long.replace(/^--/, '')}`);
  switch (option.value?.kind) {
    case undefined:
      break;
    case 'choices':
      parts.push(`-x -a ${quote(option.value.choices.join(' '))}`);
      break;
    case 'file':
      parts.push('-r -F');
      break;
    case 'directory':
      parts.push(`-x -a ${quote('(__fish_complete_directories (commandline -ct))')}`);
      break;
    case 'target':
      parts.push(`-x -a ${quote(`(${fn}_targets)`)}`);
      break;
    case 'any':
      parts.push('-x');
      break;
  }
  if (option.description) parts.push(`-d ${quote(option.description)}`);
  return [parts.join(' ')];
}

function quote(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
