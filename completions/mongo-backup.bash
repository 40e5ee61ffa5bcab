# bash completion for mongo-backup                       -*- shell-script -*-
# Generated from the command tree by `mongo-backup completion <shell>`; do not edit by hand.
# Load it with `source` from ~/.bashrc, or install it as
# /usr/share/bash-completion/completions/mongo-backup.

# _mongo_backup_spec PATH: sets what the command at PATH ("" = top level, "schedule install", ...) accepts.
_mongo_backup_spec() {
    case "$1" in
        '')
            _mongo_backup_commands='create list show restore drill verify replicate prune delete health metrics alerts cat schedule key completion help'
            _mongo_backup_options='-V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress -h --help'
            _mongo_backup_value_options='-c --config'
            _mongo_backup_arguments=''
            ;;
        'create')
            _mongo_backup_commands=''
            _mongo_backup_options='--type --description --target --db --collection --compression --no-encrypt --no-verify --prune --require-all-targets -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--type --description --target --db --collection --compression -c --config'
            _mongo_backup_arguments=''
            ;;
        'list')
            _mongo_backup_commands=''
            _mongo_backup_options='--target --type --status --since --limit -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--target --type --status --since --limit -c --config'
            _mongo_backup_arguments=''
            ;;
        'show')
            _mongo_backup_commands=''
            _mongo_backup_options='--target -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--target -c --config'
            _mongo_backup_arguments=''
            ;;
        'restore')
            _mongo_backup_commands=''
            _mongo_backup_options='--to-time --from --uri --drop --ns-include --ns-exclude --ns-from --ns-to --dry-run --force --no-verify --parallel-collections --insertion-workers --parallel --yes -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--to-time --from --uri --ns-include --ns-exclude --ns-from --ns-to --parallel-collections --insertion-workers --parallel -c --config'
            _mongo_backup_arguments=''
            ;;
        'drill')
            _mongo_backup_commands=''
            _mongo_backup_options='--to-time --uri --prefix --keep --from --parallel-collections --insertion-workers -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--to-time --uri --prefix --from --parallel-collections --insertion-workers -c --config'
            _mongo_backup_arguments=''
            ;;
        'verify')
            _mongo_backup_commands=''
            _mongo_backup_options='--all --target --deep -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--target -c --config'
            _mongo_backup_arguments=''
            ;;
        'replicate')
            _mongo_backup_commands=''
            _mongo_backup_options='--all-missing --to --from -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--to --from -c --config'
            _mongo_backup_arguments=''
            ;;
        'prune')
            _mongo_backup_commands=''
            _mongo_backup_options='--target --dry-run --keep-last --keep-hourly --keep-daily --keep-weekly --keep-monthly --keep-yearly --max-age --pitr-window -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--target --keep-last --keep-hourly --keep-daily --keep-weekly --keep-monthly --keep-yearly --max-age --pitr-window -c --config'
            _mongo_backup_arguments=''
            ;;
        'delete')
            _mongo_backup_commands=''
            _mongo_backup_options='--target --yes -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--target -c --config'
            _mongo_backup_arguments=''
            ;;
        'health')
            _mongo_backup_commands=''
            _mongo_backup_options='--prometheus --timeout -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--prometheus --timeout -c --config'
            _mongo_backup_arguments=''
            ;;
        'metrics')
            _mongo_backup_commands=''
            _mongo_backup_options='--timeout -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--timeout -c --config'
            _mongo_backup_arguments=''
            ;;
        'alerts')
            _mongo_backup_commands='list resolve help'
            _mongo_backup_options='-h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='-c --config'
            _mongo_backup_arguments=''
            ;;
        'alerts list')
            _mongo_backup_commands=''
            _mongo_backup_options='--all -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='-c --config'
            _mongo_backup_arguments=''
            ;;
        'alerts resolve')
            _mongo_backup_commands=''
            _mongo_backup_options='--note -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--note -c --config'
            _mongo_backup_arguments=''
            ;;
        'alerts help')
            _mongo_backup_commands=''
            _mongo_backup_options='-V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress -h --help'
            _mongo_backup_value_options='-c --config'
            _mongo_backup_arguments='list resolve'
            ;;
        'cat')
            _mongo_backup_commands=''
            _mongo_backup_options='--from --no-verify -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--from -c --config'
            _mongo_backup_arguments=''
            ;;
        'schedule')
            _mongo_backup_commands='print install remove help'
            _mongo_backup_options='-h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='-c --config'
            _mongo_backup_arguments=''
            ;;
        'schedule print')
            _mongo_backup_commands=''
            _mongo_backup_options='--systemd --cron --type --dir --user --no-enable --crontab-file --at --every --randomized-delay --log-file --workdir --drill-prefix --drill-uri -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--type --dir --crontab-file --at --every --randomized-delay --log-file --workdir --drill-prefix --drill-uri -c --config'
            _mongo_backup_arguments=''
            ;;
        'schedule install')
            _mongo_backup_commands=''
            _mongo_backup_options='--systemd --cron --type --dir --user --no-enable --crontab-file --at --every --randomized-delay --log-file --workdir --drill-prefix --drill-uri -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--type --dir --crontab-file --at --every --randomized-delay --log-file --workdir --drill-prefix --drill-uri -c --config'
            _mongo_backup_arguments=''
            ;;
        'schedule remove')
            _mongo_backup_commands=''
            _mongo_backup_options='--systemd --cron --type --dir --user --no-enable --crontab-file -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--type --dir --crontab-file -c --config'
            _mongo_backup_arguments=''
            ;;
        'schedule help')
            _mongo_backup_commands=''
            _mongo_backup_options='-V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress -h --help'
            _mongo_backup_value_options='-c --config'
            _mongo_backup_arguments='print install remove'
            ;;
        'key')
            _mongo_backup_commands='generate public help'
            _mongo_backup_options='-h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='-c --config'
            _mongo_backup_arguments=''
            ;;
        'key generate')
            _mongo_backup_commands=''
            _mongo_backup_options='--public --out -h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='--out -c --config'
            _mongo_backup_arguments=''
            ;;
        'key public')
            _mongo_backup_commands=''
            _mongo_backup_options='-h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='-c --config'
            _mongo_backup_arguments=''
            ;;
        'key help')
            _mongo_backup_commands=''
            _mongo_backup_options='-V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress -h --help'
            _mongo_backup_value_options='-c --config'
            _mongo_backup_arguments='generate public'
            ;;
        'completion')
            _mongo_backup_commands=''
            _mongo_backup_options='-h --help -V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress'
            _mongo_backup_value_options='-c --config'
            _mongo_backup_arguments='bash zsh fish'
            ;;
        'help')
            _mongo_backup_commands=''
            _mongo_backup_options='-V --version -c --config --json -q --quiet -v --verbose --no-color --no-progress -h --help'
            _mongo_backup_value_options='-c --config'
            _mongo_backup_arguments='create list show restore drill verify replicate prune delete health metrics alerts cat schedule key completion'
            ;;
        *)
            _mongo_backup_commands='' _mongo_backup_options='' _mongo_backup_value_options='' _mongo_backup_arguments=''
            ;;
    esac
}

