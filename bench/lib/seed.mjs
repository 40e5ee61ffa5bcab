// The seed archive: a real `mongodump --archive` of realistic documents, made once with the test
// bed (FerretDB + the mongo-tools mongodump in .peers/bin) and cached in bench/out/. The synthetic
// archives of every size are built from its real namespace blocks (see archive-source.mjs).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, ObjectId } from 'mongodb';
import { benchOut, repoRoot } from './paths.mjs';

/** Bump when the documents change, so an old cached seed is not reused. */
const SEED_VERSION = 1;
export const seedArchivePath = join(benchOut, `seed-v${SEED_VERSION}.archive`);

/** Deterministic PRNG (mulberry32). */
function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Documents shaped like a shop's data (users, orders with nested line items, event logs): text
 * from a vocabulary of pronounceable words with a skewed (Zipf-like) frequency, numbers, dates,
 * ObjectIds, booleans, nested documents and flat arrays — what real collections compress like,
 * unlike random bytes (incompressible) or repeated constants (compress to nothing). FerretDB-safe:
 * no nested arrays, no NaN, no dotted keys.
 */
function documentFactory(seed) {
  const random = seededRandom(seed);
  const int = (n) => Math.floor(random() * n);
  const syllables = ['ka', 'lo', 'mi', 'ra', 'tu', 'sen', 'dor', 'vel', 'an', 'is', 'ber', 'go', 'ni', 'ste', 'pha', 'qua', 'rix', 'mon', 'el', 'tor', 'zu', 'wen', 'fa', 'cle'];
  const vocabulary = Array.from({ length: 4000 }, () => Array.from({ length: 1 + int(4) }, () => syllables[int(syllables.length)]).join(''));
  const word = () => vocabulary[Math.floor(vocabulary.length * random() ** 3)];
  const words = (n) => Array.from({ length: n }, word).join(' ');
  const capital = (w) => w[0].toUpperCase() + w.slice(1);
  const cities = Array.from({ length: 300 }, () => capital(word()));
  const countries = ['DE', 'FR', 'US', 'GB', 'NL', 'SE', 'ES', 'IT', 'PL', 'JP', 'BR', 'CA'];
  const statuses = ['new', 'paid', 'packed', 'shipped', 'delivered', 'returned', 'cancelled'];
  const eventTypes = ['page_view', 'search', 'add_to_cart', 'checkout', 'login', 'logout', 'review', 'wishlist'];
  const base = Date.UTC(2024, 0, 1);
  const date = () => new Date(base + int(730 * 86400) * 1000 + int(1000));
  let counter = int(0xffffff);
  /** Like a driver's ObjectIds: creation time, a per-process random part, an increasing counter. */
  const processPart = Buffer.from(Array.from({ length: 5 }, () => int(256)));
  const objectId = () => {
    const bytes = Buffer.alloc(12);
    bytes.writeUInt32BE(Math.floor(base / 1000) + int(730 * 86400), 0);
    processPart.copy(bytes, 4);
    counter = (counter + 1) & 0xffffff;
    bytes.writeUIntBE(counter, 9, 3);
    return new ObjectId(bytes);
  };
  const userIds = [];

  function user(i) {
    const id = objectId();
    userIds.push(id);
    const first = capital(word());
    const last = capital(word());
    return {
      _id: id,
      username: `${first.toLowerCase()}.${last.toLowerCase()}${int(100)}`,
      email: `${first.toLowerCase()}.${last.toLowerCase()}@${word()}.${['com', 'org', 'net', 'de'][int(4)]}`,
      name: { first, last },
      age: 18 + int(70),
      active: random() < 0.85,
      score: Math.round(random() * 10000) / 100,
      createdAt: date(),
      lastLogin: date(),
      address: { street: `${capital(word())} ${['Street', 'Road', 'Avenue', 'Lane'][int(4)]} ${1 + int(300)}`, city: cities[int(cities.length)], zip: String(10000 + int(89999)), country: countries[int(countries.length)] },
      tags: Array.from({ length: int(5) }, word),
      preferences: { newsletter: random() < 0.4, language: ['en', 'de', 'fr', 'es'][int(4)], theme: random() < 0.5 ? 'dark' : 'light' },
      bio: random() < 0.6 ? words(5 + int(40)) : '',
      loginCount: int(5000),
      seq: i,
    };
  }

  function order(i) {
    const items = Array.from({ length: 1 + int(6) }, () => ({
      sku: `SKU-${100000 + int(20000)}`,
      name: capital(words(1 + int(3))),
      quantity: 1 + int(5),
      price: Math.round(random() * 50000) / 100,
      options: { color: ['red', 'blue', 'black', 'white', 'green'][int(5)], size: ['S', 'M', 'L', 'XL'][int(4)] },
    }));
    const total = items.reduce((sum, item) => sum + item.price * item.quantity, 0);
    return {
      _id: objectId(),
      orderNumber: `ORD-${2024000000 + i}`,
      userId: userIds.length ? userIds[int(userIds.length)] : objectId(),
      status: statuses[int(statuses.length)],
      items,
      total: Math.round(total * 100) / 100,
      currency: 'EUR',
      createdAt: date(),
      updatedAt: date(),
      shipping: { method: ['standard', 'express', 'pickup'][int(3)], city: cities[int(cities.length)], country: countries[int(countries.length)], trackingId: random() < 0.7 ? `TRK${int(1e9)}` : null },
      notes: random() < 0.3 ? words(3 + int(20)) : null,
      gift: random() < 0.1,
    };
  }

  function event(i) {
    return {
      _id: objectId(),
      type: eventTypes[int(eventTypes.length)],
      userId: userIds.length ? userIds[int(userIds.length)] : objectId(),
      at: date(),
      sessionId: `${int(1e9).toString(36)}${int(1e9).toString(36)}`,
      path: `/${word()}/${word()}${random() < 0.5 ? `/${int(10000)}` : ''}`,
      durationMs: int(30000),
      device: { os: ['linux', 'windows', 'macos', 'android', 'ios'][int(5)], browser: ['firefox', 'chrome', 'safari', 'edge'][int(4)], mobile: random() < 0.5 },
      query: random() < 0.3 ? words(1 + int(4)) : undefined,
      seq: i,
    };
  }

  return { user, order, event };
}

