/** The zsh completion script (`_mongo-backup`), generated from the command tree. */
import { allCommands, flagsOf, optionsAt, type CompletionCommand, type CompletionModel, type CompletionOption } from './model.js';
import { configFlags, functionName, GENERATED_NOTICE } from './shared.js';

export function generateZsh(model: CompletionModel): string {
  const fn = `_${model.program}`;
  const config = configFlags(model);
  const commands = [model.root, ...allCommands(model.root)];
  const allWords = allWordsVariable(model);
  return [
    `#compdef ${model.program}`,
    `# zsh completion for ${model.program}. ${GENERATED_NOTICE}`,
    `# Install: save as ${fn} in a directory on $fpath (e.g. /usr/local/share/zsh/site-functions)`,
    '# before compinit runs, or `source` it after compinit.',
    '',
    '# Target names from the configuration; silent when there is none.',
    `${fn}_targets() {`,
    '    local -a targets config',
    ...(config.length > 0
      ? [
          // The words of the whole command line: nested subcommands only see their own words.
          `    local index=\${${allWords}[(I)${config.join('|')}]}`,
          `    (( index )) && config=(--config "\${(Q)${allWords}[index+1]}")`,
        ]
      : []),
    `    targets=(\${(f)"$(_call_program targets ${model.program} $config completion --targets 2>/dev/null)"})`,
    "    _wanted targets expl 'target' compadd -a targets",
    '}',
    '',
    ...commands.flatMap((command) => commandFunction(model, command)),
    `if [[ $funcstack[1] == ${fn} ]]; then`,
    '    # autoloaded from $fpath: this file is the function body',
    `    ${fn} "$@"`,
    'else',
    `    compdef ${fn} ${model.program}`,
    'fi',
    '',
  ].join('\n');
}

/** Set by the top-level function: nested subcommand functions only see their own `words`. */
function allWordsVariable(model: CompletionModel): string {
  return `_${functionName(model.program)}_all_words`;
}

function functionFor(model: CompletionModel, command: CompletionCommand): string {
  return [`_${model.program}`, ...command.path].join('__');
}

function commandFunction(model: CompletionModel, command: CompletionCommand): string[] {
  const name = functionFor(model, command);
  const optionSpecs = optionsAt(model, command).flatMap((option) => optionSpecsOf(model, option));
  if (command.subcommands.length === 0) {
    return [
      `${name}() {`,
      '    _arguments \\',
      ...[...optionSpecs, ...command.arguments.map(argumentSpec)].map((spec) => `        ${spec} \\`),
      '        && return 0',
      '    return 1',
      '}',
      '',
    ];
  }
  const label = [model.program, ...command.path].join(' ');
  return [
    `${name}() {`,
    '    local curcontext="$curcontext" state state_descr line expl ret=1',
    ...(command.path.length === 0 ? [`    local -a ${allWordsVariable(model)}=("\${(@)words}")`] : []),
    '    typeset -A opt_args',
    '    _arguments -C \\',
    ...optionSpecs.map((spec) => `        ${spec} \\`),
    "        '1: :->command' \\",
    "        '*:: :->argument' && ret=0",
    '    case $state in',
    '        command)',
    '            local -a commands',
    '            commands=(',
    ...command.subcommands.map((sub) => `                ${quote(`${sub.name.replaceAll(':', '\\:')}:${sub.description}`)}`),
    '            )',
    `            _describe -t commands ${quote(`${label} command`)} commands && ret=0`,
    '            ;;',
    '        argument)',
    `            curcontext="\${curcontext%:*:*}:${[model.program, ...command.path].join('-')}-$line[1]:"`,
    '            case $line[1] in',
    ...command.subcommands.map((sub) => `                (${sub.name}) ${functionFor(model, sub)} && ret=0 ;;`),
    '            esac',
    '            ;;',
    '    esac',
    '    return ret',
    '}',
    '',
  ];
}

/** `_arguments` specs of one option: one per flag, each excluding its other spellings. */
function optionSpecsOf(model: CompletionModel, option: CompletionOption): string[] {
  const flags = flagsOf(option);
  const exclusion = flags.length > 1 ? `(${flags.join(' ')})` : '';
  const description = `[${bracketSafe(option.description)}]`;
  return flags.map((flag) => {
    let valueSuffix = '';
    let valueSpec = '';
    if (option.value) {
      const long = flag.startsWith('--');
      valueSuffix = long ? (option.value.optional ? '=-' : '=') : option.value.optional ? '-' : '+';
      valueSpec = `:${option.value.name}:${valueAction(model, option)}`;
    }
    return quote(`${exclusion}${flag}${valueSuffix}${description}${valueSpec}`);
  });
}

function valueAction(model: CompletionModel, option: CompletionOption): string {
  switch (option.value?.kind) {
    case 'choices':
      return `(${option.value.choices.join(' ')})`;
    case 'file':
      return '_files';
    case 'directory':
      return '_files -/';
    case 'target':
      return `_${model.program}_targets`;
    default:
      return ' ';
  }
}

function argumentSpec(argument: CompletionCommand['arguments'][number], index: number): string {
  const position = argument.variadic ? '*' : `${index + 1}`;
  const optional = argument.required || argument.variadic ? ':' : '::';
  const action = argument.choices.length > 0 ? `(${argument.choices.join(' ')})` : ' ';
  return quote(`${position}${optional}${argument.name}:${action}`);
}

/** `[` and `]` end the description in an _arguments spec; round brackets read the same. */
function bracketSafe(text: string): string {
  return text.replaceAll('[', '(').replaceAll(']', ')');
}

function quote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}
