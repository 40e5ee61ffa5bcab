/**
 * zstd on every core: the archive is cut into independent zstd frames of FRAME_BYTES plain bytes,
 * and frames are compressed (and decompressed) on several long-lived node:zlib zstd streams
 * ("lanes") at once, their outputs put back in order. The result is one standard zstd stream —
 * frames concatenated, which every zstd decoder (`zstd -d`, node:zlib) reads as a whole — made by
 * as many thread-pool threads as there are lanes instead of one (docs/PERFORMANCE.md).
 *
 * Frames cost little in size: at level 3 zstd looks back at most 2 MiB, which a 2 MiB frame cannot
 * use across its start (+0.1% stored against one frame on the benchmark's real documents; 1 MiB
 * frames cost +0.8%). 2 MiB frames were also the fastest and smallest in memory of 1, 2 and 4 MiB
 * (docs/PERFORMANCE.md).
 *
 * Reading splits the stream back into frames by their headers (RFC 8878 §3.1) without decoding,
 * so frames can be decoded in parallel too. A stream of one big frame (backups made before frames,
 * or by another tool) is still read, streamed through a single lane.
 */
import * as zlib from 'node:zlib';
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { BackupError, ErrorCodes } from '../errors.js';
import type { BufferPool } from '../streams.js';

/** Plain bytes per frame: big enough to lose almost nothing in ratio, small enough to keep memory flat. */
export const FRAME_BYTES = 2 * 1024 * 1024;
/** Compressed bytes handed to a decoding lane per job (a frame's pieces are gathered up to this). */
const DECODE_JOB_BYTES = 1024 * 1024;
/** Output buffer per thread-pool call; bigger means fewer round trips through the main thread. */
const COMPRESS_OUT_CHUNK = 1024 * 1024;
const DECOMPRESS_OUT_CHUNK = 1024 * 1024;

/**
 * Lanes: one per core, at most 3 so that file and network I/O, which share libuv's pool of 4
 * threads, never queue behind compression jobs.
 */
export function defaultLanes(): number {
  return Math.max(1, Math.min(3, availableParallelism()));
}

interface Job {
  out: Buffer[];
  settled: boolean;
  error?: Error;
  onSettled: () => void;
}

/**
 * One node:zlib zstd stream used for a sequence of jobs. Jobs on a lane run one after another (the
 * stream's own write queue), and every output chunk belongs to the oldest unfinished job: node:zlib
 * emits a write's output before it calls that write's callback, and starts the next write's work
 * only after.
 */
/** A node:zlib zstd stream; `flush(ZSTD_e_end)` ends the current frame. */
type ZstdStream = Transform & { flush(kind: number, callback: (error?: Error | null) => void): void };

class Lane {
  private readonly jobs: Job[] = [];

  constructor(
    private readonly stream: ZstdStream,
    private readonly onFailure: (error: Error) => void,
  ) {
    stream.on('data', (chunk: Buffer) => {
      const job = this.jobs[0];
      if (!job) {
        this.onFailure(new BackupError(ErrorCodes.FAILED, 'zstd produced output outside of any job (internal error)'));
        return;
      }
      job.out.push(chunk);
    });
    stream.on('error', (error: Error) => {
      for (const job of this.jobs.splice(0)) settle(job, error);
      this.onFailure(error);
    });
  }

  get busy(): number {
    return this.jobs.length;
  }

  /** Compresses `input` as one whole frame. */
  compressFrame(input: Buffer, job: Job): void {
    this.jobs.push(job);
    this.stream.write(input);
    this.stream.flush(zlib.constants.ZSTD_e_end, (error?: Error | null) => this.finish(job, error));
  }

  /** Decodes the next piece of a frame; the piece's output is complete when the job settles. */
  decode(input: Buffer, job: Job): void {
    this.jobs.push(job);
    this.stream.write(input, (error?: Error | null) => this.finish(job, error));
  }

  private finish(job: Job, error?: Error | null): void {
    if (this.jobs[0] !== job) return; // already failed and settled
    if (error) {
      for (const pending of this.jobs.splice(0)) settle(pending, error);
      this.onFailure(error);
      return;
    }
    this.jobs.shift();
    settle(job);
  }

  close(): void {
    this.stream.destroy();
  }
}

function settle(job: Job, error?: Error): void {
  if (job.settled) return;
  job.settled = true;
  if (error) job.error = error;
  job.onSettled();
}

/**
 * Jobs spread over lanes, their outputs pushed in submission order. At most `maxInFlight` jobs are
 * queued, and no input is taken while the readable side holds a high-water mark of output; beyond
 * that the writable side waits, which is the back-pressure towards the source.
 */
abstract class ParallelZstd extends Transform {
  protected readonly lanes: Lane[];
  private readonly queue: Job[] = [];
  private readonly maxInFlight: number;
  private waitingWrite: (() => void) | undefined;
  private waitingFlush: TransformCallback | undefined;
  /** The last push filled the readable side: no more input until the consumer reads (_read). */
  private outputFull = false;
  private failed = false;

