/** Every subcommand registers itself here, in the order `--help` lists them. */
import type { Command } from 'commander';
import { registerAlertsCommand } from './alerts.js';
import { registerCatCommand } from './cat.js';
import { registerCreateCommand } from './create.js';
import { registerDeleteCommand } from './delete.js';
import { registerDrillCommand } from './drill.js';
import { registerKeyCommand } from './key.js';
import { registerListCommand } from './list.js';
import { registerPruneCommand } from './prune.js';
import { registerReplicateCommand } from './replicate.js';
import { registerRestoreCommand } from './restore.js';
import { registerShowCommand } from './show.js';
import { registerVerifyCommand } from './verify.js';
import { registerHealthCommand } from './health.js';
import { registerMetricsCommand } from './metrics.js';
import { registerScheduleCommand } from './schedule.js';
import { registerCompletionCommand } from './completion.js';

type Registrar = (program: Command) => void;

const registrars: Registrar[] = [
  registerCreateCommand,
  registerListCommand,
  registerShowCommand,
  registerRestoreCommand,
  registerDrillCommand,
  registerVerifyCommand,
  registerReplicateCommand,
  registerPruneCommand,
  registerDeleteCommand,
  registerHealthCommand,
  registerMetricsCommand,
  registerAlertsCommand,
  registerCatCommand,
  registerScheduleCommand,
  registerKeyCommand,
  registerCompletionCommand,
];

export function registerCommands(program: Command): void {
  for (const register of registrars) register(program);
}
