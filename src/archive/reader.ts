/**
 * A document-level reader of the mongodump `--archive` format (layout in format.ts): it turns a
 * byte stream into events — the prelude, each block header, each document — for the stages that
 * must change an archive on its way to mongorestore (namespace filters and renames applied to the
 * oplog, oplog slices spliced in, a point-in-time cut; docs/PITR.md). Checking an archive without
 * changing it is the job of the faster, zero-copy ArchiveParser (parser.ts).
 *
 * Memory: one document at a time (at most 16 MiB) plus the chunk being read.
 */
import { BSON, type Long } from 'mongodb';
import { BackupError, ErrorCodes } from '../errors.js';
import { ARCHIVE_MAGIC, MAX_BSON_SIZE, MIN_BSON_SIZE, TERMINATOR, namespaceName } from './format.js';

/** One collection as the prelude declares it. */
export interface PreludeEntry {
  db: string;
  collection: string;
  /** `timeseries` for a time-series collection (its data blocks are `system.buckets.<name>`). */
  type?: string;
  /** The raw metadata document, for stages that pass it on unchanged. */
  raw: Buffer;
}

export interface BlockHeader {
  db: string;
  collection: string;
  eof: boolean;
  /** CRC-64 of the namespace's documents (EOF headers only). */
  crc: Long | number;
}

export type ArchiveEvent =
  | { kind: 'prelude'; header: Buffer; entries: PreludeEntry[] }
  | { kind: 'block'; header: BlockHeader; namespace: string }
  /** Consecutive documents of one block, as many as the bytes at hand hold (a batch, not one each: per-document events would cost more than the bytes). */
  | { kind: 'documents'; namespace: string; documents: Buffer[] }
  | { kind: 'blockEnd'; namespace: string };

function corrupt(message: string): BackupError {
  return new BackupError(ErrorCodes.ARCHIVE_CORRUPT, message, {
    hint: 'the archive is damaged or incomplete; use another copy of this backup',
  });
}

/** Pulls exact byte counts out of a stream of chunks of any size. */
export class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private readonly pending: Buffer[] = [];
  private buffered = 0;
  /** Bytes handed out so far, for messages that say where an archive went wrong. */
  position = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Exactly `n` bytes, or null when the stream ended before the first of them; throws when it ends midway. */
  async read(n: number): Promise<Buffer | null> {
    while (this.buffered < n) {
      const next = await this.iterator.next();
      if (next.done) {
        if (this.buffered === 0) return null;
        throw corrupt(`truncated archive: it ends in the middle of a document (after ${this.position + this.buffered} bytes)`);
      }
      const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      if (chunk.length === 0) continue;
      this.pending.push(chunk);
      this.buffered += chunk.length;
    }
    return this.take(n);
  }

  /** Exactly `n` bytes if they are already buffered, else undefined (nothing is consumed). */
  readBuffered(n: number): Buffer | undefined {
    return this.buffered >= n ? this.take(n) : undefined;
  }

  /** The int32 at the read position if 4 bytes are buffered, without consuming it. */
  peekInt32(): number | undefined {
    if (this.buffered < 4) return undefined;
    const first = this.pending[0]!;
    if (first.length >= 4) return first.readInt32LE(0);
    const bytes = Buffer.concat(this.pending, 4);
    return bytes.readInt32LE(0);
  }

  /** Stops the underlying stream early (an abandoned read must not leave it flowing). */
  async close(): Promise<void> {
    await this.iterator.return?.();
  }

  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.pending[0]!;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const head = this.pending[0]!;
        const used = Math.min(head.length, n - filled);
        head.copy(out, filled, 0, used);
        filled += used;
        if (used === head.length) this.pending.shift();
        else this.pending[0] = head.subarray(used);
      }
    }
    this.buffered -= n;
    this.position += n;
    return out;
  }
}

/** The next length-prefixed document, `'terminator'` for 0xffffffff, or null at the end of input. */
async function nextDocument(reader: ByteReader): Promise<Buffer | 'terminator' | null> {
  const prefix = await reader.read(4);
  if (prefix === null) return null;
  const length = prefix.readInt32LE(0);
  if (length === TERMINATOR) return 'terminator';
  if (length < MIN_BSON_SIZE || length > MAX_BSON_SIZE) {
    throw corrupt(`malformed archive: a document length of ${length} bytes at offset ${reader.position - 4}`);
  }
  const rest = await reader.read(length - 4);
  if (rest === null) throw corrupt(`truncated archive: it ends inside a document (after ${reader.position} bytes)`);
  return Buffer.concat([prefix, rest], length);
}

