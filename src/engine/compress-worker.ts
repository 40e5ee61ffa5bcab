/**
 * Compression on a worker thread with its own queue. node:zlib already compresses on libuv's
 * thread pool, but a zlib stream runs one job at a time and the next job is submitted by the
 * thread that owns the stream: on the main thread, every pause there (a garbage collection, a
 * burst of hashing) left the compressing core idle. A worker's event loop is not paused by the
 * main thread's garbage collections, and it holds a few MiB of input queued, so the codec — the
 * slowest stage of `create` — runs back to back (docs/PERFORMANCE.md).
 *
 * Bytes in and out are the codec's own: the output is exactly what the in-thread stream makes.
 */
import { Worker } from 'node:worker_threads';
import { Transform, type TransformCallback } from 'node:stream';
import { BackupError, ErrorCodes } from '../errors.js';

export interface WorkerCodecOptions {
  algorithm: 'zstd' | 'gzip';
  /** zlib options for createZstdCompress / createGzip (plain data: it crosses to the worker). */
  options: Record<string, unknown>;
}

/**
 * Input crosses to the worker through a fixed ring of shared slots, copied in once and reused: no
 * buffer is allocated per chunk on either side (transferred buffers were not counted by the
 * receiving thread's garbage collector, and peak memory grew with the dump).
 */
const SLOT_BYTES = 256 * 1024;
const SLOTS = 16;

// CommonJS, evaluated as the worker's whole program: no file to locate at run time (dist/ or src/).
// Output is posted without a transfer list: the main thread allocates (and accounts for) its copy.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const zlib = require('node:zlib');
const slots = Buffer.from(workerData.slots);
const codec = workerData.algorithm === 'zstd' ? zlib.createZstdCompress(workerData.options) : zlib.createGzip(workerData.options);
codec.on('data', (out) => parentPort.postMessage({ type: 'data', chunk: out }));
codec.on('error', (error) => parentPort.postMessage({ type: 'error', message: error.message, code: error.code }));
codec.on('end', () => parentPort.postMessage({ type: 'end' }));
parentPort.on('message', (message) => {
  if (message.type === 'chunk') {
    const start = message.slot * workerData.slotBytes;
    codec.write(slots.subarray(start, start + message.length), () => parentPort.postMessage({ type: 'consumed', slot: message.slot }));
  } else if (message.type === 'end') {
    codec.end();
  }
});
`;

type WorkerMessage =
  | { type: 'data'; chunk: Uint8Array }
  | { type: 'consumed'; slot: number }
  | { type: 'end' }
  | { type: 'error'; message: string; code?: string };

/** A Transform compressing on a worker thread; memory: SLOTS × SLOT_BYTES of input queued there. */
export class WorkerCompressor extends Transform {
  private readonly worker: Worker;
  private readonly slots = new SharedArrayBuffer(SLOTS * SLOT_BYTES);
  private readonly freeSlots = Array.from({ length: SLOTS }, (_, i) => i);
  /** The chunk being copied into slots, how far, and the callback that asks for the next one. */
  private input: Buffer | undefined;
  private inputOffset = 0;
  private pendingInput: TransformCallback | undefined;
  private pendingFlush: TransformCallback | undefined;
  private workerDone = false;

  constructor(codec: WorkerCodecOptions) {
    super();
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ...codec, slots: this.slots, slotBytes: SLOT_BYTES },
      // Its heap holds a few small objects; the data lives in the shared slots and zstd's own memory.
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 },
    });
    this.worker.on('message', (message: WorkerMessage) => this.onMessage(message));
    this.worker.on('error', (error) => this.destroy(error));
    this.worker.on('exit', (code) => {
      if (!this.workerDone && !this.destroyed) this.destroy(new BackupError(ErrorCodes.FAILED, `the compression worker stopped unexpectedly (exit code ${code})`));
    });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.input = chunk;
    this.inputOffset = 0;
    this.pendingInput = callback;
    this.pump();
  }

  override _flush(callback: TransformCallback): void {
    this.pendingFlush = callback;
    this.worker.postMessage({ type: 'end' });
  }

  override _read(size: number): void {
    super._read(size);
    this.pump();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.workerDone = true;
    void this.worker.terminate();
    callback(error);
  }

  /** Copies input into free slots while our output buffer has room; asks for more when done. */
  private pump(): void {
    const input = this.input;
    if (!input || this.destroyed) return;
    while (this.inputOffset < input.length && this.freeSlots.length > 0 && this.readableLength < this.readableHighWaterMark) {
      const slot = this.freeSlots.pop()!;
      const length = Math.min(SLOT_BYTES, input.length - this.inputOffset);
      new Uint8Array(this.slots, slot * SLOT_BYTES, length).set(input.subarray(this.inputOffset, this.inputOffset + length));
      this.inputOffset += length;
      this.worker.postMessage({ type: 'chunk', slot, length });
    }
    if (this.inputOffset < input.length) return;
    const callback = this.pendingInput;
    this.input = undefined;
    this.pendingInput = undefined;
    callback?.();
  }

  private onMessage(message: WorkerMessage): void {
    switch (message.type) {
      case 'data':
        this.push(Buffer.from(message.chunk.buffer, message.chunk.byteOffset, message.chunk.byteLength));
        return;
      case 'consumed':
        this.freeSlots.push(message.slot);
        this.pump();
        return;
      case 'end': {
        this.workerDone = true;
        void this.worker.terminate();
        const flush = this.pendingFlush;
        this.pendingFlush = undefined;
        flush?.();
        return;
      }
      case 'error': {
        const error = Object.assign(new Error(message.message), message.code ? { code: message.code } : {});
        this.destroy(error);
      }
    }
  }
}
