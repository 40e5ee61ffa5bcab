/**
 * Shell completion scripts generated from the live commander tree, so they list exactly the
 * commands and options the CLI has. The same scripts are shipped in completions/ (see
 * scripts/gen-completions.mjs); a test keeps the two equal.
 */
import type { Command } from 'commander';
import { generateBash } from './bash.js';
import { generateFish } from './fish.js';
import { buildCompletionModel } from './model.js';
import { generateZsh } from './zsh.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** The file name each shell looks for, as shipped in completions/. */
export const COMPLETION_FILES: Readonly<Record<Shell, string>> = {
  bash: 'mongo-backup.bash',
  zsh: '_mongo-backup',
  fish: 'mongo-backup.fish',
};

export function generateCompletion(shell: Shell, program: Command): string {
  const model = buildCompletionModel(program);
  switch (shell) {
    case 'bash':
      return generateBash(model);
    case 'zsh':
      return generateZsh(model);
    case 'fish':
      return generateFish(model);
  }
}
