import { describe, expect, it } from 'vitest';
import { Crc64, crc64 } from '../../src/archive/crc64.js';
import { seededRandom } from './archive-fixtures.js';

/** Bit-at-a-time CRC-64/XZ straight from the definition, as an independent reference. */
function referenceCrc64(buf: Uint8Array): bigint {
  const poly = 0xc96c5795d7870f42n;
  const mask = 0xffffffffffffffffn;
  let crc = mask;
  for (const byte of buf) {
    crc ^= BigInt(byte);
    for (let bit = 0; bit < 8; bit++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc ^ mask;
}

function randomBytes(length: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const buf = Buffer.alloc(length);
  for (let i = 0; i < length; i++) buf[i] = Math.floor(random() * 256);
  return buf;
}

describe('Crc64 (CRC-64/XZ, Go hash/crc64 ECMA)', () => {
  it('gives the catalogued check value for "123456789"', () => {
    expect(crc64(Buffer.from('123456789'))).toBe(0x995dc9bbdf1939fan);
  });

  it('is 0 for no input, as in the EOF header of an empty collection', () => {
    expect(new Crc64().digest()).toBe(0n);
    expect(new Crc64().digestSigned()).toBe(0n);
  });

  it('matches the bitwise definition for every length around the 16-byte stride', () => {
    for (let length = 0; length <= 70; length++) {
      const buf = randomBytes(length, length + 1);
      expect(crc64(buf), `length ${length}`).toBe(referenceCrc64(buf));
    }
  });

  it('gives the same result however the input is split, including unaligned views', () => {
    const buf = randomBytes(5000, 42);
    const expected = referenceCrc64(buf);
    const random = seededRandom(7);
    for (let round = 0; round < 20; round++) {
      const crc = new Crc64();
      for (let at = 0; at < buf.length; ) {
        const next = Math.min(buf.length, at + 1 + Math.floor(random() * 300));
        // alternate between start/end arguments and unaligned subarray views
        if (round % 2 === 0) crc.update(buf, at, next);
        else crc.update(buf.subarray(at, next));
        at = next;
      }
      expect(crc.digest()).toBe(expected);
    }
  });

  it('reports the signed value Go stores with int64(Sum64())', () => {
    const crc = new Crc64();
    crc.update(Buffer.from('123456789'));
    expect(crc.digestSigned()).toBe(BigInt.asIntN(64, 0x995dc9bbdf1939fan));
    expect(crc.digestSigned() < 0n).toBe(true);
  });

  it('starts over after reset()', () => {
    const crc = new Crc64();
    crc.update(Buffer.from('something else'));
    crc.reset();
    crc.update(Buffer.from('123456789'));
    expect(crc.digest()).toBe(0x995dc9bbdf1939fan);
  });
});
