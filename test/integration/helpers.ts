// Shared by the round-trip, failure and secrets integration tests: a private workspace per test
// file (cwd, state dir, local target, config), the built CLI run as a user runs it
// (`node bin/mongo-backup ...`), private MongoDB servers, and the comparisons a restore is judged by
// (canonical document hashes, index specs).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { BSON, MongoClient, type Document } from 'mongodb';
import { stringify } from 'yaml';
import { freePort, peersBinDir, repoRoot, spawnPeer, stopPeer, waitUntilReady } from '../setup/process.js';
import { peerDataDir, removePeerDataDir, startFerretDB, startMongod, testbed, type MongoPeer, type PeerHandle } from '../setup/testbed.js';

export { repoRoot };
// MONGO_BACKUP_TEST_CLI runs another build of the CLI (e.g. a private `tsc --outDir` copy while
// others rebuild dist/); by default the one the global setup just built.
const cliPath = process.env['MONGO_BACKUP_TEST_CLI'] ?? join(repoRoot, 'bin/mongo-backup');

// ---------------------------------------------------------------------------------------------
// Running the CLI

export interface CliResult {
  code: number;
  stdout: string;
  /** stdout as bytes (what `cat` writes). */
  stdoutBytes: Buffer;
  stderr: string;
  durationMs: number;
  /** stdout parsed as exactly one JSON document (throws, showing the output, if it is not). */
  json<T = Record<string, any>>(): T;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Bytes for stdin; stdin is closed (not a TTY) either way. */
  input?: string | Buffer;
  /** Called once the process is spawned (e.g. to watch its children). */
  onSpawn?: (child: ChildProcess) => void;
}

/** Runs `node bin/mongo-backup ARGS` (this Node, i.e. Node 24) and collects what it prints. */
export function runCli(args: string[], options: RunOptions): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.stdin.on('error', () => undefined); // the CLI may exit without reading stdin
    child.stdin.end(options.input ?? '');
    options.onSpawn?.(child);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const stdoutBytes = Buffer.concat(out);
      const stdout = stdoutBytes.toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({
        code: code ?? (signal ? 128 : -1),
        stdout,
        stdoutBytes,
        stderr,
        durationMs: Date.now() - started,
        json<T>(): T {
          try {
            return JSON.parse(stdout) as T;
          } catch {
            throw new Error(`stdout of "mongo-backup ${args.join(' ')}" is not one JSON document:\n${stdout}\nstderr:\n${stderr}`);
          }
        },
      });
    });
  });
}

/** A readable one-line description of a run, for assertion messages. */
export function describeRun(result: CliResult): string {
  return `exit ${result.code}\nstdout: ${result.stdout.slice(0, 2000)}\nstderr: ${result.stderr.slice(0, 2000)}`;
}

// ---------------------------------------------------------------------------------------------
// A private workspace: the CLI's cwd, config file, state dir, local target and temp dir

export interface Workspace {
  dir: string;
  configFile: string;
  stateDir: string;
  backupsDir: string;
  /** TMPDIR of the CLI (and so of mongodump's 0600 config file). */
  tmpDir: string;
  /** The environment every run gets (a clean one: nothing leaks in from the test runner's). */
  env: NodeJS.ProcessEnv;
  writeConfig(config: Record<string, unknown>): Promise<void>;
  /** Runs the CLI with `--config <configFile>` and the workspace environment (plus `env`). */
  run(args: string[], extra?: { env?: NodeJS.ProcessEnv; input?: string | Buffer; onSpawn?: (child: ChildProcess) => void }): Promise<CliResult>;
  cleanup(): Promise<void>;
}

export interface WorkspaceOptions {
  mongo: MongoPeer;
  /** Extra keys for the config file (merged over the defaults). */
  config?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

export function baseConfig(workspace: { backupsDir: string; stateDir: string }, mongo: MongoPeer): Record<string, unknown> {
  return {
    mongodb: { uri: mongo.uri, mongodump: mongo.mongodump, mongorestore: mongo.mongorestore },
    stateDir: workspace.stateDir,
    targets: [{ name: 'local', type: 'local', path: workspace.backupsDir }],
  };
}

export async function makeWorkspace(options: WorkspaceOptions): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'mongo-backup-it-'));
  const ws: Workspace = {
    dir,
    configFile: join(dir, 'backuprc.yaml'),
    stateDir: join(dir, 'state'),
    backupsDir: join(dir, 'backups'),
    tmpDir: join(dir, 'tmp'),
    env: {},
    writeConfig: (config) => writeFile(ws.configFile, stringify(config)),
    run: (args, extra = {}) =>
      runCli(['--config', ws.configFile, ...args], {
        cwd: dir,
        env: { ...ws.env, ...extra.env },
        ...(extra.input !== undefined ? { input: extra.input } : {}),
        ...(extra.onSpawn ? { onSpawn: extra.onSpawn } : {}),
      }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  await mkdir(ws.tmpDir);
  ws.env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir, TMPDIR: ws.tmpDir, NO_COLOR: '1', ...options.env };
  await ws.writeConfig({ ...baseConfig(ws, options.mongo), ...options.config });
  return ws;
}

