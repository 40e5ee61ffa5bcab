/**
 * Oplog entries as point-in-time recovery replays them (docs/PITR.md): their timestamps, where a
 * replay stops, and what a namespace filter or rename does to each entry. Pure functions.
 *
 * Entries are decoded with `promoteValues: false`, so an entry that must be rewritten (a renamed
 * namespace) serializes back with every value's BSON type intact; an entry that is kept as it is
 * goes on as the original bytes.
 */
import { BSON, Timestamp, type Document } from 'mongodb';
import { usageError } from '../errors.js';
import type { OplogDecision } from '../archive/rewrite.js';
import type { NamespaceSelector } from '../archive/namespaces.js';

/** An oplog position: seconds since the epoch and the increment within that second. */
export interface OplogTimestamp {
  t: number;
  i: number;
}

export function compareTimestamps(a: OplogTimestamp, b: OplogTimestamp): number {
  return a.t - b.t || a.i - b.i;
}

export function formatTimestamp(ts: OplogTimestamp): string {
  return `${ts.t}:${ts.i}`;
}

/** The parts of an entry the replay looks at. */
export interface OplogEntryView {
  ts: OplogTimestamp;
  /** When the entry was written (ms since the epoch): `wall` when present, else the second of `ts`. */
  timeMs: number;
  op: string;
  ns: string;
}

function decode(entry: Buffer): Document {
  return BSON.deserialize(entry, { promoteValues: false });
}

/** The view of an entry the driver has already decoded (a document read from `local.oplog.rs`). */
export function viewOf(doc: Document): OplogEntryView {
  const ts = doc['ts'];
  if (!(ts instanceof Timestamp)) throw new TypeError('an oplog entry without a timestamp');
  const position = { t: ts.high >>> 0, i: ts.low >>> 0 };
  const wall = doc['wall'];
  return {
    ts: position,
    timeMs: wall instanceof Date ? wall.getTime() : position.t * 1000,
    op: typeof doc['op'] === 'string' ? doc['op'] : '',
    ns: typeof doc['ns'] === 'string' ? doc['ns'] : '',
  };
}

export function viewOplogEntry(entry: Buffer): OplogEntryView {
  return viewOf(decode(entry));
}

/** How far an entry's wall clock may be from its `ts` second before the replay decodes it to look. */
const CLOCK_SLACK_MS = 2000;

/** Commands whose value names the collection they act on, in the entry's database. */
const COLLECTION_COMMANDS = new Set([
  'create',
  'drop',
  'collMod',
  'createIndexes',
  'dropIndexes',
  'deleteIndexes',
  'emptycapped',
  'convertToCapped',
  'startIndexBuild',
  'commitIndexBuild',
  'abortIndexBuild',
]);

export interface ReplayOptions {
  /** The namespaces restored, and where they go. */
  selector: NamespaceSelector;
  /** The replay applies entries written at or before this moment (ms), and stops at the first one after. */
  notAfterMs?: number;
}

/** Where the replay stops and what the namespace selection does to each entry. */
export function replayDecider(options: ReplayOptions): (entry: Buffer) => OplogDecision {
  const cut = options.notAfterMs;
  // Nothing to select and no cut: every entry goes on as it is, without decoding it.
  if (options.selector.identity && cut === undefined) return (entry) => ({ keep: entry });
  return (entry) => {
    if (options.selector.identity && cut !== undefined) {
      // Decoding every entry for its wall clock is most of a replay's cost: entries whose `ts`
      // second is clearly before the cut are kept as they are (wall and ts come from one clock).
      const second = entryTimestamp(entry).t * 1000;
      if (second + CLOCK_SLACK_MS <= cut) return { keep: entry };
    }
    const doc = decode(entry);
    const view = viewOf(doc);
    if (options.notAfterMs !== undefined && view.timeMs > options.notAfterMs) return 'stop';
    if (options.selector.identity) return { keep: entry };
    return applySelection(entry, doc, view, options.selector);
  };
}

function databaseOf(ns: string): string {
  const dot = ns.indexOf('.');
  return dot < 0 ? ns : ns.slice(0, dot);
}

function collectionOf(ns: string): string {
  return ns.slice(ns.indexOf('.') + 1);
}

function refuse(view: OplogEntryView, what: string): never {
  throw usageError(
    `the oplog entry of ${new Date(view.timeMs).toISOString()} (${formatTimestamp(view.ts)}) ${what}, which the namespace options cannot honour`,
    'restore without --ns-include/--ns-exclude/--ns-from, or to a point in time before that entry',
  );
}

