/**
 * Bodies whose bytes are all in memory (manifests). A stream cannot be rewound, so a save whose
 * body has started to flow cannot be offered again (retry.ts). An in-memory body can: the retry
 * wrapper asks for its bytes and gives each attempt a fresh stream. This matters most for the
 * manifest, written last: a blip then would otherwise throw away a whole finished upload.
 */
import { Readable } from 'node:stream';

const inMemory = new WeakMap<Readable, Buffer>();

/** A body made from bytes in memory, which a retrying target may replay from the start. */
export function bufferBody(data: Buffer): Readable {
  const body = Readable.from([data]);
  inMemory.set(body, data);
  return body;
}

/** The bytes behind a body made by bufferBody(), or undefined for any other stream. */
export function inMemoryBytes(body: Readable): Buffer | undefined {
  return inMemory.get(body);
}
