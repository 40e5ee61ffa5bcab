import { Argument, Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildCompletionModel, optionsAt, type CompletionCommand } from '../../src/completion/model.js';
import { generateCompletion, SHELLS } from '../../src/completion/index.js';

/** A small program with the shapes the real one has: nesting, choices, hidden flags, values. */
function sampleProgram(): Command {
  const program = new Command('tool').option('-c, --config <file>', 'config file').option('--json', 'JSON output');
  program
    .command('copy')
    .description('copy things')
    .option('--to <name>', 'destination target')
    .option('--dir <dir>', 'a directory')
    .option('--level [n]', 'optional value')
    .addOption(new Option('--mode <mode>', 'how').choices(['fast', 'safe']))
    .addOption(new Option('--secret', 'not for people').hideHelp());
  const keys = program.command('keys').description('key things');
  keys.command('generate').description('make one').option('--out <file>', 'write here');
  keys.command('show').addArgument(new Argument('<format>').choices(['hex', 'base64']));
  return program;
}

function find(root: CompletionCommand, ...path: string[]): CompletionCommand {
  let command = root;
  for (const name of path) {
    const next = command.subcommands.find((sub) => sub.name === name);
    if (!next) throw new Error(`no ${path.join(' ')}`);
    command = next;
  }
  return command;
}

describe('completion model', () => {
  const model = buildCompletionModel(sampleProgram());

  it('walks nested subcommands, including commander\'s help command', () => {
    expect(model.root.subcommands.map((sub) => sub.name)).toEqual(['copy', 'keys', 'help']);
    expect(find(model.root, 'keys').subcommands.map((sub) => sub.name)).toEqual(['generate', 'show', 'help']);
    expect(find(model.root, 'keys', 'generate').path).toEqual(['keys', 'generate']);
    // `help <TAB>` offers the sibling commands
    expect(find(model.root, 'help').arguments[0]?.choices).toEqual(['copy', 'keys']);
  });

  it('knows which options take values and how to complete them', () => {
    const copy = find(model.root, 'copy');
    const byLong = Object.fromEntries(copy.options.map((option) => [option.long, option.value]));
    expect(byLong['--to']).toMatchObject({ kind: 'target', optional: false });
    expect(byLong['--dir']).toMatchObject({ kind: 'directory' });
    expect(byLong['--level']).toMatchObject({ kind: 'any', optional: true });
    expect(byLong['--mode']).toMatchObject({ kind: 'choices', choices: ['fast', 'safe'] });
    expect(byLong['--help']).toBeUndefined();
    expect('--secret' in byLong).toBe(false);
    expect(find(model.root, 'keys', 'generate').options.find((option) => option.long === '--out')?.value?.kind).toBe('file');
    expect(model.globalOptions.find((option) => option.long === '--config')?.value?.kind).toBe('file');
  });

  it('reads argument choices', () => {
    expect(find(model.root, 'keys', 'show').arguments).toEqual([{ name: 'format', required: true, variadic: false, choices: ['hex', 'base64'] }]);
  });

  it('offers global options in every subcommand, once', () => {
    const flags = optionsAt(model, find(model.root, 'copy')).flatMap((option) => [option.short, option.long]).filter(Boolean);
    expect(flags).toContain('--config');
    expect(flags.filter((flag) => flag === '--help')).toHaveLength(1);
  });

  it.each(SHELLS)('%s script names every command and option of the tree', (shell) => {
    const script = generateCompletion(shell, sampleProgram());
    for (const word of ['copy', 'keys', 'generate', 'show', 'fast', 'safe', 'hex', 'base64', 'level', 'mode', 'out']) {
      expect(script).toContain(word);
    }
    expect(script).not.toContain('secret');
  });
});