  constructor(makeStream: () => ZstdStream, lanes: number) {
    super({ readableHighWaterMark: FRAME_BYTES, writableHighWaterMark: FRAME_BYTES });
    this.lanes = Array.from({ length: lanes }, () => new Lane(makeStream(), (error) => this.fail(error)));
    this.maxInFlight = lanes + 1;
  }

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

  /** The lane with the least queued work. */
  protected idlestLane(): Lane {
    let best = this.lanes[0]!;
    for (const lane of this.lanes) if (lane.busy < best.busy) best = lane;
    return best;
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
      this.closeLanes();
      callback();
    }
  }

  protected fail(error: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.closeLanes();
    this.destroy(this.mapError(error));
  }

  protected mapError(error: Error): Error {
    return error;
  }

  private closeLanes(): void {
    for (const lane of this.lanes) lane.close();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.failed = true;
    this.closeLanes();
    callback(error);
  }
}

export interface ParallelCompressOptions {
  level: number;
  lanes?: number;
  /** Where input buffers come from (the Batcher); they go back once compressed. */
  pool?: BufferPool;
}

/** Compresses its input into independent zstd frames of FRAME_BYTES, several at once. */
export class ParallelZstdCompress extends ParallelZstd {
  private frame: Buffer | undefined;
  private filled = 0;
  private submitted = false;
  private readonly pool: BufferPool | undefined;

  constructor(options: ParallelCompressOptions) {
    const params = {
      [zlib.constants.ZSTD_c_compressionLevel]: options.level,
      [zlib.constants.ZSTD_c_checksumFlag]: 1,
    };
    super(() => zlib.createZstdCompress({ chunkSize: COMPRESS_OUT_CHUNK, params }), options.lanes ?? defaultLanes());
    this.pool = options.pool;
  }

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
    // Zero bytes are not a zstd stream (`zstd -d` and node:zlib reject them): empty input still
    // makes one frame, an empty one.
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
    this.idlestLane().compressFrame(input, job);
  }
}

/** Decodes a stream of zstd frames, several frames at once; the output is the plain stream. */
export class ParallelZstdDecompress extends ParallelZstd {
  private readonly splitter = new ZstdFrameSplitter();
  /** The lane decoding the current frame, and its pieces not yet handed over. */
  private frameLane: Lane | undefined;
  private pieces: Buffer[] = [];
  private piecesBytes = 0;

  constructor(options: { lanes?: number } = {}) {
    super(() => zlib.createZstdDecompress({ chunkSize: DECOMPRESS_OUT_CHUNK }), options.lanes ?? defaultLanes());
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let pieces: FramePiece[];
    try {
      pieces = this.splitter.feed(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.submitFrom(pieces, 0, callback);
  }

  /**
   * Hands pieces to lanes while the queue has room. One input chunk may hold many small frames
   * (1 MiB of highly compressible data is dozens of frames, each 4 MiB decoded): the rest of the
   * chunk waits for room like a new write would.
   */
  private submitFrom(pieces: FramePiece[], from: number, callback: TransformCallback): void {
    for (let i = from; i < pieces.length; i++) {
      if (i > from && this.full()) {
        this.continueAfter(() => this.submitFrom(pieces, i, callback));
        return;
      }
      const piece = pieces[i]!;
      if (piece.frameStart) this.frameLane = this.idlestLane();
      this.pieces.push(piece.data);
      this.piecesBytes += piece.data.length;
      if (piece.frameEnd || this.piecesBytes >= DECODE_JOB_BYTES) this.submitPieces();
      if (piece.frameEnd) this.frameLane = undefined;
    }
    this.continueAfter(callback);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.splitter.atFrameBoundary()) {
      callback(truncated());
      return;
    }
    this.finishAfterQueue(callback);
  }

  private submitPieces(): void {
    const input = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.piecesBytes);
    this.pieces = [];
    this.piecesBytes = 0;
    this.frameLane!.decode(input, this.newJob());
  }
}

function truncated(): BackupError {
  return new BackupError(ErrorCodes.ARCHIVE_CORRUPT, 'the zstd-compressed data ends in the middle of a frame (truncated)', {
    hint: 'the stored object is damaged or incomplete; restore from another copy (--from) or another backup',
  });
}

function notZstd(detail: string): BackupError {
  return new BackupError(ErrorCodes.ARCHIVE_CORRUPT, `the zstd-compressed data is damaged (${detail})`, {
    hint: 'the stored object is damaged or incomplete; restore from another copy (--from) or another backup',
  });
}

export interface FramePiece {
  /** A view of the input chunk (no copy). */
  data: Buffer;
  frameStart: boolean;
  frameEnd: boolean;
}

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

type SplitState = 'magic' | 'frameHeader' | 'blockHeader' | 'blockBody' | 'checksum' | 'skippableSize' | 'skippableBody';

/**
 * Finds zstd frame boundaries without decoding (RFC 8878 §3.1.1): magic, frame header, blocks
 * (3-byte headers giving each block's stored size), optional 4-byte checksum. Skippable frames are
 * dropped. Headers may be split across chunks; the frames' bytes are returned as views.
 */
