/** Shared renderings of backups for people and for --json (docs/REFERENCE.md#json-output: a backup = manifest fields + targets + verified). */
import type { ChainPosition, TargetChains } from '../engine/catalog.js';
import type { Manifest } from '../engine/manifest.js';
import { escapeControls } from './escape.js';
import { formatBytes, formatTable, type Output } from './output.js';

export interface BackupView extends Manifest {
  targets: string[];
  verified: boolean;
}

/** A backup for output: its manifest, the targets holding it, and whether its copy was verified when written. */
export function backupView(manifest: Manifest, targets: string[]): BackupView {
  return { ...manifest, targets, verified: manifest.verified === true };
}

/** Free text read from a manifest, kept to its line of the rendering (escape.ts). */
function oneLine(text: string): string {
  return escapeControls(text, { keepColour: false });
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

/** A backup's place in point-in-time chains, in a few words (docs/PITR.md). */
export function chainLabel(manifest: Manifest): string {
  if (manifest.type === 'INCREMENTAL') return manifest.parent === manifest.base ? `after ${manifest.parent}` : `after ${manifest.parent} (base ${manifest.base})`;
  if (manifest.pointInTime === true) return 'point-in-time base';
  if (manifest.pointInTime === false) return 'not point-in-time';
  return '-';
}

export function renderBackupTable(output: Output, rows: Array<{ manifest: Manifest; targets: string[]; status?: string; orphaned?: boolean }>): string {
  const c = output.c;
  return formatTable(
    ['ID', 'TYPE', 'STATUS', 'STARTED (UTC)', 'DURATION', 'SIZE', 'STORED', 'DOCS', 'TARGETS', 'CHAIN', 'DESCRIPTION'],
    rows.map(({ manifest, targets, status, orphaned }) => {
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
        orphaned ? `${c.red('ORPHANED')} ${chainLabel(manifest)}` : chainLabel(manifest),
        manifest.description,
      ];
    }),
  );
}

/** Per target: the moments its chains can restore, and the incrementals that continue no chain. */
export function renderRestoreWindows(output: Output, perTarget: TargetChains[]): string[] {
  const lines: string[] = [];
  for (const { target, windows, orphans } of perTarget) {
    for (const w of windows) lines.push(`  ${target}: restorable to any moment from ${formatTime(w.from)} to ${formatTime(w.to)} (base ${w.base})`);
    for (const o of orphans) lines.push(`  ${target}: ${output.c.red('orphaned')} incremental ${o.member.id}: ${o.reason}`);
  }
  return lines.length > 0 ? ['', 'Point-in-time recovery:', ...lines] : [];
}

/** The point-in-time lines of `show`: range, restore point, and the chain on each target holding the backup. */
function pointInTimeLines(output: Output, m: Manifest, chains: Array<{ target: string; position?: ChainPosition }>): string[] {
  const lines: string[] = [];
  if (m.type === 'INCREMENTAL') lines.push(`Parent      ${m.parent ?? '-'}`, `Base        ${m.base ?? '-'}`);
  if (m.pointInTime === true) lines.push(`Point-in-time yes: restore point ${m.oplog ? formatTime(m.oplog.toTime) : '-'}`);
  else if (m.pointInTime === false) lines.push(`Point-in-time no: ${oneLine(m.pointInTimeReason ?? 'no reason recorded')}`);
  if (m.oplog) {
    const o = m.oplog;
    const bound = m.type === 'FULL' ? 'from' : 'after';
    lines.push(`Oplog       ${o.entries} ${o.entries === 1 ? 'entry' : 'entries'}, ${bound} ${formatTime(o.fromTime)} (${o.from.t}:${o.from.i}) to ${formatTime(o.toTime)} (${o.to.t}:${o.to.i})`);
  }
  for (const { target, position } of chains) {
    if (!position) continue;
    const state = position.intact ? output.c.green('intact') : `${output.c.red('BROKEN')}: ${position.broken ?? ''}`;
    lines.push(`Chain on ${target}: ${position.links.join(' → ')}  (${state})`);
    if (position.window) lines.push(`  restorable to any moment from ${formatTime(position.window.from)} to ${formatTime(position.window.to)}`);
  }
  return lines;
}

export function renderBackupDetail(
  output: Output,
  view: BackupView,
  locations: Record<string, string>,
  chains: Array<{ target: string; position?: ChainPosition }> = [],
): string[] {
  const c = output.c;
  const m = view;
  const lines = [
    `${c.bold('Backup')}      ${m.id}`,
    `Type        ${m.type}`,
    ...pointInTimeLines(output, m, chains),
    `Status      ${m.status === 'COMPLETED' ? c.green(m.status) : c.red(m.status)}`,
    `Description ${oneLine(m.description || '-')}`,
    `Started     ${formatTime(m.startTime)}   took ${formatDurationMs(m.duration)}   triggered by ${oneLine(m.triggeredBy)}`,
    `Source      ${oneLine(`${m.source.host}${m.source.serverVersion ? ` (server ${m.source.serverVersion})` : ''}${m.source.database ? `, database ${m.source.database}` : ''}${m.source.collection ? `, collection ${m.source.collection}` : ''}`)}`,
    `Size        ${formatBytes(m.size)} archive, ${formatBytes(m.storedSize)} stored (${m.size > 0 ? ((m.storedSize / m.size) * 100).toFixed(1) : '0'}%)`,
    `Compression ${m.compression.algorithm}${m.compression.level !== undefined ? ` level ${m.compression.level}` : ''}`,
    `Encryption  ${m.encrypted && m.encryption ? `${m.encryption.algorithm} (${m.encryption.mode}${m.encryption.keyFingerprint ? `, key ${m.encryption.keyFingerprint}` : ''}${m.encryption.recipients ? `, recipients ${m.encryption.recipients.join(', ')}` : ''})` : 'none'}`,
    `Checksum    ${m.checksum}`,
    `Tools       ${oneLine(`mongo-backup ${m.tool.version}${m.tool.mongodump ? `, mongodump ${m.tool.mongodump}` : ''}`)}`,
    `Copies      ${view.targets.length === 0 ? c.red('none') : ''}`,
  ];
  for (const t of view.targets) lines.push(`  ${t.padEnd(12)} ${locations[t] ?? ''}/${m.id}/${m.object}`);
  lines.push(`Namespaces  ${Object.keys(m.namespaces).length}, ${documentsOf(m)} documents`);
  const ns = Object.entries(m.namespaces).sort(([a], [b]) => a.localeCompare(b));
  lines.push(formatTable(['  NAMESPACE', 'DOCUMENTS'], ns.map(([name, count]) => [`  ${name}`, String(count)])));
  return lines;
}