function applySelection(entry: Buffer, doc: Document, view: OplogEntryView, selector: NamespaceSelector): OplogDecision {
  switch (view.op) {
    case 'i':
    case 'u':
    case 'd':
      return renamed(entry, doc, view.ns, selector.map(view.ns));
    case 'n':
      return { keep: entry };
    case 'c':
      return commandEntry(entry, doc, view, selector);
    default:
      return refuse(view, `has the unknown operation "${view.op}"`);
  }
}

/** The entry with its namespace changed; a renamed entry loses `ui`, the source collection's UUID. */
function renamed(entry: Buffer, doc: Document, source: string, destination: string | undefined): OplogDecision {
  if (destination === undefined) return 'drop';
  if (destination === source) return { keep: entry };
  const { ui: _uuid, ...rest } = doc;
  return { keep: Buffer.from(BSON.serialize({ ...rest, ns: destination })) };
}

function commandEntry(entry: Buffer, doc: Document, view: OplogEntryView, selector: NamespaceSelector): OplogDecision {
  const db = databaseOf(view.ns);
  const command = (doc['o'] ?? {}) as Document;
  const name = Object.keys(command)[0] ?? '';
  if (COLLECTION_COMMANDS.has(name) && typeof command[name] === 'string') {
    const source = `${db}.${command[name] as string}`;
    const destination = selector.map(source);
    if (destination === undefined) return 'drop';
    if (destination === source) return { keep: entry };
    const { ui: _uuid, ...rest } = doc;
    return {
      keep: Buffer.from(BSON.serialize({ ...rest, ns: `${databaseOf(destination)}.$cmd`, o: { ...command, [name]: collectionOf(destination) } })),
    };
  }
  if (name === 'renameCollection' && typeof command['renameCollection'] === 'string' && typeof command['to'] === 'string') {
    const from = selector.map(command['renameCollection']);
    const to = selector.map(command['to']);
    if (from === undefined && to === undefined) return 'drop';
    if (from === undefined || to === undefined) {
      refuse(view, `renames ${command['renameCollection']} to ${command['to']} across the edge of the selection`);
    }
    if (from === command['renameCollection'] && to === command['to']) return { keep: entry };
    const { ui: _uuid, ...rest } = doc;
    return { keep: Buffer.from(BSON.serialize({ ...rest, ns: `${databaseOf(from)}.$cmd`, o: { ...command, renameCollection: from, to } })) };
  }
  if (name === 'dropDatabase') {
    if (!selector.mayTouchDatabase(db)) return 'drop';
    return refuse(view, `drops the database ${db}`);
  }
  return refuse(view, `runs the command "${name}" in ${db}`);
}

/** The `ts` of a raw entry: read in place when it is the first field (as servers write it), else decoded. */
export function entryTimestamp(entry: Uint8Array): OplogTimestamp {
  // int32 length, then element type 0x11 (Timestamp), name "ts\0", uint64 LE (increment, seconds).
  if (entry.length >= 16 && entry[4] === 0x11 && entry[5] === 0x74 && entry[6] === 0x73 && entry[7] === 0) {
    const view = new DataView(entry.buffer, entry.byteOffset, entry.byteLength);
    return { i: view.getUint32(8, true), t: view.getUint32(12, true) };
  }
  return viewOplogEntry(Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength)).ts;
}

/** The oplog range a dump holds, as its manifest records it (docs/PITR.md). */
export interface RecordedOplog {
  first: OplogEntryView;
  last: OplogEntryView;
  entries: number;
}

/**
 * Watches the oplog entries of a dump as they stream by (ArchiveInspector's `watch`): counts them,
 * keeps the first and the last, and notes the first entry out of timestamp order.
 */
export class OplogRecorder {
  private first: Buffer | undefined;
  private last: Buffer | undefined;
  private lastTs: OplogTimestamp | undefined;
  entries = 0;
  /** The first place the entries went backwards in time, if they did. */
  disorder: string | undefined;

  readonly document = (doc: Uint8Array): void => {
    const ts = entryTimestamp(doc);
    if (this.lastTs && compareTimestamps(ts, this.lastTs) <= 0 && this.disorder === undefined) {
      this.disorder = `entry ${this.entries + 1} (${formatTimestamp(ts)}) does not come after ${formatTimestamp(this.lastTs)}`;
    }
    this.lastTs = ts;
    this.last = Buffer.from(doc);
    this.first ??= this.last;
    this.entries++;
  };

  recorded(): RecordedOplog | undefined {
    if (!this.first || !this.last) return undefined;
    return { first: viewOplogEntry(this.first), last: viewOplogEntry(this.last), entries: this.entries };
  }
}
