/**
 * The command tree as the completion generators see it, read from the commander program: commands
 * and nested subcommands, their options (with or without a value), declared choices, and what kind
 * of value an option takes (a file, a directory, a configured target name, anything).
 */
import type { Argument, Command, Option } from 'commander';

/** How a value is completed. */
export type ValueKind =
  | { kind: 'choices'; choices: string[] }
  | { kind: 'file' }
  | { kind: 'directory' }
  /** A target name from the configuration (`mongo-backup completion --targets`). */
  | { kind: 'target' }
  | { kind: 'any' };

export interface CompletionOption {
  /** The short flag, e.g. `-c`. */
  short?: string;
  /** The long flag, e.g. `--config`. */
  long?: string;
  description: string;
  /** undefined for a flag without a value. */
  value?: ValueKind & { name: string; optional: boolean };
}

export interface CompletionArgument {
  name: string;
  required: boolean;
  variadic: boolean;
  choices: string[];
}

export interface CompletionCommand {
  name: string;
  /** Names from the top level down, e.g. ['schedule', 'install']; [] for the program itself. */
  path: string[];
  aliases: string[];
  description: string;
  /** The command's own options (the program's are in CompletionModel.globalOptions). */
  options: CompletionOption[];
  arguments: CompletionArgument[];
  subcommands: CompletionCommand[];
}

export interface CompletionModel {
  program: string;
  /** The program's options: accepted before and after any subcommand. */
  globalOptions: CompletionOption[];
  root: CompletionCommand;
}

/** Options whose values are target names. */
const TARGET_OPTIONS = new Set(['--target', '--from', '--to']);

export function buildCompletionModel(program: Command): CompletionModel {
  const root = describeCommand(program, [], undefined);
  return { program: program.name(), globalOptions: root.options, root: { ...root, options: [] } };
}

function describeCommand(command: Command, path: string[], parent: Command | undefined): CompletionCommand {
  const help = command.createHelp();
  const subcommands = help
    .visibleCommands(command)
    .map((sub) => describeCommand(sub, [...path, sub.name()], command));
  // Not help.visibleArguments(): it hides arguments that have no description.
  const argumentsOf = command.registeredArguments.map(describeArgument);
  // commander's implicit `help [command]` takes the name of a sibling command.
  if (parent && command.name() === 'help' && command.commands.length === 0 && argumentsOf[0]) {
    argumentsOf[0].choices = help.visibleCommands(parent).map((sibling) => sibling.name()).filter((name) => name !== 'help');
  }
  return {
    name: command.name(),
    path,
    aliases: command.aliases(),
    description: oneLine(command.summary() || command.description()),
    options: help.visibleOptions(command).map(describeOption),
    arguments: argumentsOf,
    subcommands,
  };
}

function describeArgument(argument: Argument): CompletionArgument {
  return {
    name: argument.name(),
    required: argument.required,
    variadic: argument.variadic,
    choices: argument.argChoices ? [...argument.argChoices] : [],
  };
}

function describeOption(option: Option): CompletionOption {
  const described: CompletionOption = { description: oneLine(option.description) };
  if (option.short) described.short = option.short;
  if (option.long) described.long = option.long;
  if (option.required || option.optional) {
    const name = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1]?.replace(/\.\.\.$/, '') ?? 'value';
    described.value = { ...valueKind(option, name), name, optional: option.optional };
  }
  return described;
}

function valueKind(option: Option, valueName: string): ValueKind {
  if (option.argChoices && option.argChoices.length > 0) return { kind: 'choices', choices: [...option.argChoices] };
  if (option.long && TARGET_OPTIONS.has(option.long)) return { kind: 'target' };
  if (/dir/i.test(valueName)) return { kind: 'directory' };
  if (/file|path/i.test(valueName)) return { kind: 'file' };
  return { kind: 'any' };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Every command below the root, depth first (parents before their subcommands). */
export function allCommands(root: CompletionCommand): CompletionCommand[] {
  return root.subcommands.flatMap((sub) => [sub, ...allCommands(sub)]);
}

/** The flags of an option, short first. */
export function flagsOf(option: CompletionOption): string[] {
  return [option.short, option.long].filter((flag): flag is string => flag !== undefined);
}

/** What is accepted at a command: its own options, then the global ones it does not redefine. */
export function optionsAt(model: CompletionModel, command: CompletionCommand): CompletionOption[] {
  const own = command.path.length === 0 ? [] : command.options;
  const taken = new Set(own.flatMap(flagsOf));
  return [...own, ...model.globalOptions.filter((option) => !flagsOf(option).some((flag) => taken.has(flag)))];
}
