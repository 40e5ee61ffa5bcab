/**
 * Changes an archive on its way to mongorestore, in one streaming pass (docs/PITR.md):
 * - collections left out or renamed (prelude, data blocks, EOF headers), because mongorestore
 *   refuses `--oplogReplay` together with `--nsInclude`, so the tool applies the selection itself;
 * - each oplog entry kept, rewritten, dropped, or the oplog cut at a point in time;
 * - the oplog entries of later links of a chain appended to the archive's own oplog, so one
 *   `mongorestore --oplogReplay` restores the full backup and replays the whole chain.
 * The oplog's EOF header gets the CRC-64 of what is written, so mongorestore's own check holds.
 */
import { BSON, Long } from 'mongodb';
import { BackupError, ErrorCodes } from '../errors.js';
import { Crc64 } from './crc64.js';
import { namespaceName } from './format.js';
import { readArchive, type BlockHeader, type PreludeEntry } from './reader.js';
import { ArchiveWriter, crcAsLong } from './writer.js';

/** What becomes of one oplog entry: kept as given, left out, or the end of the replay. */
export type OplogDecision = { keep: Buffer } | 'drop' | 'stop';

export interface ArchiveRewrite {
  /** Destination of a collection ("db.coll"), or undefined to leave it out. Default: unchanged. */
  mapNamespace?(namespace: string): string | undefined;
  /** Each oplog entry in order, the archive's own first, then the appended ones. Default: keep. */
  oplogEntry?(entry: Buffer): OplogDecision;
  /** Oplog entries (raw BSON, in batches) to replay after the archive's own: the later links of a chain. */
  appendOplog?: AsyncIterable<Buffer[]>;
}

export interface RewriteSummary {
  /** Oplog entries written. */
  oplogEntries: number;
  /** The last oplog entry written (raw BSON), if any. */
  lastOplogEntry?: Buffer;
  /** Whether the replay was cut before the end of the oplog. */
  cut: boolean;
}

const OPLOG = 'oplog';

function splitNamespace(namespace: string): { db: string; collection: string } {
  const dot = namespace.indexOf('.');
  return { db: namespace.slice(0, dot), collection: namespace.slice(dot + 1) };
}

class OplogSection {
  private readonly crc = new Crc64();
  stopped = false;
  readonly summary: RewriteSummary = { oplogEntries: 0, cut: false };

  constructor(
    private readonly writer: ArchiveWriter,
    private readonly decide: (entry: Buffer) => OplogDecision,
  ) {}

  /** Writes the entry if it is kept; returns false once the replay has been cut. */
  entry(entry: Buffer): boolean {
    if (this.stopped) return false;
    const decision = this.decide(entry);
    if (decision === 'stop') {
      this.stopped = true;
      this.summary.cut = true;
      return false;
    }
    if (decision === 'drop') return true;
    this.crc.update(decision.keep);
    this.writer.document(decision.keep);
    this.summary.oplogEntries++;
    this.summary.lastOplogEntry = decision.keep;
    return true;
  }

  end(): void {
    this.writer.endNamespace('', OPLOG, crcAsLong(this.crc));
  }
}

/** Maps the prelude's collections and remembers where each data namespace goes. */
function mapPrelude(entries: PreludeEntry[], map: (ns: string) => string | undefined): { metadata: Buffer[]; destinations: Map<string, string | undefined>; hasOplog: boolean } {
  const metadata: Buffer[] = [];
  const destinations = new Map<string, string | undefined>();
  let hasOplog = false;
  for (const entry of entries) {
    const source = namespaceName(entry.db, entry.collection);
    if (entry.db === '' && entry.collection === OPLOG) {
      hasOplog = true;
      metadata.push(entry.raw);
      continue;
    }
    const destination = map(source);
    const timeseries = entry.type === 'timeseries';
    const dataSource = timeseries ? `${entry.db}.system.buckets.${entry.collection}` : source;
    if (destination === undefined) {
      destinations.set(dataSource, undefined);
      continue;
    }
    const to = splitNamespace(destination);
    destinations.set(dataSource, timeseries ? `${to.db}.system.buckets.${to.collection}` : destination);
    metadata.push(destination === source ? entry.raw : Buffer.from(BSON.serialize({ ...BSON.deserialize(entry.raw, { promoteValues: false }), db: to.db, collection: to.collection })));
  }
  return { metadata, destinations, hasOplog };
}

