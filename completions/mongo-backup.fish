# fish completion for mongo-backup. Generated from the command tree by `mongo-backup completion <shell>`; do not edit by hand.
# Install: copy to ~/.config/fish/completions/mongo-backup.fish
# (or /usr/share/fish/vendor_completions.d/mongo-backup.fish).

# Subcommands of the command at a path ("" = top level).
function __mongo_backup_subcommands
    switch "$argv[1]"
        case ''
            printf '%s\n' 'create' 'list' 'show' 'restore' 'drill' 'verify' 'replicate' 'prune' 'delete' 'health' 'metrics' 'alerts' 'cat' 'schedule' 'key' 'completion' 'help'
        case 'alerts'
            printf '%s\n' 'list' 'resolve' 'help'
        case 'schedule'
            printf '%s\n' 'print' 'install' 'remove' 'help'
        case 'key'
            printf '%s\n' 'generate' 'public' 'help'
    end
end

# Options that take a value, at a path (global ones included).
function __mongo_backup_value_options
    switch "$argv[1]"
        case ''
            printf '%s\n' '-c' '--config'
        case 'create'
            printf '%s\n' '--type' '--description' '--target' '--db' '--collection' '--compression' '-c' '--config'
        case 'list'
            printf '%s\n' '--target' '--type' '--status' '--since' '--limit' '-c' '--config'
        case 'show'
            printf '%s\n' '--target' '-c' '--config'
        case 'restore'
            printf '%s\n' '--to-time' '--from' '--uri' '--ns-include' '--ns-exclude' '--ns-from' '--ns-to' '--parallel-collections' '--insertion-workers' '--parallel' '-c' '--config'
        case 'drill'
            printf '%s\n' '--to-time' '--uri' '--prefix' '--from' '--parallel-collections' '--insertion-workers' '-c' '--config'
        case 'verify'
            printf '%s\n' '--target' '-c' '--config'
        case 'replicate'
            printf '%s\n' '--to' '--from' '-c' '--config'
        case 'prune'
            printf '%s\n' '--target' '--keep-last' '--keep-hourly' '--keep-daily' '--keep-weekly' '--keep-monthly' '--keep-yearly' '--max-age' '--pitr-window' '-c' '--config'
        case 'delete'
            printf '%s\n' '--target' '-c' '--config'
        case 'health'
            printf '%s\n' '--prometheus' '--timeout' '-c' '--config'
        case 'metrics'
            printf '%s\n' '--timeout' '-c' '--config'
        case 'alerts'
            printf '%s\n' '-c' '--config'
        case 'alerts list'
            printf '%s\n' '-c' '--config'
        case 'alerts resolve'
            printf '%s\n' '--note' '-c' '--config'
        case 'alerts help'
            printf '%s\n' '-c' '--config'
        case 'cat'
            printf '%s\n' '--from' '-c' '--config'
        case 'schedule'
            printf '%s\n' '-c' '--config'
        case 'schedule print'
            printf '%s\n' '--type' '--dir' '--crontab-file' '--at' '--every' '--randomized-delay' '--log-file' '--workdir' '--drill-prefix' '--drill-uri' '-c' '--config'
        case 'schedule install'
            printf '%s\n' '--type' '--dir' '--crontab-file' '--at' '--every' '--randomized-delay' '--log-file' '--workdir' '--drill-prefix' '--drill-uri' '-c' '--config'
        case 'schedule remove'
            printf '%s\n' '--type' '--dir' '--crontab-file' '-c' '--config'
        case 'schedule help'
            printf '%s\n' '-c' '--config'
        case 'key'
            printf '%s\n' '-c' '--config'
        case 'key generate'
            printf '%s\n' '--out' '-c' '--config'
        case 'key public'
            printf '%s\n' '-c' '--config'
        case 'key help'
            printf '%s\n' '-c' '--config'
        case 'completion'
            printf '%s\n' '-c' '--config'
        case 'help'
            printf '%s\n' '-c' '--config'
    end
