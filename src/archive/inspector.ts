/**
 * In-line inspection of a mongodump `--archive` stream: the backup pipeline pipes mongodump's
 * output through an ArchiveInspector (bytes pass unchanged) to learn per-namespace document
 * counts and prove the archive's structure and CRCs; `verify --deep` runs a whole decrypted,
 * decompressed archive through inspectArchive() without a server.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { BackupError, ErrorCodes } from '../errors.js';
import { ArchiveParser, type ArchiveSummary, type InspectorOptions } from './parser.js';

export type { ArchiveSummary, InspectorOptions, NamespaceSummary } from './parser.js';

/**
 * Transform stream: passes every byte through unchanged while parsing; errors with BackupError
 * code ARCHIVE_CORRUPT on bad magic, malformed BSON framing, a CRC mismatch (the message names
 * the namespace), or an archive that ends before every declared/opened namespace got its EOF
 * header ("truncated archive").
 */
export class ArchiveInspector extends Transform {
  private readonly parser: ArchiveParser;

  constructor(options: InspectorOptions = {}) {
    super();
    this.parser = new ArchiveParser(options);
  }

  /** Counts and checks so far; complete once the stream has finished without error. */
  summary(): ArchiveSummary {
    return this.parser.summary();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.parser.feed(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    // The same Buffer goes on, only after it was parsed, so a corrupt chunk is never forwarded.
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.parser.finish();
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback();
  }
}

/** Convenience: consume a whole Readable through an inspector and return the summary. */
export async function inspectArchive(
  source: NodeJS.ReadableStream | AsyncIterable<Buffer>,
  options?: InspectorOptions,
): Promise<ArchiveSummary> {
  const parser = new ArchiveParser(options);
  // Feeding the parser directly skips a Transform's per-chunk overhead; the checks are the same.
  for await (const chunk of source as AsyncIterable<Buffer | string>) {
    if (typeof chunk === 'string') {
      throw new BackupError(ErrorCodes.FAILED, 'inspectArchive needs a binary stream (the source has a text encoding set)');
    }
    parser.feed(chunk);
  }
  parser.finish();
  return parser.summary();
}
