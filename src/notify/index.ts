/**
 * Delivers alert events to the configured channels: `alerts.webhook` (JSON POST, Slack-compatible
 * `text` field) and `alerts.command` (a program run with the alert in environment variables).
 * A failing channel is reported through `warn` and never throws: notifications must not fail the
 * backup or health run that raised them.
 */
import { redactSecrets } from '../errors.js';
import { runNotifyCommand } from './command.js';
import type { AlertEvent } from './event.js';
import { postWebhook } from './webhook.js';

export { describeEvent, type AlertEvent, type AlertLevel } from './event.js';

export interface NotifyConfig {
  webhook?: string;
  command?: string;
  notifyOnSuccess?: boolean;
  webhookTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** A channel left out of the configuration (an unset variable): each alert warns with it. */
  problem?: Error;
}

export interface NotifyOptions {
  warn: (message: string) => void;
  /** For tests: overrides the webhook back-off between tries. */
  retryDelaysMs?: number[];
}

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

export function hasNotifiers(config: NotifyConfig | undefined): boolean {
  return Boolean(config?.webhook || config?.command || config?.problem);
}

/** Sends `event` to every configured channel, in parallel. Never throws. */
export async function deliver(config: NotifyConfig | undefined, event: AlertEvent, options: NotifyOptions): Promise<void> {
  if (!config || !hasNotifiers(config)) return;
  const safeEvent: AlertEvent = { ...event, message: redactSecrets(event.message) };
  const jobs: Promise<void>[] = [];
  if (config.problem) options.warn(`alert not sent: ${redactSecrets(config.problem.message)}`);
  if (config.webhook) {
    jobs.push(
      postWebhook(config.webhook, safeEvent, {
        timeoutMs: config.webhookTimeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS,
        ...(options.retryDelaysMs ? { retryDelaysMs: options.retryDelaysMs } : {}),
      }).catch((error: unknown) => options.warn(`alert webhook failed: ${redactSecrets((error as Error).message)}`)),
    );
  }
  if (config.command) {
    jobs.push(
      runNotifyCommand(config.command, safeEvent, config.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS).catch((error: unknown) =>
        options.warn(`alert command failed: ${redactSecrets((error as Error).message)}`),
      ),
    );
  }
  await Promise.all(jobs);
}
