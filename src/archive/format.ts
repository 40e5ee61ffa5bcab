/**
 * Constants and names of the mongodump `--archive` format, as written by mongo-tools
 * (common/archive: prelude.go, multiplexer.go; specification in common/archive/spec.md):
 *
 *   magic 0x8199e26d (uint32 LE)
 *   prelude:  header doc, one metadata doc per collection, terminator 0xffffffff
 *   blocks:   namespace header {db, collection, EOF:false, CRC:0}, documents..., terminator
 *             — a namespace's documents may be split over many blocks, interleaved with others;
 *             a block may hold no documents at all (empty collections, views)
 *   end:      per namespace, {db, collection, EOF:true, CRC:int64} followed by a terminator
 */

export const ARCHIVE_MAGIC = 0x8199e26d;
/** 0xffffffff read as a little-endian int32. */
export const TERMINATOR = -1;
/** Smallest BSON document: int32 length + trailing NUL. */
export const MIN_BSON_SIZE = 5;
/** mongo-tools refuses larger documents (db.MaxBSONSize), so mongorestore could not restore them. */
export const MAX_BSON_SIZE = 16 * 1024 * 1024;

/** "db.collection", or just the collection when db is empty (the oplog travels as db "" collection "oplog"). */
export function namespaceName(db: string, collection: string): string {
  return db === '' ? collection : `${db}.${collection}`;
}

/**
 * The namespace whose data blocks carry a collection declared in the prelude: a time-series
 * collection's documents live in (and are announced as) `system.buckets.<name>`.
 */
export function dataNamespaceName(db: string, collection: string, type: string | undefined): string {
  return namespaceName(db, type === 'timeseries' ? `system.buckets.${collection}` : collection);
}

/** Guesses what a non-archive stream is, to say what to do about it. */
export function describeForeignMagic(firstBytes: Uint8Array): string | undefined {
  const [b0, b1, b2, b3] = firstBytes;
  if (b0 === 0x1f && b1 === 0x8b) return 'it looks gzip-compressed: decompress it first';
  if (b0 === 0x28 && b1 === 0xb5 && b2 === 0x2f && b3 === 0xfd) return 'it looks zstd-compressed: decompress it first';
  return undefined;
}
