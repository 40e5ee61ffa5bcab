/**
 * Incremental parser for the mongodump `--archive` format (see format.ts for the layout).
 *
 * It is fed chunks of any size and never holds more than one small header/prelude document plus
 * the chunk it is working on: data documents are never copied or deserialized — only their int32
 * length is read, and their raw bytes go straight into the namespace's CRC-64, one call per
 * contiguous run of documents within a chunk.
 */
import { BSON } from 'mongodb';
import { BackupError, ErrorCodes } from '../errors.js';
import { Crc64 } from './crc64.js';
import {
  ARCHIVE_MAGIC,
  MAX_BSON_SIZE,
  MIN_BSON_SIZE,
  TERMINATOR,
  dataNamespaceName,
  describeForeignMagic,
  namespaceName,
} from './format.js';

export interface NamespaceSummary {
  documents: number;
  bytes: number;
  crcChecked: boolean;
}

export interface ArchiveSummary {
  /** prelude header fields as found (strings), e.g. archiveVersion, serverVersion, toolVersion */
  header: { archiveVersion?: string; serverVersion?: string; toolVersion?: string };
  /** namespaces declared in the prelude, in order, as "db.collection" ("oplog" when db is "") */
  declared: string[];
  /** document counts per namespace, key "db.collection" ("oplog" for the oplog) — includes 0-doc namespaces */
  namespaces: Record<string, number>;
  details: Record<string, NamespaceSummary>;
  /** total bytes of the archive seen */
  bytes: number;
}

export interface InspectorOptions {
  /** Check every namespace's CRC-64 against its EOF header (default true). */
  verifyCrc?: boolean;
  /**
   * Hands each document of one namespace to `document`, in order (the oplog of a point-in-time
   * dump, whose first and last entries bound the backup's restore point). The view is valid only
   * during the call: chunks are reused, so keep a copy.
   */
  watch?: { namespace: string; document(doc: Uint8Array): void };
}

interface NamespaceState {
  name: string;
  documents: number;
  bytes: number;
  crc: Crc64 | null;
  crcChecked: boolean;
  closed: boolean;
  /** Its documents go to the `watch` callback. */
  watched: boolean;
}

/** What the parser expects next. */
const Phase = {
  /** the 4 magic bytes */
  MAGIC: 0,
  /** int32 length (or terminator) of the next document, see `Expect` for which one */
  PREFIX: 1,
  /** collecting a whole prelude/header document into `docBuffer` */
  COLLECT: 2,
  /** streaming the rest of a data document through the CRC */
  DATA_REST: 3,
  /** a previous chunk failed: the archive cannot be parsed further */
  FAILED: 4,
} as const;
type PhaseValue = (typeof Phase)[keyof typeof Phase];

/** Which document a length prefix announces. */
const Expect = {
  PRELUDE_HEADER: 0,
  PRELUDE_METADATA: 1,
  BLOCK_HEADER: 2,
  BLOCK_BODY: 3,
} as const;
type ExpectValue = (typeof Expect)[keyof typeof Expect];

function readInt32LE(buf: Uint8Array, at: number): number {
  return buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24);
}

function corrupt(message: string, details: Record<string, unknown>, hint?: string): BackupError {
  return new BackupError(ErrorCodes.ARCHIVE_CORRUPT, message, {
    details,
    hint: hint ?? 'the archive is damaged or incomplete; use another copy of this backup',
  });
}

export class ArchiveParser {
  private readonly verifyCrc: boolean;
  private readonly watch: InspectorOptions['watch'];
  /** A watched document that spans chunks, being gathered. */
  private watchBuffer: Buffer | null = null;
  private watchFill = 0;
  private phase: PhaseValue = Phase.MAGIC;
  private expect: ExpectValue = Expect.PRELUDE_HEADER;
  /** Archive bytes consumed before the current chunk. */
  private position = 0;
  /** A length prefix (or the magic) split across chunks. */
  private readonly prefix = new Uint8Array(4);
  private prefixFill = 0;
  /** A prelude/header document being collected. */
  private docBuffer: Buffer | null = null;
  private docFill = 0;
  /** Streaming data document: its length and how many of its bytes are still to come. */
  private dataLength = 0;
  private dataRemaining = 0;
  /** Namespace whose documents the current block carries; null right after its EOF header. */
  private current: NamespaceState | null = null;
  private readonly namespaces = new Map<string, NamespaceState>();
  private readonly declared: string[] = [];
  private readonly header: ArchiveSummary['header'] = {};
  private failure: BackupError | null = null;
  private finished = false;

  constructor(options: InspectorOptions = {}) {
    this.verifyCrc = options.verifyCrc ?? true;
    this.watch = options.watch;
  }

