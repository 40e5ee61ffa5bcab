/**
 * What parallel zstd (zstd-frames.ts) and parallel gzip (gzip-members.ts) share: the archive cut
 * into frames of FRAME_BYTES plain bytes, each compressed on its own on libuv's thread pool,
 * several at once, and the compressed frames pushed out in input order, with a bounded number of
 * frames in flight and back-pressure from a slow consumer.
 *
 * The codecs differ only in how one frame is compressed: zstd keeps one long-lived stream per lane
 * and ends a frame in it; gzip makes one complete gzip member per frame in a one-shot call.
 * Concatenated zstd frames are one zstd stream and concatenated gzip members one gzip file, so
 * either output is read by any standard decoder as a whole.
 */
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import type { BufferPool } from '../streams.js';

/** Plain bytes per frame: big enough to lose almost nothing in ratio, small enough to keep memory flat. */
export const FRAME_BYTES = 2 * 1024 * 1024;

/**
 * Lanes (frames compressed at once): one per core, at most 3 so that file and network I/O, which
 * share libuv's pool of 4 threads, never queue behind compression jobs.
 */
export function defaultLanes(): number {
  return Math.max(1, Math.min(3, availableParallelism()));
}

/** One unit of work (a frame, or a piece of one when decoding) and the output it produced. */
export interface Job {
  out: Buffer[];
  settled: boolean;
  error?: Error;
  onSettled: () => void;
}

/** Marks a job done (once); its output, or its error, is then ready to be taken in order. */
export function settle(job: Job, error?: Error): void {
  if (job.settled) return;
  job.settled = true;
  if (error) job.error = error;
  job.onSettled();
}

/**
 * Jobs run in parallel, their outputs pushed in submission order. At most `lanes + 1` jobs are
 * queued (one more than can run, so a lane finds its next job waiting), and no input is taken
 * while the readable side holds a high-water mark of output; beyond that the writable side waits,
 * which is the back-pressure towards the source. Subclasses start the jobs and say how to stop
 * their work (`stopWork`).
 */
export abstract class OrderedParallelTransform extends Transform {
  private readonly queue: Job[] = [];
  private readonly maxInFlight: number;
  private waitingWrite: (() => void) | undefined;
  private waitingFlush: TransformCallback | undefined;
  /** The last push filled the readable side: no more input until the consumer reads (_read). */
  private outputFull = false;
  private failed = false;

  constructor(lanes: number) {
    super({ readableHighWaterMark: FRAME_BYTES, writableHighWaterMark: FRAME_BYTES });
    this.maxInFlight = lanes + 1;
  }

  /**
   * Stops every lane: called once the last job is out, on failure and on destroy. Work already
   * on the thread pool may finish, but its result must be dropped and nothing new started.
   */
  protected abstract stopWork(): void;

  /** A new job at the end of the queue; `release` runs once the lane is done with the input. */
  protected newJob(release?: () => void): Job {
    const job: Job = {
      out: [],
      settled: false,
      onSettled: () => {
        release?.();
        this.drain();
      },
    };
    this.queue.push(job);
    return job;
  }

  /** Call at the end of _transform: accept more input now, or once the queue and the output have room. */
  protected continueAfter(callback: () => void): void {
    if (this.full()) this.waitingWrite = callback;
    else callback();
  }

  /**
   * Output is pushed when jobs finish, after _transform has returned, so Transform's own check
   * (did this write push past the high-water mark?) never holds input back: without `outputFull`
   * a consumer slower than the lanes would let output pile up without bound.
   */
  protected full(): boolean {
    return this.queue.length >= this.maxInFlight || this.outputFull;
  }

  /**
   * The consumer wants more: input held back for a full output buffer may come in. Transform's
   * _read goes last: it completes a write whose callback came while the buffer was still full.
   */
  override _read(size: number): void {
    this.outputFull = false;
    this.drain();
    super._read(size);
  }

  protected finishAfterQueue(callback: TransformCallback): void {
    this.waitingFlush = callback;
    this.drain();
  }

  private drain(): void {
    if (this.failed) return;
    while (this.queue[0]?.settled) {
      const job = this.queue.shift()!;
      if (job.error) {
        this.fail(job.error);
        return;
      }
      for (const chunk of job.out) if (!this.push(chunk)) this.outputFull = true;
    }
    if (this.waitingWrite && !this.full()) {
      const callback = this.waitingWrite;
      this.waitingWrite = undefined;
      callback();
    }
    if (this.waitingFlush && this.queue.length === 0) {
      const callback = this.waitingFlush;
      this.waitingFlush = undefined;
      this.stopWork();
      callback();
    }
  }

  protected fail(error: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.stopWork();
    this.destroy(this.mapError(error));
  }

  protected mapError(error: Error): Error {
    return error;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.failed = true;
    this.stopWork();
    callback(error);
  }
}

export interface ParallelCompressOptions {
  level: number;
  lanes?: number;
  /** Where input buffers come from (the Batcher); they go back once compressed. */
  pool?: BufferPool;
}

/**
 * Cuts its input into frames of FRAME_BYTES plain bytes (the last one shorter) and hands each to
 * `compressFrame` as soon as it is whole. Batches of exactly FRAME_BYTES (the Batcher's) are
 * compressed in place; other chunks are copied into frames taken from the pool.
 */
export abstract class ParallelFrameCompress extends OrderedParallelTransform {
  private frame: Buffer | undefined;
  private filled = 0;
  private submitted = false;
  private readonly pool: BufferPool | undefined;

  constructor(options: ParallelCompressOptions) {
    super(options.lanes ?? defaultLanes());
    this.pool = options.pool;
  }

  /** Starts compressing `input` as one whole, independent frame; settles `job` with its output. */
  protected abstract compressFrame(input: Buffer, job: Job): void;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.filled === 0 && chunk.length === FRAME_BYTES) {
      // A whole frame from the Batcher: compressed in place, no copy.
      this.submit(chunk);
    } else {
      let at = 0;
      while (at < chunk.length) {
        this.frame ??= this.pool?.take() ?? Buffer.allocUnsafe(FRAME_BYTES);
        const copied = chunk.copy(this.frame, this.filled, at);
        this.filled += copied;
        at += copied;
        if (this.filled === FRAME_BYTES) this.submitFrame();
      }
      this.pool?.give(chunk);
    }
    this.continueAfter(callback);
  }

  override _flush(callback: TransformCallback): void {
    if (this.filled > 0) this.submitFrame();
    // Zero bytes are neither a zstd stream nor a gzip file (decoders reject them, and restore
    // decompresses whatever was stored): empty input still makes one frame, an empty one.
    else if (!this.submitted) this.submit(Buffer.alloc(0));
    this.finishAfterQueue(callback);
  }

  private submitFrame(): void {
    const frame = this.frame!;
    this.submit(this.filled === FRAME_BYTES ? frame : frame.subarray(0, this.filled), frame);
    this.frame = undefined;
    this.filled = 0;
  }

  private submit(input: Buffer, owner: Buffer = input): void {
    this.submitted = true;
    const job = this.newJob(() => this.pool?.give(owner));
    this.compressFrame(input, job);
  }
}