function eofCrc(header: BlockHeader): Long {
  return typeof header.crc === 'number' ? Long.fromNumber(header.crc) : header.crc;
}

/**
 * The rewritten archive as chunks. `summary` is filled in as the archive is written: read it once
 * the generator is done.
 */
export function rewriteArchive(source: AsyncIterable<Uint8Array>, rewrite: ArchiveRewrite): { chunks: AsyncGenerator<Buffer>; summary: RewriteSummary } {
  const writer = new ArchiveWriter();
  const oplog = new OplogSection(writer, rewrite.oplogEntry ?? ((entry) => ({ keep: entry })));
  const map = rewrite.mapNamespace ?? ((ns: string) => ns);

  async function* chunks(): AsyncGenerator<Buffer> {
    let destinations = new Map<string, string | undefined>();
    /** The destination of the block being read: a namespace, OPLOG, or null when it is left out. */
    let current: { destination: string | null; eof: BlockHeader | null } = { destination: null, eof: null };
    try {
      for await (const event of readArchive(source)) {
        switch (event.kind) {
          case 'prelude': {
            const mapped = mapPrelude(event.entries, map);
            if (rewrite.appendOplog && !mapped.hasOplog) {
              throw new BackupError(ErrorCodes.FAILED, 'the full backup holds no oplog, so the later links of its chain cannot be replayed after it');
            }
            destinations = mapped.destinations;
            writer.prelude(event.header, mapped.metadata);
            break;
          }
          case 'block': {
            const isOplog = event.namespace === OPLOG;
            const destination = isOplog ? OPLOG : destinations.has(event.namespace) ? destinations.get(event.namespace) : map(event.namespace);
            current = { destination: destination ?? null, eof: event.header.eof ? event.header : null };
            if (current.destination !== null && !current.eof) openBlock(current.destination);
            break;
          }
          case 'documents':
            if (current.destination === OPLOG) {
              for (const entry of event.documents) if (!oplog.entry(entry)) break;
            } else if (current.destination !== null) {
              for (const document of event.documents) writer.document(document);
            }
            break;
          case 'blockEnd':
            if (current.destination === OPLOG && current.eof) {
              if (rewrite.appendOplog) yield* appendEntries(rewrite.appendOplog);
              oplog.end();
            } else if (current.destination !== null) {
              if (current.eof) {
                const to = splitNamespace(current.destination);
                writer.endNamespace(to.db, to.collection, eofCrc(current.eof));
              } else writer.closeBlock();
            }
            current = { destination: null, eof: null };
            break;
        }
        const full = writer.takeFull();
        if (full) yield full;
      }
      const rest = writer.takeRest();
      if (rest) yield rest;
    } finally {
      // A cut replay never reads the rest of the appended links: let their streams go.
      await rewrite.appendOplog?.[Symbol.asyncIterator]().return?.();
    }
  }

  function openBlock(destination: string): void {
    if (destination === OPLOG) writer.openBlock('', OPLOG);
    else {
      const to = splitNamespace(destination);
      writer.openBlock(to.db, to.collection);
    }
  }

  async function* appendEntries(batches: AsyncIterable<Buffer[]>): AsyncGenerator<Buffer> {
    if (oplog.stopped) return;
    writer.openBlock('', OPLOG);
    batches: for await (const batch of batches) {
      for (const entry of batch) if (!oplog.entry(entry)) break batches;
      const full = writer.takeFull();
      if (full) yield full;
    }
    writer.closeBlock();
  }

  return { chunks: chunks(), summary: oplog.summary };
}

/** The documents of one namespace of an archive (an incremental's `local.oplog.rs` slice), in order, in batches. */
export async function* documentsOf(source: AsyncIterable<Uint8Array>, namespace: string): AsyncGenerator<Buffer[]> {
  for await (const event of readArchive(source)) {
    if (event.kind === 'documents' && event.namespace === namespace) yield event.documents;
  }
}
