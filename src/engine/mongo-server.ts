/**
 * Talking to a MongoDB server with the driver, on both sides of the tool: the source `create` dumps
 * (a fast reachability check before spawning mongodump, so an unreachable server fails in seconds
 * with a clear message, not after its 30 s timeout; the server version for the manifest) and the
 * destination `restore` writes to (what is already there, the per-namespace counts it checks
 * against, dropping namespaces again to undo a failed restore).
 */
import { MongoClient } from 'mongodb';
import { BackupError, ErrorCodes, redactSecrets } from '../errors.js';

export interface ServerInfo {
  /** host[:port] list from the URI, without credentials. */
  host: string;
  serverVersion?: string;
}

/** The hosts part of a connection string, never the credentials. */
export function hostsOf(uri: string): string {
  const m = /^[a-z+]+:\/\/(?:[^@/]*@)?([^/?]+)/i.exec(uri);
  return m?.[1] ?? 'unknown';
}

export async function withClient<T>(uri: string, fn: (client: MongoClient) => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    appName: 'mongo-backup',
  });
  try {
    try {
      await client.connect();
    } catch (error) {
      throw unreachable(uri, error);
    }
    return await fn(client);
  } finally {
    await client.close().catch(() => undefined);
  }
}

function unreachable(uri: string, error: unknown): BackupError {
  const message = redactSecrets((error as Error).message ?? String(error));
  if (/auth/i.test(message)) {
    return new BackupError(ErrorCodes.SOURCE_UNREACHABLE, `authentication to ${hostsOf(uri)} failed: ${message}`, {
      hint: 'check the user name and password in the connection string (or MONGODB_URI)',
    });
  }
  return new BackupError(ErrorCodes.SOURCE_UNREACHABLE, `cannot reach MongoDB at ${hostsOf(uri)}: ${message}`, {
    hint: 'check that the server is running and reachable from this host, and the host/port in the URI',
  });
}

export async function serverInfo(uri: string): Promise<ServerInfo> {
  return withClient(uri, async (client) => {
    const info: ServerInfo = { host: hostsOf(uri) };
    try {
      const build = await client.db('admin').command({ buildInfo: 1 });
      if (typeof build.version === 'string') info.serverVersion = build.version;
    } catch {
      /* some compatible servers restrict buildInfo; the version is informational */
    }
    return info;
  });
}

function splitNamespace(ns: string): { db: string; coll: string } | undefined {
  const dot = ns.indexOf('.');
  return dot > 0 ? { db: ns.slice(0, dot), coll: ns.slice(dot + 1) } : undefined;
}

/** How long one count may take on the server before the restore gives up on it. */
const COUNT_TIMEOUT_MS = 600_000;

/**
 * Document counts after a restore, checked against what the archive holds. The collection's own
 * count (estimatedDocumentCount: metadata, instant even for a billion documents) is asked first;
 * only a namespace where it disagrees with `expected` is counted document by document
 * (countDocuments scans the collection), so a metadata count that drifted, orphans on a sharded
 * cluster or a view never cause a false alarm, and the usual case costs no scan at all.
 */
export async function countRestored(uri: string, expected: Record<string, number>): Promise<Record<string, number>> {
  return withClient(uri, async (client) => {
    const counts: Record<string, number> = {};
    for (const [ns, want] of Object.entries(expected)) {
      const quick = await quickCount(client, ns);
      counts[ns] = quick === want ? quick : await exactCount(client, ns);
    }
    return counts;
  });
}

/**
 * Before a restore, over one connection: which namespaces exist (even empty) and their counts.
 * Namespaces that do not exist count 0 without asking. `exact` counts scan the collection (needed
 * when the restore adds to what is there); otherwise the collection's own count is enough (it is
 * only shown, or compared with 0), and a namespace about to be dropped is never scanned.
 */
export async function destinationState(
  uri: string,
  namespaces: string[],
  exact: boolean,
): Promise<{ counts: Record<string, number>; existing: Set<string> }> {
  return withClient(uri, async (client) => {
    const existing = await existingWith(client, namespaces);
    const counts: Record<string, number> = {};
    for (const ns of namespaces) {
      counts[ns] = !existing.has(ns) ? 0 : ((exact ? undefined : await quickCount(client, ns)) ?? (await exactCount(client, ns)));
    }
    return { counts, existing };
  });
}

/**
 * The collection's own count (metadata), or undefined where there is none (a view, a server
 * without it): the caller then counts document by document, once.
 */
async function quickCount(client: MongoClient, ns: string): Promise<number | undefined> {
  const parts = splitNamespace(ns);
  if (!parts) return 0;
  return client
    .db(parts.db)
    .collection(parts.coll)
    .estimatedDocumentCount({ maxTimeMS: COUNT_TIMEOUT_MS })
    .catch(() => undefined);
}

async function exactCount(client: MongoClient, ns: string): Promise<number> {
  const parts = splitNamespace(ns);
  if (!parts) return 0;
  return client.db(parts.db).collection(parts.coll).countDocuments({}, { maxTimeMS: COUNT_TIMEOUT_MS });
}

async function existingWith(client: MongoClient, namespaces: string[]): Promise<Set<string>> {
  const existing = new Set<string>();
  const byDb = new Map<string, string[]>();
  for (const ns of namespaces) {
    const parts = splitNamespace(ns);
    if (parts) byDb.set(parts.db, [...(byDb.get(parts.db) ?? []), ns]);
  }
  for (const [db, names] of byDb) {
    const present = new Set((await client.db(db).listCollections({}, { nameOnly: true }).toArray()).map((c) => `${db}.${c.name}`));
    for (const ns of names) if (present.has(ns)) existing.add(ns);
  }
  return existing;
}

/** Drops the given namespaces; returns those that could not be dropped. */
export async function dropNamespaces(uri: string, namespaces: string[]): Promise<string[]> {
  return withClient(uri, async (client) => {
    const failed: string[] = [];
    for (const ns of namespaces) {
      const parts = splitNamespace(ns);
      if (!parts) continue;
      await client.db(parts.db).collection(parts.coll).drop().catch((error: unknown) => {
        // "ns not found": it was never created, which is what we want.
        if ((error as { codeName?: string }).codeName !== 'NamespaceNotFound') failed.push(ns);
      });
    }
    return failed;
  });
}