/** Bytes of documents to insert per collection (approximate BSON size); about 48 MB in all. */
const COLLECTIONS = [
  { name: 'users', make: 'user', count: 30_000 },
  { name: 'orders', make: 'order', count: 40_000 },
  { name: 'events', make: 'event', count: 80_000 },
];

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts FerretDB (SQLite backend) in `dir`; resolves once it answers ping. */
export async function startFerretDB(dir) {
  const port = await freePort();
  await mkdir(join(dir, 'sqlite'), { recursive: true });
  const child = spawn(join(repoRoot, '.peers/bin/ferretdb'), [
    `--listen-addr=127.0.0.1:${port}`,
    '--handler=sqlite',
    `--sqlite-url=file:${join(dir, 'sqlite')}/`,
    `--state-dir=${dir}`,
    '--telemetry=disable',
    '--debug-addr=-',
    '--log-level=error',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log = (log + d).slice(-4000)));
  const uri = `mongodb://127.0.0.1:${port}/`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ferretdb exited: ${log}`);
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 500 });
    try {
      await client.db('admin').command({ ping: 1 });
      await client.close();
      break;
    } catch {
      await client.close().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`ferretdb did not answer ping within 60 s: ${log}`);
    }
  }
  return {
    uri,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${err}`))));
  });
}

/** Returns the cached seed archive's path, building it first when missing (about a minute). */
export async function ensureSeedArchive(log = console.error) {
  if (existsSync(seedArchivePath)) return seedArchivePath;
  await mkdir(benchOut, { recursive: true });
  const dir = await mkdtemp(join(tmpdir(), 'mongo-backup-bench-seed-'));
  log(`bench: building the seed archive once (FerretDB + mongodump) → ${seedArchivePath}`);
  const server = await startFerretDB(dir);
  try {
    const client = new MongoClient(server.uri);
    try {
      const factory = documentFactory(20260218);
      const db = client.db('shop');
      for (const { name, make, count } of COLLECTIONS) {
        for (let start = 0; start < count; start += 2000) {
          const batch = Array.from({ length: Math.min(2000, count - start) }, (_, i) => factory[make](start + i));
          await db.collection(name).insertMany(batch, { ordered: false });
        }
      }
    } finally {
      await client.close();
    }
    const partial = `${seedArchivePath}.partial`;
    await run(join(repoRoot, '.peers/bin/mongodump'), [`--uri=${server.uri}`, '--db=shop', `--archive=${partial}`, '--quiet']);
    await rename(partial, seedArchivePath);
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  log(`bench: seed archive ready (${((await stat(seedArchivePath)).size / 1e6).toFixed(1)} MB)`);
  return seedArchivePath;
}