  /** Parses one chunk; throws a BackupError (ARCHIVE_CORRUPT) on the first structural problem. */
  feed(chunk: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (this.finished) throw new BackupError(ErrorCodes.FAILED, 'archive parser fed after finish()');
    try {
      this.parse(chunk);
    } catch (error) {
      this.phase = Phase.FAILED;
      this.failure = error instanceof BackupError ? error : corrupt(`malformed archive: ${String(error)}`, {});
      throw this.failure;
    }
    this.position += chunk.length;
  }

  /** Call at end of input: throws unless the archive ended cleanly with every namespace closed. */
  finish(): void {
    if (this.failure) throw this.failure;
    if (this.finished) return;
    const problem = this.incompleteReason();
    if (problem) {
      this.failure = corrupt(`truncated archive: ${problem} (after ${this.position} bytes)`, {
        offset: this.position,
      });
      this.phase = Phase.FAILED;
      throw this.failure;
    }
    this.finished = true;
  }

  summary(): ArchiveSummary {
    const namespaces: Record<string, number> = {};
    const details: Record<string, NamespaceSummary> = {};
    for (const ns of this.namespaces.values()) {
      namespaces[ns.name] = ns.documents;
      details[ns.name] = { documents: ns.documents, bytes: ns.bytes, crcChecked: ns.crcChecked };
    }
    return { header: { ...this.header }, declared: [...this.declared], namespaces, details, bytes: this.position };
  }

  private incompleteReason(): string | undefined {
    if (this.phase === Phase.MAGIC) {
      return this.position === 0 ? 'the archive is empty' : 'it ends inside the magic number';
    }
    const atBlockBoundary = this.phase === Phase.PREFIX && this.expect === Expect.BLOCK_HEADER && this.prefixFill === 0;
    if (!atBlockBoundary) {
      if (this.expect === Expect.PRELUDE_HEADER || this.expect === Expect.PRELUDE_METADATA) return 'it ends inside the prelude';
      if (this.current) return `it ends inside a block of namespace ${this.current.name}`;
      return 'it ends in the middle of a document or block';
    }
    const unfinished = [...this.namespaces.values()].filter((ns) => !ns.closed).map((ns) => ns.name);
    for (const name of this.declared) {
      if (!this.namespaces.has(name)) unfinished.push(name);
    }
    if (unfinished.length > 0) return `no EOF header for ${unfinished.join(', ')}`;
    return undefined;
  }

  private parse(chunk: Uint8Array): void {
    const end = chunk.length;
    let at = 0;
    while (at < end) {
      switch (this.phase) {
        case Phase.MAGIC:
          at = this.readMagic(chunk, at);
          break;
        case Phase.PREFIX:
          at = this.expect === Expect.BLOCK_BODY && this.prefixFill === 0 ? this.scanBody(chunk, at) : this.readPrefix(chunk, at);
          break;
        case Phase.COLLECT:
          at = this.collect(chunk, at);
          break;
        case Phase.DATA_REST:
          at = this.continueData(chunk, at);
          break;
        default:
          throw this.failure ?? corrupt('archive parser in failed state', {});
      }
    }
  }

  private offsetOf(at: number): number {
    return this.position + at;
  }

  private readMagic(chunk: Uint8Array, at: number): number {
    const take = Math.min(4 - this.prefixFill, chunk.length - at);
    this.prefix.set(chunk.subarray(at, at + take), this.prefixFill);
    this.prefixFill += take;
    if (this.prefixFill < 4) return at + take;
    this.prefixFill = 0;
    const magic = readInt32LE(this.prefix, 0) >>> 0;
    if (magic !== ARCHIVE_MAGIC) {
      throw corrupt(
        `not a mongodump archive: bad magic number 0x${magic.toString(16).padStart(8, '0')} (expected 0x${ARCHIVE_MAGIC.toString(16)})`,
        { offset: 0 },
        describeForeignMagic(this.prefix) ?? 'the data is not a plain mongodump --archive stream',
      );
    }
    this.phase = Phase.PREFIX;
    this.expect = Expect.PRELUDE_HEADER;
    return at + take;
  }

  /** Slow path: a length prefix that may be split across chunks. */
  private readPrefix(chunk: Uint8Array, at: number): number {
    const take = Math.min(4 - this.prefixFill, chunk.length - at);
    this.prefix.set(chunk.subarray(at, at + take), this.prefixFill);
    this.prefixFill += take;
    at += take;
    if (this.prefixFill < 4) return at;
    this.prefixFill = 0;
    this.onPrefix(readInt32LE(this.prefix, 0), this.offsetOf(at - 4));
    return at;
  }