export class ZstdFrameSplitter {
  private state: SplitState = 'magic';
  /** Bytes of the field being read (headers are at most 14 bytes). */
  private readonly field = Buffer.alloc(14);
  private fieldFill = 0;
  private fieldNeed = 4;
  private remaining = 0;
  private lastBlock = false;
  private hasChecksum = false;
  private inFrame = false;

  atFrameBoundary(): boolean {
    return this.state === 'magic' && this.fieldFill === 0;
  }

  feed(chunk: Buffer): FramePiece[] {
    const pieces: FramePiece[] = [];
    let at = 0;
    let pieceStart = 0;
    let pieceIsFrameStart = false;
    const emit = (end: number, frameEnd: boolean): void => {
      if (end > pieceStart || frameEnd) pieces.push({ data: chunk.subarray(pieceStart, end), frameStart: pieceIsFrameStart, frameEnd });
      pieceStart = end;
      pieceIsFrameStart = false;
    };
    while (at < chunk.length) {
      if (this.state === 'blockBody' || this.state === 'skippableBody') {
        const take = Math.min(this.remaining, chunk.length - at);
        at += take;
        this.remaining -= take;
        if (this.remaining === 0) {
          if (this.state === 'skippableBody') {
            this.state = 'magic';
            this.expect(4);
            pieceStart = at; // skippable frames are not passed on
          } else {
            if (this.afterBlock()) emit(at, true);
          }
        }
        continue;
      }
      const take = Math.min(this.fieldNeed - this.fieldFill, chunk.length - at);
      chunk.copy(this.field, this.fieldFill, at, at + take);
      this.fieldFill += take;
      at += take;
      if (this.fieldFill < this.fieldNeed) break;
      switch (this.state) {
        case 'magic': {
          const magic = this.field.readUInt32LE(0);
          if (magic === ZSTD_MAGIC) {
            this.inFrame = true;
            this.state = 'frameHeader';
            this.expect(1);
            // The frame begins at its magic, which may lie partly in an earlier chunk.
            const startInChunk = at - 4;
            if (startInChunk >= pieceStart) {
              pieceStart = startInChunk;
              pieceIsFrameStart = true;
            } else {
              pieces.push({ data: Buffer.from(this.field.subarray(0, 4 - at)), frameStart: true, frameEnd: false });
              pieceStart = 0;
              pieceIsFrameStart = false;
            }
          } else if (((magic & SKIPPABLE_MAGIC_MASK) >>> 0) === SKIPPABLE_MAGIC) {
            this.state = 'skippableSize';
            this.expect(4);
          } else {
            throw notZstd('no zstd frame where one should begin');
          }
          break;
        }
        case 'frameHeader':
          this.readFrameHeader();
          break;
        case 'blockHeader': {
          const header = this.field[0]! | (this.field[1]! << 8) | (this.field[2]! << 16);
          this.lastBlock = (header & 1) === 1;
          const type = (header >> 1) & 3;
          const size = header >>> 3;
          if (type === 3) throw notZstd('reserved block type');
          this.remaining = type === 1 ? 1 : size;
          this.state = 'blockBody';
          if (this.remaining === 0) {
            if (this.afterBlock()) emit(at, true);
          }
          break;
        }
        case 'checksum':
          this.endFrame();
          emit(at, true);
          break;
        case 'skippableSize':
          this.remaining = this.field.readUInt32LE(0);
          this.state = 'skippableBody';
          if (this.remaining === 0) {
            this.state = 'magic';
            this.expect(4);
            pieceStart = at;
          }
          break;
        default:
          break;
      }
    }
    if (this.inFrame) emit(chunk.length, false);
    else pieceStart = chunk.length;
    return pieces;
  }

  private expect(bytes: number): void {
    this.fieldFill = 0;
    this.fieldNeed = bytes;
  }

  /** The frame header descriptor came in; then its full length is known (RFC 8878 §3.1.1.1). */
  private readFrameHeader(): void {
    const descriptor = this.field[0]!;
    if (this.fieldNeed === 1) {
      const fcsFlag = descriptor >> 6;
      const singleSegment = (descriptor >> 5) & 1;
      const dictFlag = descriptor & 3;
      if (descriptor & 0x08) throw notZstd('reserved bit set in a frame header');
      this.hasChecksum = ((descriptor >> 2) & 1) === 1;
      const fcsBytes = fcsFlag === 0 ? singleSegment : 1 << fcsFlag;
      const rest = (singleSegment ? 0 : 1) + [0, 1, 2, 4][dictFlag]! + fcsBytes;
      if (rest > 0) {
        this.fieldNeed = 1 + rest;
        return;
      }
    }
    this.state = 'blockHeader';
    this.expect(3);
  }

  /** After a block: the next block, the checksum, or the frame's end (returns true then). */
  private afterBlock(): boolean {
    if (!this.lastBlock) {
      this.state = 'blockHeader';
      this.expect(3);
    } else if (this.hasChecksum) {
      this.state = 'checksum';
      this.expect(4);
    } else {
      this.endFrame();
      return true;
    }
    return false;
  }

  private endFrame(): void {
    this.state = 'magic';
    this.inFrame = false;
    this.expect(4);
  }
}
