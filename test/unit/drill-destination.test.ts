// Where a drill may restore (docs/REFERENCE.md#drill): never the source's own namespaces, however its address is spelled.
import { describe, expect, it } from 'vitest';
import { drillDestination, sharesAHost } from '../../src/engine/drill.js';
import type { ResolvedConfig } from '../../src/config/load.js';

function configWithSource(uri: string): Pick<ResolvedConfig, 'mongodb'> {
  return { mongodb: { uri } } as Pick<ResolvedConfig, 'mongodb'>;
}

describe('drill destination', () => {
  it.each([
    ['mongodb://127.0.0.1:27017', 'mongodb://localhost'],
    ['mongodb://localhost:27017/admin', 'mongodb://u:p@127.0.0.1/?authSource=admin'],
    ['mongodb://[::1]:27017', 'mongodb://localhost:27017'],
    ['mongodb://a.example:27017,b.example:27017/?replicaSet=rs0', 'mongodb://B.example'],
  ])('%s and %s are the same server: refused without a prefix', (source, uri) => {
    expect(sharesAHost(source, uri)).toBe(true);
    expect(() => drillDestination(configWithSource(source), uri, undefined)).toThrow(/configured source server/);
    expect(drillDestination(configWithSource(source), uri, 'drill_')).toMatchObject({ scratch: false, prefix: 'drill_' });
  });

  it.each([
    ['mongodb://127.0.0.1:27017', 'mongodb://127.0.0.1:27018'],
    ['mongodb://db.example', 'mongodb://scratch.example'],
  ])('%s and %s are different servers: a scratch restore', (source, uri) => {
    expect(sharesAHost(source, uri)).toBe(false);
    expect(drillDestination(configWithSource(source), uri, undefined)).toMatchObject({ uri, scratch: true });
  });
});