function parseBlockHeader(raw: Buffer): BlockHeader {
  const doc = BSON.deserialize(raw, { promoteLongs: false });
  if (typeof doc['db'] !== 'string' || typeof doc['collection'] !== 'string') throw corrupt('malformed archive: a block header without db/collection');
  return { db: doc['db'], collection: doc['collection'], eof: doc['EOF'] === true, crc: (doc['CRC'] as Long | number | undefined) ?? 0 };
}

function parsePreludeEntry(raw: Buffer): PreludeEntry {
  const doc = BSON.deserialize(raw);
  if (typeof doc['db'] !== 'string' || typeof doc['collection'] !== 'string') throw corrupt('malformed archive: a prelude entry without db/collection');
  return { db: doc['db'], collection: doc['collection'], ...(typeof doc['type'] === 'string' && doc['type'] ? { type: doc['type'] } : {}), raw };
}

/** The archive as events, in stream order; throws ARCHIVE_CORRUPT on a structural problem. */
export async function* readArchive(source: AsyncIterable<Uint8Array>): AsyncGenerator<ArchiveEvent> {
  const reader = new ByteReader(source);
  try {
    const magic = await reader.read(4);
    if (magic === null) throw corrupt('truncated archive: the archive is empty');
    if (magic.readUInt32LE(0) !== ARCHIVE_MAGIC) throw corrupt('not a mongodump archive (wrong magic number)');
    const header = await nextDocument(reader);
    if (header === null || header === 'terminator') throw corrupt('truncated archive: it ends inside the prelude');
    const entries: PreludeEntry[] = [];
    for (;;) {
      const doc = await nextDocument(reader);
      if (doc === null) throw corrupt('truncated archive: it ends inside the prelude');
      if (doc === 'terminator') break;
      entries.push(parsePreludeEntry(doc));
    }
    yield { kind: 'prelude', header, entries };
    yield* readBlocks(reader);
  } finally {
    await reader.close();
  }
}

/** Up to this many documents per `documents` event. */
const BATCH_DOCUMENTS = 1024;

/**
 * The documents of a block that are already buffered, without waiting: stops at the block's
 * terminator (consumed; `ended`), at a document not fully buffered, or at a full batch.
 */
function takeBuffered(reader: ByteReader, namespace: string): { documents: Buffer[]; ended: boolean } {
  const documents: Buffer[] = [];
  while (documents.length < BATCH_DOCUMENTS) {
    const length = reader.peekInt32();
    if (length === undefined) break;
    if (length === TERMINATOR) {
      reader.readBuffered(4);
      return { documents, ended: true };
    }
    if (length < MIN_BSON_SIZE || length > MAX_BSON_SIZE) {
      throw corrupt(`malformed archive: a document length of ${length} bytes at offset ${reader.position} in namespace ${namespace}`);
    }
    const doc = reader.readBuffered(length);
    if (!doc) break;
    documents.push(doc);
  }
  return { documents, ended: false };
}

async function* readBlocks(reader: ByteReader): AsyncGenerator<ArchiveEvent> {
  for (;;) {
    const headerDoc = await nextDocument(reader);
    if (headerDoc === null) return;
    if (headerDoc === 'terminator') throw corrupt(`malformed archive: a terminator where a block header belongs (offset ${reader.position - 4})`);
    const header = parseBlockHeader(headerDoc);
    const namespace = namespaceName(header.db, header.collection);
    yield { kind: 'block', header, namespace };
    for (;;) {
      const { documents, ended } = takeBuffered(reader, namespace);
      if (documents.length > 0) {
        if (header.eof) throw corrupt(`malformed archive: documents after the EOF header of ${namespace}`);
        yield { kind: 'documents', namespace, documents };
      }
      if (ended) break;
      if (documents.length === BATCH_DOCUMENTS) continue;
      // The next document (or terminator) is not buffered whole yet: wait for it.
      const doc = await nextDocument(reader);
      if (doc === null) throw corrupt(`truncated archive: it ends inside a block of namespace ${namespace} (after ${reader.position} bytes)`);
      if (doc === 'terminator') break;
      if (header.eof) throw corrupt(`malformed archive: documents after the EOF header of ${namespace}`);
      yield { kind: 'documents', namespace, documents: [doc] };
    }
    yield { kind: 'blockEnd', namespace };
  }
}
