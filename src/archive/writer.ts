/**
 * Writes the mongodump `--archive` format (layout in format.ts) for the stages that change an
 * archive on its way to mongorestore. Output is gathered into chunks of about 256 KiB: a pipe
 * fed one small document per write would spend its time on write calls, not bytes.
 */
import { BSON, Long } from 'mongodb';
import { Crc64 } from './crc64.js';

const MAGIC = Buffer.from([0x6d, 0xe2, 0x99, 0x81]);
const TERMINATOR_BYTES = Buffer.from([0xff, 0xff, 0xff, 0xff]);
const CHUNK_BYTES = 256 * 1024;

export class ArchiveWriter {
  private parts: Buffer[] = [];
  private size = 0;

  /** The magic number, the prelude header, the collections' metadata documents and the terminator. */
  prelude(header: Buffer, metadata: Buffer[]): void {
    this.push(MAGIC);
    this.push(header);
    for (const doc of metadata) this.push(doc);
    this.push(TERMINATOR_BYTES);
  }

  /** Opens a block of documents of one namespace (the oplog: db "", collection "oplog"). */
  openBlock(db: string, collection: string): void {
    this.push(blockHeader(db, collection, false, Long.ZERO));
  }

  document(doc: Buffer): void {
    this.push(doc);
  }

  closeBlock(): void {
    this.push(TERMINATOR_BYTES);
  }

  /** The namespace's last header: EOF with the CRC-64 of all its documents, and its terminator. */
  endNamespace(db: string, collection: string, crc: Long): void {
    this.push(blockHeader(db, collection, true, crc));
    this.push(TERMINATOR_BYTES);
  }

  /** A full chunk when one is ready (call after each write), else undefined. */
  takeFull(): Buffer | undefined {
    return this.size >= CHUNK_BYTES ? this.take() : undefined;
  }

  /** Whatever is gathered, or undefined when nothing is. */
  takeRest(): Buffer | undefined {
    return this.size > 0 ? this.take() : undefined;
  }

  private push(buffer: Buffer): void {
    this.parts.push(buffer);
    this.size += buffer.length;
  }

  private take(): Buffer {
    const out = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    return out;
  }
}

export function blockHeader(db: string, collection: string, eof: boolean, crc: Long): Buffer {
  return Buffer.from(BSON.serialize({ db, collection, EOF: eof, CRC: crc }));
}

/** The CRC-64 an EOF header stores: Go's uint64 read as a signed int64. */
export function crcAsLong(crc: Crc64): Long {
  return Long.fromBigInt(crc.digestSigned());
}