  private onPrefix(length: number, offset: number): void {
    if (length === TERMINATOR) {
      this.onTerminator(offset);
      return;
    }
    this.checkLength(length, offset);
    if (this.expect === Expect.BLOCK_BODY) {
      const ns = this.requireOpenNamespace(offset);
      ns.crc?.update(this.prefix);
      this.dataLength = length;
      this.dataRemaining = length - 4;
      this.phase = Phase.DATA_REST;
      if (ns.watched) this.startWatched(this.prefix, length);
      return;
    }
    this.docBuffer = Buffer.allocUnsafe(length);
    this.docBuffer.set(this.prefix, 0);
    this.docFill = 4;
    this.phase = Phase.COLLECT;
  }

  private onTerminator(offset: number): void {
    switch (this.expect) {
      case Expect.PRELUDE_HEADER:
        throw corrupt(`malformed archive: terminator instead of the prelude header at byte ${offset}`, { offset });
      case Expect.PRELUDE_METADATA:
        this.expect = Expect.BLOCK_HEADER;
        return;
      case Expect.BLOCK_HEADER:
        throw corrupt(`malformed archive: two consecutive terminators at byte ${offset}`, { offset });
      default:
        this.current = null;
        this.expect = Expect.BLOCK_HEADER;
    }
  }

  private checkLength(length: number, offset: number): void {
    if (length < MIN_BSON_SIZE || length > MAX_BSON_SIZE) {
      const where = this.current ? ` in namespace ${this.current.name}` : '';
      throw corrupt(
        `malformed archive: ${length} at byte ${offset}${where} is neither a BSON document length nor a terminator`,
        { offset, ...(this.current ? { namespace: this.current.name } : {}) },
      );
    }
  }

  private requireOpenNamespace(offset: number): NamespaceState {
    if (this.current) return this.current;
    throw this.documentAfterEof(offset);
  }

  private documentAfterEof(offset: number): BackupError {
    return corrupt(`malformed archive: document after an EOF header at byte ${offset}`, { offset });
  }

  private checkDocumentEnd(lastByte: number, offset: number): void {
    if (lastByte !== 0) {
      const ns = this.current?.name;
      throw corrupt(
        `malformed archive: BSON document ending at byte ${offset}${ns ? ` in namespace ${ns}` : ''} does not end with a NUL byte`,
        { offset, ...(ns ? { namespace: ns } : {}) },
      );
    }
  }

  /**
   * Fast path over a block's documents: walks the length prefixes within the chunk and hashes
   * the whole run of documents with one CRC call.
   */
  private scanBody(chunk: Uint8Array, at: number): number {
    const end = chunk.length;
    const ns = this.current;
    const crc = ns?.crc ?? null;
    const runStart = at;
    let documents = 0;
    let bytes = 0;
    while (at + 4 <= end) {
      const length = readInt32LE(chunk, at);
      if (length === TERMINATOR) {
        crc?.update(chunk, runStart, at);
        this.addDocuments(ns, documents, bytes);
        this.onTerminator(this.offsetOf(at));
        return at + 4;
      }
      if (ns === null) throw this.documentAfterEof(this.offsetOf(at));
      this.checkLength(length, this.offsetOf(at));
      if (at + length > end) {
        // The document continues in the next chunk(s).
        crc?.update(chunk, runStart, end);
        this.addDocuments(ns, documents, bytes);
        this.dataLength = length;
        this.dataRemaining = length - (end - at);
        this.phase = Phase.DATA_REST;
        if (ns.watched) this.startWatched(chunk.subarray(at, end), length);
        return end;
      }
      this.checkDocumentEnd(chunk[at + length - 1]!, this.offsetOf(at + length - 1));
      if (ns.watched) this.watch!.document(chunk.subarray(at, at + length));
      at += length;
      documents++;
      bytes += length;
    }
    crc?.update(chunk, runStart, at);
    this.addDocuments(ns, documents, bytes);
    // Fewer than 4 bytes left: the next length prefix is split across chunks.
    return at < end ? this.readPrefix(chunk, at) : at;
  }

  private addDocuments(ns: NamespaceState | null, documents: number, bytes: number): void {
    if (ns === null) return;
    ns.documents += documents;
    ns.bytes += bytes;
  }

  private continueData(chunk: Uint8Array, at: number): number {
    const take = Math.min(this.dataRemaining, chunk.length - at);
    const ns = this.current!;
    ns.crc?.update(chunk, at, at + take);
    if (this.watchBuffer) {
      this.watchBuffer.set(chunk.subarray(at, at + take), this.watchFill);
      this.watchFill += take;
    }
    at += take;
    this.dataRemaining -= take;
    if (this.dataRemaining > 0) return at;
    this.checkDocumentEnd(chunk[at - 1]!, this.offsetOf(at - 1));
    this.addDocuments(ns, 1, this.dataLength);
    if (this.watchBuffer) {
      this.watch!.document(this.watchBuffer);
      this.watchBuffer = null;
    }
    this.phase = Phase.PREFIX;
    return at;
  }