end

# Prints the number of positional arguments typed so far, then ":" and the subcommand path.
function __mongo_backup_state
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l path ''
    set -l positionals 0
    set -l expecting 0
    for token in $tokens
        if test $expecting = 1
            set expecting 0
            continue
        end
        switch $token
            case '--*=*'
            case '-*'
                if contains -- $token (__mongo_backup_value_options "$path")
                    set expecting 1
                end
            case '*'
                if test $positionals = 0; and contains -- $token (__mongo_backup_subcommands "$path")
                    set path (string trim -- "$path $token")
                else
                    set positionals (math $positionals + 1)
                end
        end
    end
    echo $positionals
    echo ":$path"
end

# True when the command line is at PATH (and, with a second argument, before any positional).
function __mongo_backup_at
    set -l state (__mongo_backup_state)
    test "$state[2]" = ":$argv[1]"; or return 1
    test (count $argv) -lt 2; or test "$state[1]" = 0
end

# Target names from the configuration; silent when there is none.
function __mongo_backup_targets
    set -l tokens (commandline -opc)
    set -l config
    for index in (seq (count $tokens))
        if contains -- $tokens[$index] -c --config; and test $index -lt (count $tokens)
            set config --config $tokens[(math $index + 1)]
        end
    end
    mongo-backup $config completion --targets 2>/dev/null
end

