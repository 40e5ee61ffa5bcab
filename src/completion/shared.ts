/** Small pieces shared by the shell generators. */
import { flagsOf, type CompletionModel } from './model.js';

export const GENERATED_NOTICE = 'Generated from the command tree by `mongo-backup completion <shell>`; do not edit by hand.';

/** A shell function name from the program name: mongo-backup → mongo_backup. */
export function functionName(program: string): string {
  return program.replace(/[^A-Za-z0-9_]/g, '_');
}

/** The flags of the global --config option (passed on to `completion --targets`). */
export function configFlags(model: CompletionModel): string[] {
  const option = model.globalOptions.find((candidate) => candidate.long === '--config');
  return option ? flagsOf(option) : [];
}
