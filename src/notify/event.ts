/** The shape of an alert notification, shared by every channel. */
import { hostname } from 'node:os';

export type AlertLevel = 'CRITICAL' | 'WARNING' | 'INFO';

/** What a notification carries: the alert's fields and whether it was raised or resolved. */
export interface AlertEvent {
  id: string;
  level: AlertLevel;
  type: string;
  message: string;
  target?: string;
  /** raised: a new alert; resolved: its condition cleared; ok: a success notice (alerts.notifyOnSuccess). */
  status: 'raised' | 'resolved' | 'ok';
  createdAt: string;
  resolvedAt?: string;
  occurrences?: number;
}

/** One line for people, used as the Slack `text` and by the command channel. */
export function describeEvent(event: AlertEvent, host: string = hostname()): string {
  const what = event.status === 'resolved' ? `RESOLVED ${event.type}` : event.status === 'ok' ? `OK ${event.type}` : `${event.level} ${event.type}`;
  const where = event.target ? ` (target ${event.target})` : '';
  return `[mongo-backup on ${host}] ${what}${where}: ${event.message}`;
}