complete -c mongo-backup -e
# No file names unless an option asks for them.
complete -c mongo-backup -f
complete -c mongo-backup -s V -l version -d 'output the version number'
complete -c mongo-backup -s c -l config -r -F -d 'configuration file (default: .backuprc* in the working directory, else /etc/mongo-backup/backuprc.yaml; a .js/.ts one only when named here)'
complete -c mongo-backup -l json -d 'print exactly one JSON document on stdout'
complete -c mongo-backup -s q -l quiet -d 'print only errors'
complete -c mongo-backup -s v -l verbose -d 'print details, and stack traces on errors'
complete -c mongo-backup -l no-color -d 'no colours (also when NO_COLOR is set)'
complete -c mongo-backup -l no-progress -d 'no progress bars'
complete -c mongo-backup -s h -l help -d 'display help for command'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'create' -d 'dump the database, compress, encrypt and store it on every target; manifest last, then verify'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'list' -d 'list backups, newest first'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'show' -d 'show one backup in full, with where its copies are'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'restore' -d 'verify a backup, then stream it into mongorestore and check document counts'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'drill' -d 'restore test: restore a backup into a scratch server or under prefixed names, check counts, drop it, and record the result beside the backup'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'verify' -d 'check copies: present, size and SHA-256 match (an incremental: its whole chain); --deep also decrypts, decompresses and parses the archive'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'replicate' -d 'copy a backup to another target, verify it there, manifest last (idempotent)'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'prune' -d 'apply the retention policy to each target and print every keep/delete decision with its reason'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'delete' -d 'delete one backup (every copy, or only those on --target)'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'health' -d 'check backup age, point-in-time restore points, run history, targets and free space; exit code 0 healthy, 1 warning, 2 critical'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'metrics' -d 'totals, success rate, durations and sizes of backups'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'alerts' -d 'the alert log: list alerts, resolve them by hand'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'cat' -d 'write the plain mongodump archive (decrypted, decompressed) to stdout'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'schedule' -d 'write (or print, or remove) a systemd timer or crontab line that runs backups'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'key' -d 'generate and inspect encryption keys'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'completion' -d 'print a shell completion script (the same scripts ship in completions/)'
complete -c mongo-backup -n '__mongo_backup_at \'\' first' -a 'help' -d 'display help for command'
complete -c mongo-backup -n '__mongo_backup_at \'create\'' -l type -x -a 'full incremental' -d 'backup type'
complete -c mongo-backup -n '__mongo_backup_at \'create\'' -l description -x -d 'free text stored in the manifest'
complete -c mongo-backup -n '__mongo_backup_at \'create\'' -l target -x -a '(__mongo_backup_targets)' -d 'store only on this target (repeatable; default: all configured)'
complete -c mongo-backup -n '__mongo_backup_at \'create\'' -l db -x -d 'dump only this database'
complete -c mongo-backup -n '__mongo_backup_at \'create\'' -l collection -x -d 'dump only this collection (needs --db)'
complete -c mongo-backup -n '__mongo_backup_at \'create\'' -l compression -x -a 'zstd gzip none' -d 'override the configured compression'
complete -c mongo-backup -n '__mongo_backup_at \'create\'' -l no-encrypt -d 'store unencrypted even when a key is configured'
complete -c mongo-backup -n '__mongo_backup_at \'create\'' -l no-verify -d 'skip reading the stored copies back'
complete -c mongo-backup -n '__mongo_backup_at \'create\'' -l prune -d 'apply the retention policy afterwards'
complete -c mongo-backup -n '__mongo_backup_at \'create\'' -l require-all-targets -d 'fail (and remove the copies) unless every target got the backup'
complete -c mongo-backup -n '__mongo_backup_at \'list\'' -l target -x -a '(__mongo_backup_targets)' -d 'only backups on this target (repeatable)'
complete -c mongo-backup -n '__mongo_backup_at \'list\'' -l type -x -a 'FULL INCREMENTAL' -d 'only this type'
complete -c mongo-backup -n '__mongo_backup_at \'list\'' -l status -x -a 'COMPLETED FAILED' -d 'only this status'
complete -c mongo-backup -n '__mongo_backup_at \'list\'' -l since -x -d 'only backups started at or after this date (ISO date or an age like 7d)'
complete -c mongo-backup -n '__mongo_backup_at \'list\'' -l limit -x -d 'at most n backups'
complete -c mongo-backup -n '__mongo_backup_at \'show\'' -l target -x -a '(__mongo_backup_targets)' -d 'look only on this target (repeatable)'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l to-time -x -d 'restore to this moment (ISO 8601, e.g. 2026-12-06T03:14:15Z) or "latest": a chain\'s full backup, then its oplog replayed up to it'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l from -x -a '(__mongo_backup_targets)' -d 'read from this target (default: the first that holds the backup)'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l uri -x -d 'restore into this server (default: MONGODB_URI / mongodb.uri)'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l drop -d 'drop each collection before restoring it'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l ns-include -x -d 'restore only matching namespaces, e.g. "shop.*" (repeatable)'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l ns-exclude -x -d 'skip matching namespaces (repeatable)'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l ns-from -x -d 'rename namespaces: source pattern with $var$, e.g. "shop.$c$"'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l ns-to -x -d 'rename namespaces: destination pattern, e.g. "shop_copy.$c$"'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l dry-run -d 'verify and show what would be restored; change nothing'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l force -d 'restore into namespaces that already hold documents (without dropping them)'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l no-verify -d 'skip the checksum pass before restoring (encrypted chunks are still authenticated)'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l parallel-collections -x -d 'collections restored in parallel (mongorestore --numParallelCollections; default mongodb.restoreParallelCollections)'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l insertion-workers -x -d 'insertion workers per collection (mongorestore --numInsertionWorkersPerCollection; default mongodb.restoreInsertionWorkers)'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l parallel -x -d 'the same as --parallel-collections (kept for existing scripts)'
complete -c mongo-backup -n '__mongo_backup_at \'restore\'' -l yes -d 'confirm --drop of the configured source\'s own collections (asked on a terminal)'
complete -c mongo-backup -n '__mongo_backup_at \'drill\'' -l to-time -x -d 'drill a point-in-time restore to this moment (ISO 8601 with a zone) or "latest"'
complete -c mongo-backup -n '__mongo_backup_at \'drill\'' -l uri -x -d 'restore into this scratch server'
complete -c mongo-backup -n '__mongo_backup_at \'drill\'' -l prefix -x -d 'restore beside the data on the configured server: database x becomes <prefix>x'
complete -c mongo-backup -n '__mongo_backup_at \'drill\'' -l keep -d 'keep what was restored (default: drop it after the counts)'
complete -c mongo-backup -n '__mongo_backup_at \'drill\'' -l from -x -a '(__mongo_backup_targets)' -d 'read the backup from (and record the drill on) this target (default: the first that holds it)'
complete -c mongo-backup -n '__mongo_backup_at \'drill\'' -l parallel-collections -x -d 'collections restored in parallel (mongorestore --numParallelCollections)'
complete -c mongo-backup -n '__mongo_backup_at \'drill\'' -l insertion-workers -x -d 'insertion workers per collection (mongorestore --numInsertionWorkersPerCollection)'
complete -c mongo-backup -n '__mongo_backup_at \'verify\'' -l all -d 'every backup'
complete -c mongo-backup -n '__mongo_backup_at \'verify\'' -l target -x -a '(__mongo_backup_targets)' -d 'only copies on this target (repeatable)'
complete -c mongo-backup -n '__mongo_backup_at \'verify\'' -l deep -d 'decrypt, decompress and parse the whole archive; counts and CRCs must match'
complete -c mongo-backup -n '__mongo_backup_at \'replicate\'' -l all-missing -d 'every backup the destination does not have yet'
complete -c mongo-backup -n '__mongo_backup_at \'replicate\'' -l to -x -a '(__mongo_backup_targets)' -d 'destination target'
complete -c mongo-backup -n '__mongo_backup_at \'replicate\'' -l from -x -a '(__mongo_backup_targets)' -d 'source target (default: any that holds the backup)'
complete -c mongo-backup -n '__mongo_backup_at \'prune\'' -l target -x -a '(__mongo_backup_targets)' -d 'only this target (repeatable)'
complete -c mongo-backup -n '__mongo_backup_at \'prune\'' -l dry-run -d 'decide and print, delete nothing'
complete -c mongo-backup -n '__mongo_backup_at \'prune\'' -l keep-last -x -d 'keep the n newest backups'
complete -c mongo-backup -n '__mongo_backup_at \'prune\'' -l keep-hourly -x -d 'keep the newest backup of each of the last n hours'
complete -c mongo-backup -n '__mongo_backup_at \'prune\'' -l keep-daily -x -d 'keep the newest backup of each of the last n days'
complete -c mongo-backup -n '__mongo_backup_at \'prune\'' -l keep-weekly -x -d 'keep the newest backup of each of the last n ISO weeks'
complete -c mongo-backup -n '__mongo_backup_at \'prune\'' -l keep-monthly -x -d 'keep the newest backup of each of the last n months'
complete -c mongo-backup -n '__mongo_backup_at \'prune\'' -l keep-yearly -x -d 'keep the newest backup of each of the last n years'
complete -c mongo-backup -n '__mongo_backup_at \'prune\'' -l max-age -x -d 'delete backups older than this (e.g. 30d, 12h, 2w)'
complete -c mongo-backup -n '__mongo_backup_at \'prune\'' -l pitr-window -x -d 'keep every backup needed to restore any moment of the last duration (e.g. 7d)'
complete -c mongo-backup -n '__mongo_backup_at \'delete\'' -l target -x -a '(__mongo_backup_targets)' -d 'delete only the copy on this target (repeatable)'
complete -c mongo-backup -n '__mongo_backup_at \'delete\'' -l yes -d 'do not ask for confirmation (needed when not on a terminal)'
complete -c mongo-backup -n '__mongo_backup_at \'health\'' -l prometheus -r -F -d 'also write node_exporter textfile metrics to FILE (atomically)'
complete -c mongo-backup -n '__mongo_backup_at \'health\'' -l timeout -x -d 'time limit for each target'
complete -c mongo-backup -n '__mongo_backup_at \'metrics\'' -l timeout -x -d 'time limit for each target'
complete -c mongo-backup -n '__mongo_backup_at \'alerts\' first' -a 'list' -d 'unresolved alerts, newest first'
complete -c mongo-backup -n '__mongo_backup_at \'alerts\' first' -a 'resolve' -d 'mark an alert as resolved'
complete -c mongo-backup -n '__mongo_backup_at \'alerts\' first' -a 'help' -d 'display help for command'
complete -c mongo-backup -n '__mongo_backup_at \'alerts list\'' -l all -d 'include resolved alerts'
complete -c mongo-backup -n '__mongo_backup_at \'alerts resolve\'' -l note -x -d 'why it is resolved, kept with the alert'
complete -c mongo-backup -n '__mongo_backup_at \'alerts help\' first' -a 'list resolve'
complete -c mongo-backup -n '__mongo_backup_at \'cat\'' -l from -x -a '(__mongo_backup_targets)' -d 'read from this target'
complete -c mongo-backup -n '__mongo_backup_at \'cat\'' -l no-verify -d 'skip the checksum pass before streaming'
complete -c mongo-backup -n '__mongo_backup_at \'schedule\' first' -a 'print' -d 'print the unit files or crontab line without writing anything'
complete -c mongo-backup -n '__mongo_backup_at \'schedule\' first' -a 'install' -d 'write the schedule (and enable the systemd timer)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule\' first' -a 'remove' -d 'remove exactly what install wrote'
complete -c mongo-backup -n '__mongo_backup_at \'schedule\' first' -a 'help' -d 'display help for command'
complete -c mongo-backup -n '__mongo_backup_at \'schedule print\'' -l systemd -d 'systemd service + timer (default when systemd runs)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule print\'' -l cron -d 'crontab line (default without systemd)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule print\'' -l type -x -a 'full incremental drill' -d 'backup type to schedule'
complete -c mongo-backup -n '__mongo_backup_at \'schedule print\'' -l dir -x -a '(__fish_complete_directories (commandline -ct))' -d 'write the unit files here instead of the systemd directory (never runs systemctl)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule print\'' -l user -d 'systemd user units (~/.config/systemd/user) instead of system units'
complete -c mongo-backup -n '__mongo_backup_at \'schedule print\'' -l no-enable -d 'do not run systemctl daemon-reload / enable / disable'
complete -c mongo-backup -n '__mongo_backup_at \'schedule print\'' -l crontab-file -r -F -d 'edit this crontab file instead of calling crontab (e.g. /etc/cron.d/mongo-backup)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule print\'' -l at -x -d 'when to run, as a cron expression or @daily/@hourly/... (default: 0 2 * * * for full, 0 * * * * for incremental, 0 4 1 * * for drill)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule print\'' -l every -x -d 'run every DURATION instead of --at, e.g. 15m, 1h, 6h (a divisor of an hour or of a day)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule print\'' -l randomized-delay -x -d 'systemd RandomizedDelaySec, e.g. 15m'
complete -c mongo-backup -n '__mongo_backup_at \'schedule print\'' -l log-file -r -F -d 'cron: append each run\'s output here (default /var/log/mongo-backup.log for root)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule print\'' -l workdir -x -a '(__fish_complete_directories (commandline -ct))' -d 'working directory of the scheduled run (default: the current directory)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule print\'' -l drill-prefix -x -d '--type drill: restore beside the data under this database-name prefix (drill --prefix)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule print\'' -l drill-uri -x -d '--type drill: restore into this scratch server (drill --uri; no password: it would sit in the unit file)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule install\'' -l systemd -d 'systemd service + timer (default when systemd runs)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule install\'' -l cron -d 'crontab line (default without systemd)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule install\'' -l type -x -a 'full incremental drill' -d 'backup type to schedule'
complete -c mongo-backup -n '__mongo_backup_at \'schedule install\'' -l dir -x -a '(__fish_complete_directories (commandline -ct))' -d 'write the unit files here instead of the systemd directory (never runs systemctl)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule install\'' -l user -d 'systemd user units (~/.config/systemd/user) instead of system units'
complete -c mongo-backup -n '__mongo_backup_at \'schedule install\'' -l no-enable -d 'do not run systemctl daemon-reload / enable / disable'
complete -c mongo-backup -n '__mongo_backup_at \'schedule install\'' -l crontab-file -r -F -d 'edit this crontab file instead of calling crontab (e.g. /etc/cron.d/mongo-backup)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule install\'' -l at -x -d 'when to run, as a cron expression or @daily/@hourly/... (default: 0 2 * * * for full, 0 * * * * for incremental, 0 4 1 * * for drill)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule install\'' -l every -x -d 'run every DURATION instead of --at, e.g. 15m, 1h, 6h (a divisor of an hour or of a day)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule install\'' -l randomized-delay -x -d 'systemd RandomizedDelaySec, e.g. 15m'
complete -c mongo-backup -n '__mongo_backup_at \'schedule install\'' -l log-file -r -F -d 'cron: append each run\'s output here (default /var/log/mongo-backup.log for root)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule install\'' -l workdir -x -a '(__fish_complete_directories (commandline -ct))' -d 'working directory of the scheduled run (default: the current directory)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule install\'' -l drill-prefix -x -d '--type drill: restore beside the data under this database-name prefix (drill --prefix)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule install\'' -l drill-uri -x -d '--type drill: restore into this scratch server (drill --uri; no password: it would sit in the unit file)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule remove\'' -l systemd -d 'systemd service + timer (default when systemd runs)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule remove\'' -l cron -d 'crontab line (default without systemd)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule remove\'' -l type -x -a 'full incremental drill' -d 'backup type to schedule'
complete -c mongo-backup -n '__mongo_backup_at \'schedule remove\'' -l dir -x -a '(__fish_complete_directories (commandline -ct))' -d 'write the unit files here instead of the systemd directory (never runs systemctl)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule remove\'' -l user -d 'systemd user units (~/.config/systemd/user) instead of system units'
complete -c mongo-backup -n '__mongo_backup_at \'schedule remove\'' -l no-enable -d 'do not run systemctl daemon-reload / enable / disable'
complete -c mongo-backup -n '__mongo_backup_at \'schedule remove\'' -l crontab-file -r -F -d 'edit this crontab file instead of calling crontab (e.g. /etc/cron.d/mongo-backup)'
complete -c mongo-backup -n '__mongo_backup_at \'schedule help\' first' -a 'print install remove'
complete -c mongo-backup -n '__mongo_backup_at \'key\' first' -a 'generate' -d 'print a new random 256-bit key as 64 hex characters (or, with --public, write an X25519 key pair)'
complete -c mongo-backup -n '__mongo_backup_at \'key\' first' -a 'public' -d 'print the public key (recipient) of a private identity file'
complete -c mongo-backup -n '__mongo_backup_at \'key\' first' -a 'help' -d 'display help for command'
complete -c mongo-backup -n '__mongo_backup_at \'key generate\'' -l public -d 'generate a public/private key pair for keyless backup hosts'
complete -c mongo-backup -n '__mongo_backup_at \'key generate\'' -l out -r -F -d 'with --public: where to write the private key (0600, never overwritten)'
complete -c mongo-backup -n '__mongo_backup_at \'key help\' first' -a 'generate public'
complete -c mongo-backup -n '__mongo_backup_at \'completion\' first' -a 'bash zsh fish'
complete -c mongo-backup -n '__mongo_backup_at \'help\' first' -a 'create list show restore drill verify replicate prune delete health metrics alerts cat schedule key completion'