  /** A watched document continues in later chunks: gather it from its first bytes. */
  private startWatched(firstBytes: Uint8Array, length: number): void {
    this.watchBuffer = Buffer.allocUnsafe(length);
    this.watchBuffer.set(firstBytes, 0);
    this.watchFill = firstBytes.length;
  }

  private collect(chunk: Uint8Array, at: number): number {
    const doc = this.docBuffer!;
    const take = Math.min(doc.length - this.docFill, chunk.length - at);
    doc.set(chunk.subarray(at, at + take), this.docFill);
    this.docFill += take;
    at += take;
    if (this.docFill < doc.length) return at;
    const offset = this.offsetOf(at) - doc.length;
    this.checkDocumentEnd(doc[doc.length - 1]!, this.offsetOf(at - 1));
    this.docBuffer = null;
    this.phase = Phase.PREFIX;
    this.onDocument(doc, offset);
    return at;
  }

  private onDocument(doc: Buffer, offset: number): void {
    const fields = this.deserialize(doc, offset);
    switch (this.expect) {
      case Expect.PRELUDE_HEADER:
        this.onPreludeHeader(fields);
        this.expect = Expect.PRELUDE_METADATA;
        return;
      case Expect.PRELUDE_METADATA:
        this.onCollectionMetadata(fields, offset);
        return;
      default:
        this.onBlockHeader(fields, offset);
    }
  }

  private deserialize(doc: Buffer, offset: number): Record<string, unknown> {
    try {
      return BSON.deserialize(doc, { useBigInt64: true }) as Record<string, unknown>;
    } catch (error) {
      throw corrupt(`malformed archive: unreadable BSON header document at byte ${offset}: ${(error as Error).message}`, {
        offset,
      });
    }
  }

  private onPreludeHeader(fields: Record<string, unknown>): void {
    const asString = (value: unknown): string | undefined => (value === undefined || value === null ? undefined : String(value));
    const archiveVersion = asString(fields.version);
    const serverVersion = asString(fields.server_version);
    const toolVersion = asString(fields.tool_version);
    if (archiveVersion !== undefined) this.header.archiveVersion = archiveVersion;
    if (serverVersion !== undefined) this.header.serverVersion = serverVersion;
    if (toolVersion !== undefined) this.header.toolVersion = toolVersion;
  }

  private onCollectionMetadata(fields: Record<string, unknown>, offset: number): void {
    const { db, collection, type } = fields;
    if (typeof db !== 'string' || typeof collection !== 'string' || collection === '') {
      throw corrupt(`malformed archive: collection metadata without db/collection at byte ${offset}`, { offset });
    }
    this.declared.push(dataNamespaceName(db, collection, typeof type === 'string' ? type : undefined));
  }

  private onBlockHeader(fields: Record<string, unknown>, offset: number): void {
    const { db, collection } = fields;
    if (typeof db !== 'string' || typeof collection !== 'string' || collection === '') {
      throw corrupt(`malformed archive: namespace header without db/collection at byte ${offset}`, { offset });
    }
    const name = namespaceName(db, collection);
    const ns = this.namespaceState(name);
    if (ns.closed) {
      throw corrupt(`malformed archive: namespace ${name} continues after its EOF header (byte ${offset})`, {
        offset,
        namespace: name,
      });
    }
    this.expect = Expect.BLOCK_BODY;
    if (fields.EOF === true) {
      this.closeNamespace(ns, fields.CRC, offset);
      this.current = null;
    } else {
      this.current = ns;
    }
  }

  private namespaceState(name: string): NamespaceState {
    let ns = this.namespaces.get(name);
    if (!ns) {
      ns = {
        name,
        documents: 0,
        bytes: 0,
        crc: this.verifyCrc ? new Crc64() : null,
        crcChecked: false,
        closed: false,
        watched: this.watch?.namespace === name,
      };
      this.namespaces.set(name, ns);
    }
    return ns;
  }

  private closeNamespace(ns: NamespaceState, storedCrc: unknown, offset: number): void {
    ns.closed = true;
    if (!ns.crc) return;
    const expected = toInt64(storedCrc);
    const actual = ns.crc.digestSigned();
    if (expected !== actual) {
      throw corrupt(
        `CRC-64 mismatch in namespace ${ns.name}: the EOF header at byte ${offset} says ${expected ?? String(storedCrc)}, its ${ns.documents} documents hash to ${actual}`,
        { offset, namespace: ns.name },
      );
    }
    ns.crcChecked = true;
    ns.crc = null;
  }
}

/** The EOF header's CRC as a signed int64 (int64 normally; tolerate int32/double; absent means 0 as in mongo-tools). */
function toInt64(value: unknown): bigint | undefined {
  if (value === undefined || value === null) return 0n;
  if (typeof value === 'bigint') return BigInt.asIntN(64, value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  return undefined;
}
