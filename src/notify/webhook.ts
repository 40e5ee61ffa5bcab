/**
 * Webhook channel: POSTs the alert as JSON with a Slack-compatible `text` field, with a timeout per
 * try and up to three tries with back-off. Network errors, 429 and 5xx are retried; other 4xx are
 * not (the receiver rejected the request and would reject it again).
 */
import { hostname } from 'node:os';
import { describeEvent, type AlertEvent } from './event.js';

export interface WebhookOptions {
  timeoutMs: number;
  /** Pauses before the 2nd, 3rd, ... try; its length + 1 is the number of tries. */
  retryDelaysMs?: number[];
}

const DEFAULT_RETRY_DELAYS_MS = [1_000, 3_000];

export function webhookPayload(event: AlertEvent, host: string = hostname()): Record<string, unknown> {
  return { text: describeEvent(event, host), host, tool: 'mongo-backup', ...event };
}

/**
 * The URL without path, query or credentials, for messages: webhook URLs often embed a token
 * (Slack's do), so the full URL is never printed.
 */
export function describeWebhook(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'the configured webhook';
  }
}

export async function postWebhook(url: string, event: AlertEvent, options: WebhookOptions): Promise<void> {
  const body = JSON.stringify(webhookPayload(event));
  const delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  let lastProblem = '';
  for (let attempt = 0; attempt <= delays.length; attempt++) {
    if (attempt > 0) await new Promise((done) => setTimeout(done, delays[attempt - 1]));
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'mongo-backup' },
        body,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      // Drain the body so the connection can be reused or closed.
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return;
      lastProblem = `HTTP ${response.status}`;
      if (response.status < 500 && response.status !== 429) break;
    } catch (error) {
      const e = error as Error;
      lastProblem = e.name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : (causeMessage(e) ?? e.message);
    }
  }
  throw new Error(`${describeWebhook(url)}: ${lastProblem}`);
}

/** fetch() reports "fetch failed" and hides the useful part (ECONNREFUSED, ...) in `cause`. */
function causeMessage(error: Error): string | undefined {
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) return `${error.message}: ${(cause as NodeJS.ErrnoException).code ?? cause.message}`;
  return undefined;
}
