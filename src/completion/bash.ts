/** The bash completion script, generated from the command tree. */
import { allCommands, flagsOf, optionsAt, type CompletionCommand, type CompletionModel, type CompletionOption } from './model.js';
import { configFlags, functionName, GENERATED_NOTICE } from './shared.js';

export function generateBash(model: CompletionModel): string {
  const fn = `_${functionName(model.program)}`;
  const commands = [model.root, ...allCommands(model.root)];
  const config = configFlags(model);
  return [
    `# bash completion for ${model.program}                       -*- shell-script -*-`,
    `# ${GENERATED_NOTICE}`,
    '# Load it with `source` from ~/.bashrc, or install it as',
    `# /usr/share/bash-completion/completions/${model.program}.`,
    '',
    `# ${fn}_spec PATH: sets what the command at PATH ("" = top level, "schedule install", ...) accepts.`,
    `${fn}_spec() {`,
    '    case "$1" in',
    ...commands.flatMap((command) => specCase(fn, model, command)),
    '        *)',
    `            ${fn}_commands='' ${fn}_options='' ${fn}_value_options='' ${fn}_arguments=''`,
    '            ;;',
    '    esac',
    '}',
    '',
    `# ${fn}_values PATH OPTION: completes the value of OPTION (the current word is in $cur).`,
    `${fn}_values() {`,
    '    case "$1|$2" in',
    ...commands.flatMap((command) => (command.path.length === 0 ? [] : command.options.flatMap((option) => valueCase(fn, option, `'${command.path.join(' ')}|`)))),
    ...model.globalOptions.flatMap((option) => valueCase(fn, option, `*'|`)),
    '    esac',
    '}',
    '',
    `${fn}_words() {`,
    `    mapfile -t COMPREPLY < <(compgen -P "$${fn}_prefix" -W "$1" -- "$cur")`,
    '}',
    '',
    `${fn}_files() {`,
    `    [[ -z $${fn}_prefix ]] && compopt -o filenames 2>/dev/null`,
    `    mapfile -t COMPREPLY < <(compgen -P "$${fn}_prefix" "$@" -- "$cur")`,
    '}',
    '',
    '# Target names from the configuration; silent when there is none.',
    `${fn}_targets() {`,
    `    ${fn}_words "$(${model.program} \${config:+--config "$config"} completion --targets 2>/dev/null)"`,
    '}',
    '',
    `${fn}() {`,
    '    local cur="${COMP_WORDS[COMP_CWORD]}" path=\'\' word expecting=\'\' config=\'\' positionals=0 i',
    `    local ${fn}_commands ${fn}_options ${fn}_value_options ${fn}_arguments ${fn}_prefix=''`,
    '    COMPREPLY=()',
    `    ${fn}_spec ''`,
    '    for ((i = 1; i < COMP_CWORD; i++)); do',
    '        word="${COMP_WORDS[i]}"',
    '        if [[ -n $expecting ]]; then',
    '            # "--option=value" arrives as three words when "=" is in COMP_WORDBREAKS.',
    '            [[ $word == = ]] && continue',
    ...(config.length > 0 ? [`            [[ ${config.map((flag) => `$expecting == ${flag}`).join(' || ')} ]] && config="$word"`] : []),
    "            expecting=''",
    '            continue',
    '        fi',
    '        case "$word" in',
    ...config.filter((flag) => flag.startsWith('--')).map((flag) => `            ${flag}=*) config="\${word#${flag}=}" ;;`),
    '            --*=*) ;;',
    `            -*) [[ " $${fn}_value_options " == *" $word "* ]] && expecting="$word" ;;`,
    '            *)',
    `                if [[ $positionals == 0 && " $${fn}_commands " == *" $word "* ]]; then`,
    '                    path="${path:+$path }$word"',
    `                    ${fn}_spec "$path"`,
    '                else',
    '                    positionals=$((positionals + 1))',
    '                fi',
    '                ;;',
    '        esac',
    '    done',
    '    if [[ -n $expecting ]]; then',
    "        [[ $cur == = ]] && cur=''",
    `        ${fn}_values "$path" "$expecting"`,
    '    elif [[ $cur == --*=* ]]; then',
    `        ${fn}_prefix="\${cur%%=*}="`,
    '        local option="${cur%%=*}"',
    '        cur="${cur#*=}"',
    `        ${fn}_values "$path" "$option"`,
    '    elif [[ $cur == -* ]]; then',
    `        ${fn}_words "$${fn}_options"`,
    '    elif [[ $positionals == 0 ]]; then',
    `        ${fn}_words "$${fn}_commands $${fn}_arguments"`,
    '    fi',
    '    return 0',
    '}',
    '',
    `complete -F ${fn} ${model.program}`,
    '',
  ].join('\n');
}

function specCase(fn: string, model: CompletionModel, command: CompletionCommand): string[] {
  const options = optionsAt(model, command);
  const words = (list: string[]): string => `'${list.join(' ').replaceAll("'", "'\\''")}'`;
  return [
    `        ${words([command.path.join(' ')])})`,
    `            ${fn}_commands=${words(command.subcommands.map((sub) => sub.name))}`,
    `            ${fn}_options=${words(options.flatMap(flagsOf))}`,
    `            ${fn}_value_options=${words(options.filter((option) => option.value).flatMap(flagsOf))}`,
    `            ${fn}_arguments=${words(command.arguments[0]?.choices ?? [])}`,
    '            ;;',
  ];
}

/** One `case` branch for an option that takes a value we know how to complete. */
function valueCase(fn: string, option: CompletionOption, pathPattern: string): string[] {
  if (!option.value) return [];
  const action = (() => {
    switch (option.value.kind) {
      case 'choices':
        return `${fn}_words '${option.value.choices.join(' ')}'`;
      case 'file':
        return `${fn}_files -f`;
      case 'directory':
        return `${fn}_files -d`;
      case 'target':
        return `${fn}_targets`;
      case 'any':
        return undefined;
    }
  })();
  if (action === undefined) return [];
  const patterns = flagsOf(option).map((flag) => `${pathPattern}${flag}'`);
  return [`        ${patterns.join('|')}) ${action} ;;`];
}