# _mongo_backup_values PATH OPTION: completes the value of OPTION (the current word is in $cur).
_mongo_backup_values() {
    case "$1|$2" in
        'create|--type') _mongo_backup_words 'full incremental' ;;
        'create|--target') _mongo_backup_targets ;;
        'create|--compression') _mongo_backup_words 'zstd gzip none' ;;
        'list|--target') _mongo_backup_targets ;;
        'list|--type') _mongo_backup_words 'FULL INCREMENTAL' ;;
        'list|--status') _mongo_backup_words 'COMPLETED FAILED' ;;
        'show|--target') _mongo_backup_targets ;;
        'restore|--from') _mongo_backup_targets ;;
        'drill|--from') _mongo_backup_targets ;;
        'verify|--target') _mongo_backup_targets ;;
        'replicate|--to') _mongo_backup_targets ;;
        'replicate|--from') _mongo_backup_targets ;;
        'prune|--target') _mongo_backup_targets ;;
        'delete|--target') _mongo_backup_targets ;;
        'health|--prometheus') _mongo_backup_files -f ;;
        'cat|--from') _mongo_backup_targets ;;
        'schedule print|--type') _mongo_backup_words 'full incremental drill' ;;
        'schedule print|--dir') _mongo_backup_files -d ;;
        'schedule print|--crontab-file') _mongo_backup_files -f ;;
        'schedule print|--log-file') _mongo_backup_files -f ;;
        'schedule print|--workdir') _mongo_backup_files -d ;;
        'schedule install|--type') _mongo_backup_words 'full incremental drill' ;;
        'schedule install|--dir') _mongo_backup_files -d ;;
        'schedule install|--crontab-file') _mongo_backup_files -f ;;
        'schedule install|--log-file') _mongo_backup_files -f ;;
        'schedule install|--workdir') _mongo_backup_files -d ;;
        'schedule remove|--type') _mongo_backup_words 'full incremental drill' ;;
        'schedule remove|--dir') _mongo_backup_files -d ;;
        'schedule remove|--crontab-file') _mongo_backup_files -f ;;
        'key generate|--out') _mongo_backup_files -f ;;
        *'|-c'|*'|--config') _mongo_backup_files -f ;;
    esac
}

