#!/usr/bin/env node
// `npm run demo`: a real backup → list → verify --deep → restore round trip into ./backups.
// Uses MONGODB_URI when set; otherwise starts the test bed's FerretDB (built by scripts/peers) on a
// free port with its data in a temporary directory, seeds sample data, and stops it at the end.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'bin', 'mongo-backup');
const peersBin = join(root, '.peers', 'bin');

function step(text) {
  console.log(`\n\u001b[1m▶ ${text}\u001b[0m`);
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

async function waitForPort(port, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise((r) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), r(true)));
      socket.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

async function startFerretDb() {
  const binary = join(peersBin, 'ferretdb');
  if (!existsSync(binary)) throw new Error('FerretDB is not built: run "bash scripts/peers" (npm run demo does it for you)');
  const dir = mkdtempSync(join(tmpdir(), 'mongo-backup-demo-'));
  const port = await freePort();
  const child = spawn(
    binary,
    ['--handler=sqlite', `--sqlite-url=file:${dir}/`, `--state-dir=${dir}`, `--listen-addr=127.0.0.1:${port}`, '--debug-addr=-', '--telemetry=disable', '--log-level=error'],
    { stdio: 'ignore' },
  );
  await waitForPort(port);
  return {
    uri: `mongodb://127.0.0.1:${port}/`,
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function seed(uri) {
  const client = new MongoClient(uri);
  await client.connect();
  try {
    const shop = client.db('demoshop');
    await shop.dropDatabase();
    const customers = Array.from({ length: 500 }, (_, i) => ({ _id: i, name: `Customer ${i}`, email: `c${i}@example.org`, since: new Date(Date.UTC(2020, i % 12, 1 + (i % 28))) }));
    const orders = Array.from({ length: 5000 }, (_, i) => ({ customer: i % 500, total: Math.round(i * 137.5) / 100, items: [{ sku: `SKU-${i % 97}`, qty: 1 + (i % 5) }], at: new Date(Date.UTC(2026, 0, 1) + i * 60_000) }));
    await shop.collection('customers').insertMany(customers);
    await shop.collection('orders').insertMany(orders);
    await shop.collection('orders').createIndex({ customer: 1, at: -1 });
    return { customers: customers.length, orders: orders.length };
  } finally {
    await client.close();
  }
}

async function counts(uri, db) {
  const client = new MongoClient(uri);
  await client.connect();
  try {
    const d = client.db(db);
    return { customers: await d.collection('customers').countDocuments(), orders: await d.collection('orders').countDocuments() };
  } finally {
    await client.close();
  }
}

function run(args, env) {
  console.log(`$ mongo-backup ${args.join(' ')}`);
  const result = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', env });
  if (result.status !== 0) throw new Error(`mongo-backup ${args[0]} exited with ${result.status}`);
}

async function main() {
  let server;
  let uri = process.env.MONGODB_URI;
  if (!uri) {
    step('Starting a local MongoDB-compatible server (FerretDB from the test bed)');
    server = await startFerretDb();
    uri = server.uri;
    console.log(`server: ${uri}`);
  }
  const demoDir = join(root, '.demo');
  const keyFile = join(demoDir, 'key');
  try {
    step('Seeding sample data into database "demoshop"');
    console.log(await seed(uri));
    // A demo key kept beside the demo state (never do this in production: keep the key off the backup host's disks you back up).
    if (!existsSync(keyFile)) {
      spawnSync('mkdir', ['-p', demoDir]);
      writeFileSync(keyFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    }
    const config = join(demoDir, 'backuprc.yaml');
    writeFileSync(
      config,
      `# written by npm run demo\nencryption:\n  keyFile: ${keyFile}\ncompression: { algorithm: zstd, level: 3 }\nstateDir: ${join(demoDir, 'state')}\ntargets:\n  - name: local\n    type: local\n    path: ${join(root, 'backups')}\n`,
    );
    // mongodump/mongorestore: the machine's own when installed, else the ones scripts/peers built.
    const env = { ...process.env, MONGODB_URI: uri, PATH: `${process.env.PATH}:${peersBin}` };
    step('Backup: mongodump → inspect → zstd → AES-256-GCM → SHA-256 → ./backups');
    run(['-c', config, 'create', '--description', 'npm run demo'], env);
    step('List');
    run(['-c', config, 'list', '--limit', '5'], env);
    step('Deep verify: decrypt, decompress and parse the whole archive without a server');
    run(['-c', config, 'verify', 'latest', '--deep'], env);
    step('Restore into another database (demoshop → demoshop_restored), then compare counts');
    run(['-c', config, 'restore', 'latest', '--ns-from', 'demoshop.$c$', '--ns-to', 'demoshop_restored.$c$', '--drop'], env);
    const original = await counts(uri, 'demoshop');
    const restored = await counts(uri, 'demoshop_restored');
    console.log(`original: ${JSON.stringify(original)}  restored: ${JSON.stringify(restored)}`);
    if (JSON.stringify(original) !== JSON.stringify(restored)) throw new Error('restored counts differ from the original');
    step(`Done: the backup is in ${join(root, 'backups')}; configuration used: ${config}`);
  } finally {
    server?.stop();
  }
}

main().catch((error) => {
  console.error(`demo failed: ${error.message}`);
  process.exit(1);
});
