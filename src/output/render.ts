/** Shared renderings of backups for people and for --json (docs/REFERENCE.md#json-output: a backup = manifest fields + targets + verified). */
import type { Manifest } from '../engine/manifest.js';
import { formatBytes, formatTable, type Output } from './output.js';

export interface BackupView extends Manifest {
  targets: string[];
  verified: boolean;
}

/** A backup for output: its manifest, the targets holding it, and whether its copy was verified when written. */
export function backupView(manifest: Manifest, targets: string[]): BackupView {
  return { ...manifest, targets, verified: manifest.verified === true };
}

export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function formatTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function documentsOf(manifest: Manifest): number {
  return Object.values(manifest.namespaces).reduce((a, b) => a + b, 0);
}

export function renderBackupTable(output: Output, rows: Array<{ manifest: Manifest; targets: string[]; status?: string }>): string {
  const c = output.c;
  return formatTable(
    ['ID', 'TYPE', 'STATUS', 'STARTED (UTC)', 'DURATION', 'SIZE', 'STORED', 'DOCS', 'TARGETS', 'DESCRIPTION'],
    rows.map(({ manifest, targets, status }) => {
      const st = status ?? manifest.status;
      return [
        manifest.id,
        manifest.type,
        st === 'COMPLETED' ? c.green(st) : c.red(st),
        formatTime(manifest.startTime),
        formatDurationMs(manifest.duration),
        formatBytes(manifest.size),
        formatBytes(manifest.storedSize),
        String(documentsOf(manifest)),
        targets.join(','),
        manifest.description,
      ];
    }),
  );
}

export function renderBackupDetail(output: Output, view: BackupView, locations: Record<string, string>): string[] {
  const c = output.c;
  const m = view;
  const lines = [
    `${c.bold('Backup')}      ${m.id}`,
    `Type        ${m.type}`,
    `Status      ${m.status === 'COMPLETED' ? c.green(m.status) : c.red(m.status)}`,
    `Description ${m.description || '-'}`,
    `Started     ${formatTime(m.startTime)}   took ${formatDurationMs(m.duration)}   triggered by ${m.triggeredBy}`,
    `Source      ${m.source.host}${m.source.serverVersion ? ` (server ${m.source.serverVersion})` : ''}${m.source.database ? `, database ${m.source.database}` : ''}${m.source.collection ? `, collection ${m.source.collection}` : ''}`,
    `Size        ${formatBytes(m.size)} archive, ${formatBytes(m.storedSize)} stored (${m.size > 0 ? ((m.storedSize / m.size) * 100).toFixed(1) : '0'}%)`,
    `Compression ${m.compression.algorithm}${m.compression.level !== undefined ? ` level ${m.compression.level}` : ''}`,
    `Encryption  ${m.encrypted && m.encryption ? `${m.encryption.algorithm} (${m.encryption.mode}${m.encryption.keyFingerprint ? `, key ${m.encryption.keyFingerprint}` : ''}${m.encryption.recipients ? `, recipients ${m.encryption.recipients.join(', ')}` : ''})` : 'none'}`,
    `Checksum    ${m.checksum}`,
    `Tools       mongo-backup ${m.tool.version}${m.tool.mongodump ? `, mongodump ${m.tool.mongodump}` : ''}`,
    `Copies      ${view.targets.length === 0 ? c.red('none') : ''}`,
  ];
  for (const t of view.targets) lines.push(`  ${t.padEnd(12)} ${locations[t] ?? ''}/${m.id}/${m.object}`);
  lines.push(`Namespaces  ${Object.keys(m.namespaces).length}, ${documentsOf(m)} documents`);
  const ns = Object.entries(m.namespaces).sort(([a], [b]) => a.localeCompare(b));
  lines.push(formatTable(['  NAMESPACE', 'DOCUMENTS'], ns.map(([name, count]) => [`  ${name}`, String(count)])));
  return lines;
}