_mongo_backup_words() {
    mapfile -t COMPREPLY < <(compgen -P "$_mongo_backup_prefix" -W "$1" -- "$cur")
}

_mongo_backup_files() {
    [[ -z $_mongo_backup_prefix ]] && compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -P "$_mongo_backup_prefix" "$@" -- "$cur")
}

# Target names from the configuration; silent when there is none.
_mongo_backup_targets() {
    _mongo_backup_words "$(mongo-backup ${config:+--config "$config"} completion --targets 2>/dev/null)"
}

_mongo_backup() {
    local cur="${COMP_WORDS[COMP_CWORD]}" path='' word expecting='' config='' positionals=0 i
    local _mongo_backup_commands _mongo_backup_options _mongo_backup_value_options _mongo_backup_arguments _mongo_backup_prefix=''
    COMPREPLY=()
    _mongo_backup_spec ''
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        if [[ -n $expecting ]]; then
            # "--option=value" arrives as three words when "=" is in COMP_WORDBREAKS.
            [[ $word == = ]] && continue
            [[ $expecting == -c || $expecting == --config ]] && config="$word"
            expecting=''
            continue
        fi
        case "$word" in
            --config=*) config="${word#--config=}" ;;
            --*=*) ;;
            -*) [[ " $_mongo_backup_value_options " == *" $word "* ]] && expecting="$word" ;;
            *)
                if [[ $positionals == 0 && " $_mongo_backup_commands " == *" $word "* ]]; then
                    path="${path:+$path }$word"
                    _mongo_backup_spec "$path"
                else
                    positionals=$((positionals + 1))
                fi
                ;;
        esac
    done
    if [[ -n $expecting ]]; then
        [[ $cur == = ]] && cur=''
        _mongo_backup_values "$path" "$expecting"
    elif [[ $cur == --*=* ]]; then
        _mongo_backup_prefix="${cur%%=*}="
        local option="${cur%%=*}"
        cur="${cur#*=}"
        _mongo_backup_values "$path" "$option"
    elif [[ $cur == -* ]]; then
        _mongo_backup_words "$_mongo_backup_options"
    elif [[ $positionals == 0 ]]; then
        _mongo_backup_words "$_mongo_backup_commands $_mongo_backup_arguments"
    fi
    return 0
}

complete -F _mongo_backup mongo-backup