/** A fresh random 256-bit key as 64 hex characters. */
export function newKey(): string {
  return randomBytes(32).toString('hex');
}

// ---------------------------------------------------------------------------------------------
// The backups folder, byte for byte

/** Every file under `dir` (relative path → size and SHA-256), to prove a failed run changed nothing. */
export async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const snapshot: Record<string, string> = {};
  if (!existsSync(dir)) return snapshot;
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) {
        snapshot[`${relative(dir, full)}/`] = 'dir';
        await walk(full);
      } else {
        const bytes = await readFile(full);
        snapshot[relative(dir, full)] = `${bytes.length} ${createHash('sha256').update(bytes).digest('hex')}`;
      }
    }
  };
  await walk(dir);
  return snapshot;
}

/** Path of the stored archive object of a backup in a local target. */
export async function storedObjectPath(backupsDir: string, id: string): Promise<string> {
  const names = (await readdir(join(backupsDir, id))).filter((name) => name.startsWith('dump.archive'));
  if (names.length !== 1) throw new Error(`expected one archive object in ${join(backupsDir, id)}, found ${names.join(', ') || 'none'}`);
  return join(backupsDir, id, names[0]!);
}

export async function sha256File(path: string): Promise<string> {
  return `sha256:${createHash('sha256').update(await readFile(path)).digest('hex')}`;
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

// ---------------------------------------------------------------------------------------------
// Private MongoDB servers

/**
 * A private server of the same kind as the shared one (FerretDB, or mongod when the test bed runs
 * on a real mongod), so a test file can dump a whole server without other files' data in it.
 */
export async function startPrivateMongo(): Promise<{ handle: PeerHandle<MongoPeer>; dataDir: string; stop(): Promise<void> }> {
  const dataDir = await peerDataDir('mongo-it');
  const handle = testbed().mongo.kind === 'mongod' ? await startMongod({ dataDir }) : await startFerretDB({ dataDir });
  return {
    handle,
    dataDir,
    stop: async () => {
      await handle.stop();
      await removePeerDataDir(dataDir);
    },
  };
}

export interface AuthMongo {
  uri: string;
  /** The same server without credentials in the URI. */
  host: string;
  user: string;
  password: string;
  stop(): Promise<void>;
}

/**
 * A private FerretDB that checks passwords (SCRAM, its `--test-enable-new-auth` mode, with one user
 * created at start). Unauthenticated requests are refused, so a test using it proves the password
 * really reached mongodump.
 */
export async function startAuthFerretDB(user: string, password: string): Promise<AuthMongo> {
  const binary = join(peersBinDir, 'ferretdb');
  if (!existsSync(binary)) throw new Error(`${binary} is not built: run \`npm run peers\``);
  const dataDir = await peerDataDir('ferretdb-auth');
  const sqliteDir = join(dataDir, 'sqlite');
  await mkdir(sqliteDir, { recursive: true });
  const port = await freePort();
  const spawned = spawnPeer('ferretdb-auth', binary, [
    `--listen-addr=127.0.0.1:${port}`,
    '--handler=sqlite',
    `--sqlite-url=file:${sqliteDir}/`,
    `--state-dir=${dataDir}`,
    '--telemetry=disable',
    '--debug-addr=-',
    '--log-level=warn',
    '--test-enable-new-auth',
    '--setup-database=admin',
    `--setup-username=${user}`,
  ], join(dataDir, 'ferretdb.log'), {
    // Through the environment, not argv: tests scan every process's argv for the password.
    env: { ...process.env, FERRETDB_SETUP_PASSWORD: password },
  });
  const uri = `mongodb://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/`;
  const stop = async (): Promise<void> => {
    await stopPeer(spawned);
    await removePeerDataDir(dataDir);
  };
  try {
    await waitUntilReady(spawned, 'authenticated ping', async () => {
      const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
      try {
        return (await client.db('admin').command({ ping: 1 }))['ok'] === 1;
      } finally {
        await client.close();
      }
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { uri, host: `127.0.0.1:${port}`, user, password, stop };
}

export async function withMongo<T>(uri: string, fn: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/**
 * Whether the server accepts the index option `ns`, which mongorestore always sends when it
 * recreates secondary indexes. MongoDB ignores it; FerretDB v1.24 rejects it ("Index option "ns"
 * is unknown") until the test bed's build is patched, and then every index restore fails.
 */
export async function serverAcceptsIndexNs(uri: string): Promise<boolean> {
  return withMongo(uri, async (client) => {
    const db = client.db('nsprobe');
    try {
      await db.command({ createIndexes: 'probe', indexes: [{ key: { a: 1 }, name: 'a_1', ns: 'nsprobe.probe' }] });
      return true;
    } catch (error) {
      if (/Index option "ns" is unknown/.test((error as Error).message)) return false;
      throw error;
    } finally {
      await db.dropDatabase();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Comparing data: canonical document hashes and index specs

const rawReadOptions = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

function canonical(value: unknown): string {
  return BSON.EJSON.stringify(value as Document, { relaxed: false });
}

/**
 * SHA-256 of the documents in canonical Extended JSON (types kept exact: Int32 ≠ Int64 ≠ Double),
 * sorted by `_id`, so two collections hash equal exactly when they hold the same documents.
 */
export function canonicalHash(docs: Document[]): string {
  const lines = docs.map((doc) => ({ id: canonical({ _id: doc['_id'] }), text: canonical(doc) }));
  lines.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const hash = createHash('sha256');
  for (const line of lines) hash.update(line.text).update('\n');
  return hash.digest('hex');
}

export interface CollectionFingerprint {
  count: number;
  hash: string;
}

/** collection → count and canonical hash, for every collection of `dbName`. */
export async function fingerprintDatabase(uri: string, dbName: string): Promise<Record<string, CollectionFingerprint>> {
  return withMongo(uri, async (client) => {
    const db = client.db(dbName);
    const result: Record<string, CollectionFingerprint> = {};
    for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
      if (name.startsWith('system.')) continue;
      const docs = await db.collection(name).find({}, rawReadOptions).toArray();
      result[name] = { count: docs.length, hash: canonicalHash(docs) };
    }
    return result;
  });
}

export interface IndexSpec {
  name: string;
  key: Document;
  unique?: boolean;
  expireAfterSeconds?: number;
}

/** collection → its indexes (name, key, unique, TTL), sorted by name. */
export async function indexSpecs(uri: string, dbName: string): Promise<Record<string, IndexSpec[]>> {
  return withMongo(uri, async (client) => {
    const db = client.db(dbName);
    const result: Record<string, IndexSpec[]> = {};
    for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
      if (name.startsWith('system.')) continue;
      const indexes = await db.collection(name).listIndexes().toArray();
      result[name] = indexes
        .map((index) => ({
          name: String(index['name']),
          key: index['key'] as Document,
          ...(index['unique'] ? { unique: true } : {}),
          ...(index['expireAfterSeconds'] !== undefined ? { expireAfterSeconds: Number(index['expireAfterSeconds']) } : {}),
        }))
        .sort((a, b) => a.name.localeCompare(b.name));
    }
    return result;
  });
}

/** Document counts of every user collection of the given databases, `{"db.coll": n}`. */
export async function namespaceCounts(uri: string, dbNames: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const dbName of dbNames) {
    for (const [coll, fp] of Object.entries(await fingerprintDatabase(uri, dbName))) counts[`${dbName}.${coll}`] = fp.count;
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// The "every BSON type" dataset

export interface DatasetOptions {
  /** Databases to fill (Latin letters only, for FerretDB). */
  databases: string[];
  /** Collections per database. */
  collectionsPerDb: number;
  /** Documents per collection. */
  documentsPerCollection: number;
  /** Add one document of about 10 MB (to the first database). */
  bigDocument: boolean;
  /** Add indexes: unique and compound everywhere, TTL only on a real mongod. */
  indexes: boolean;
  kind: MongoPeer['kind'];
}

export interface SeededDataset {
  /** `{"db.coll": documentCount}` as the manifest should report it. */
  namespaces: Record<string, number>;
  /** Index names created per "db.coll" (besides _id_). */
  indexes: Record<string, string[]>;
}

const { Binary, BSONRegExp, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, UUID, Code } = BSON;

/**
 * One document with every BSON type the server supports. FerretDB v1.24 lacks Decimal128,
 * MinKey/MaxKey and JavaScript code, nested arrays, NaN/±Infinity and -0; those are only added on a
 * real mongod.
 */
export function everyTypeDocument(n: number, kind: MongoPeer['kind']): Document {
  const doc: Document = {
    _id: new ObjectId(),
    seq: new Int32(n),
    int32: new Int32(-2_147_483_648 + n),
    int64: Long.fromString('9223372036854775807').subtract(Long.fromNumber(n)),
    double: new Double(n + 0.125),
    doubleWhole: new Double(42),
    doubleExtreme: new Double(n % 2 === 0 ? 1.7976931348623157e308 : 5e-324),
    bool: n % 2 === 0,
    nothing: null,
    text: `ligne ${n}: Grüße, Привет, こんにちは, مرحبا, 🎉🧪`,
    empty: '',
    date: new Date(Date.UTC(2026, 1, 18, 10, 30, 0, n)),
    datePre1970: new Date(-86_400_000 * (365 + n)),
    oid: new ObjectId(),
    timestamp: new Timestamp({ t: 1_700_000_000 + n, i: n + 1 }),
    regex: new BSONRegExp(`^item-${n}\\d+$`, 'im'),
    bin0generic: new Binary(randomBytes(32), 0),
    bin1function: new Binary(Buffer.from('function () {}'), 1),
    bin3uuidOld: new Binary(randomBytes(16), 3),
    bin4uuid: new UUID().toBinary(),
    bin5md5: new Binary(createHash('md5').update(String(n)).digest(), 5),
    bin128user: new Binary(randomBytes(8), 128),
    nested: { level1: { level2: { level3: { value: n, label: 'deep' } }, list: [1, 'two', { three: 3 }] } },
    array: [new Int32(n), Long.fromNumber(n), new Double(n), 'x', null, true, new Date(0), { k: 'v' }],
    emptyArray: [],
    emptyDoc: {},
    'ключ 🔑': 'значение',
    '日本語のキー': { 'émoji 🚀': n },
  };
  if (kind === 'mongod') {
    Object.assign(doc, {
      decimal: Decimal128.fromString(`${n}.000000000000000000000000000001`),
      minKey: new MinKey(),
      maxKey: new MaxKey(),
      code: new Code('function () { return 1; }'),
      nestedArray: [[1, 2], [3, [4]]],
      nan: new Double(Number.NaN),
      negativeZero: new Double(-0),
    });
  }
  return doc;
}

/** About 9.9 MB in one document (random bytes, so compression cannot shrink it away). */
export function bigDocument(): Document {
  return { _id: 'big-document', payload: new Binary(randomBytes(9_900_000), 0), note: 'near the 16 MB BSON limit, well above any 1 MiB chunk' };
}

export async function seedEveryTypeDataset(uri: string, options: DatasetOptions): Promise<SeededDataset> {
  const seeded: SeededDataset = { namespaces: {}, indexes: {} };
  await withMongo(uri, async (client) => {
    for (const [dbIndex, dbName] of options.databases.entries()) {
      const db = client.db(dbName);
      for (let c = 0; c < options.collectionsPerDb; c++) {
        const collName = `items${String(c).padStart(2, '0')}`;
        const ns = `${dbName}.${collName}`;
        const docs = Array.from({ length: options.documentsPerCollection }, (_, i) => everyTypeDocument(c * 1000 + i, options.kind));
        // Spread the indexed fields so that unique indexes hold.
        docs.forEach((doc, i) => Object.assign(doc, { sku: `${ns}-${i}`, region: `r${i % 3}`, rank: new Int32(i), expiresAt: new Date(Date.now() + 86_400_000 * 365) }));
        if (docs.length > 0) await db.collection(collName).insertMany(docs);
        else await db.createCollection(collName);
        seeded.namespaces[ns] = docs.length;
        if (options.indexes && c % 4 === 0) {
          const names = [
            await db.collection(collName).createIndex({ sku: 1 }, { unique: true, name: 'sku_unique' }),
            await db.collection(collName).createIndex({ region: 1, rank: -1 }, { name: 'region_rank' }),
          ];
          if (options.kind === 'mongod') names.push(await db.collection(collName).createIndex({ expiresAt: 1 }, { expireAfterSeconds: 3600, name: 'expires_ttl' }));
          seeded.indexes[ns] = names;
        }
      }
      if (dbIndex === 0 && options.bigDocument) {
        await db.collection('big').insertOne(bigDocument());
        seeded.namespaces[`${dbName}.big`] = 1;
      }
    }
  });
  return seeded;
}

// ---------------------------------------------------------------------------------------------
// Polling (never sleeping for a fixed time)

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function pollUntil<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 5));
  }
}

/** The pids of the processes whose parent is `pid` (from /proc). */
export async function childPids(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const status = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the command name (which is in parentheses and may contain spaces): state ppid ...
    const ppid = Number(status.slice(status.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) children.push(Number(entry));
  }
  return children;
}

/** Every process's argv right now (pid → arguments), as `ps` shows it. */
export async function allCommandLines(): Promise<Map<number, string[]>> {
  const lines = new Map<number, string[]>();
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const raw = await readFile(`/proc/${entry}/cmdline`).catch(() => undefined);
    if (raw && raw.length > 0) lines.set(Number(entry), raw.toString('utf8').split('\0').filter((part) => part !== ''));
  }
  return lines;
}
