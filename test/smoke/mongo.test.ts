// The MongoDB peer answers the official driver, and the built mongodump/mongorestore round-trip a
// database through --archive, the path every backup and restore takes.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { countDocuments, peerOrSkip, seedDatabase } from '../setup/testbed.js';

function uniqueDbName(prefix: string): string {
  // FerretDB: database names in Latin letters only.
  const letters = Array.from({ length: 8 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
  return `${prefix}${letters}`;
}

/** Runs `mongodump --archive | mongorestore --archive`, resolving with both exit codes and stderr. */
function dumpIntoRestore(dump: string[], restore: string[], tools: { mongodump: string; mongorestore: string }) {
  return new Promise<{ dumpCode: number | null; restoreCode: number | null; stderr: string }>((done, fail) => {
    const dumper = spawn(tools.mongodump, dump, { stdio: ['ignore', 'pipe', 'pipe'] });
    const restorer = spawn(tools.mongorestore, restore, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    dumper.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    restorer.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    dumper.stdout.pipe(restorer.stdin);
    dumper.once('error', fail);
    restorer.once('error', fail);
    let dumpCode: number | null | undefined;
    dumper.once('close', (code) => (dumpCode = code));
    restorer.once('close', (restoreCode) => done({ dumpCode: dumpCode ?? null, restoreCode, stderr }));
  });
}

describe('MongoDB peer', () => {
  it('stores and returns documents through the official driver', async (ctx) => {
    const mongo = peerOrSkip('mongo', ctx);
    const client = new MongoClient(mongo.uri);
    try {
      const collection = client.db(uniqueDbName('smoke')).collection<{ _id: number; name: string; tags: string[] }>('things');
      await collection.insertMany([
        { _id: 1, name: 'first', tags: ['a', 'b'] },
        { _id: 2, name: 'second', tags: [] },
      ]);
      const found = await collection.find({}, { sort: { _id: 1 } }).toArray();
      expect(found).toEqual([
        { _id: 1, name: 'first', tags: ['a', 'b'] },
        { _id: 2, name: 'second', tags: [] },
      ]);
    } finally {
      await client.close();
    }
  });

  it('round-trips a database through mongodump --archive into mongorestore --archive under a new name', async (ctx) => {
    const mongo = peerOrSkip('mongo', ctx);
    const source = uniqueDbName('dumpsrc');
    const destination = uniqueDbName('dumpdst');
    const seeded = await seedDatabase(mongo.uri, source, { orders: 2500, customers: 300, empty: 0 });

    const result = await dumpIntoRestore(
      [`--uri=${mongo.uri}`, `--db=${source}`, '--archive'],
      [`--uri=${mongo.uri}`, '--archive', `--nsFrom=${source}.*`, `--nsTo=${destination}.*`],
      mongo,
    );
    expect(result, result.stderr).toMatchObject({ dumpCode: 0, restoreCode: 0 });

    const restored = await countDocuments(mongo.uri, destination);
    const renamed = Object.fromEntries(Object.entries(seeded).map(([ns, count]) => [ns.replace(`${source}.`, `${destination}.`), count]));
    expect(restored).toEqual(renamed);
    expect(restored[`${destination}.orders`]).toBe(2500);
  });

  it('reports the pinned tools version from mongodump --version', async (ctx) => {
    const mongo = peerOrSkip('mongo', ctx);
    const output = await new Promise<string>((done, fail) => {
      const child = spawn(mongo.mongodump, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.once('error', fail);
      child.once('close', (code) => (code === 0 ? done(text) : fail(new Error(`mongodump --version exited ${code}`))));
    });
    // A manifest records this line; "built-without-version-string" would tell the operator nothing.
    expect(output).toMatch(/^mongodump version: \S+/m);
    expect(output).not.toContain('built-without-version-string');
  });
});
