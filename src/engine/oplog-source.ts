/**
 * What point-in-time backups ask of the source server (docs/PITR.md): whether it is a
 * replica-set member (only then is there an oplog to capture), and where its oplog starts and ends,
 * so an incremental can prove that it continues its parent without a gap.
 */
import { Timestamp, type Document, type MongoClient } from 'mongodb';
import { viewOf, type OplogEntryView, type OplogTimestamp } from '../pitr/oplog.js';
import { withClient } from './mongo-server.js';

/** Why a full dump of this server cannot carry the oplog, or undefined when it can. */
export async function oplogUnavailableReason(uri: string): Promise<string | undefined> {
  return withClient(uri, async (client) => {
    const hello = await client.db('admin').command({ hello: 1 });
    if (hello['msg'] === 'isdbgrid') return 'the source is a mongos router: a sharded cluster has no single oplog to capture';
    if (typeof hello['setName'] !== 'string') return 'the source is a standalone server: only a replica-set member has an oplog';
    const oplogExists = (await client.db('local').listCollections({ name: 'oplog.rs' }, { nameOnly: true }).toArray()).length > 0;
    return oplogExists ? undefined : 'the source has no local.oplog.rs';
  });
}

export interface OplogBounds {
  oldest?: OplogEntryView;
  newest?: OplogEntryView;
  /** Whether the entry at `at` (the previous link's last) is still in the oplog. */
  holds: boolean;
}

async function endEntry(client: MongoClient, direction: 1 | -1): Promise<OplogEntryView | undefined> {
  const docs = await client.db('local').collection('oplog.rs').find({}, { sort: { $natural: direction }, limit: 1, projection: { ts: 1, wall: 1, op: 1, ns: 1 } }).toArray();
  return docs[0] ? viewOf(docs[0] as Document) : undefined;
}

export function toBsonTimestamp(ts: OplogTimestamp): Timestamp {
  return new Timestamp({ t: ts.t, i: ts.i });
}

/** The oplog's oldest and newest entries, and whether it still holds the entry at `at`. */
export async function oplogBounds(uri: string, at?: OplogTimestamp): Promise<OplogBounds> {
  return withClient(uri, async (client) => {
    const [oldest, newest] = await Promise.all([endEntry(client, 1), endEntry(client, -1)]);
    const holds = at === undefined ? false : (await client.db('local').collection('oplog.rs').findOne({ ts: toBsonTimestamp(at) }, { projection: { ts: 1 } })) !== null;
    return { ...(oldest ? { oldest } : {}), ...(newest ? { newest } : {}), holds };
  });
}

/** mongodump's `--query` for the oplog entries after `after` up to and including `upTo`. */
export function sliceQuery(after: OplogTimestamp, upTo: OplogTimestamp): string {
  const ts = (p: OplogTimestamp) => ({ $timestamp: { t: p.t, i: p.i } });
  return JSON.stringify({ ts: { $gt: ts(after), $lte: ts(upTo) } });
}
