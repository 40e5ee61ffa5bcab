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
 *
 * Ordering, bounded work in flight, back-pressure and cutting the input into frames are shared
 * with parallel gzip (parallel-frames.ts); what is zstd's own is here: its lanes and the splitter.
 */
import * as zlib from 'node:zlib';
import type { Transform, TransformCallback } from 'node:stream';
import { BackupError, ErrorCodes } from '../errors.js';
import {
  OrderedParallelTransform,
  ParallelFrameCompress,
  defaultLanes,
  settle,
  type Job,
  type ParallelCompressOptions,
} from './parallel-frames.js';

/** Compressed bytes handed to a decoding lane per job (a frame's pieces are gathered up to this). */
const DECODE_JOB_BYTES = 1024 * 1024;
/** Output buffer per thread-pool call; bigger means fewer round trips through the main thread. */
const COMPRESS_OUT_CHUNK = 1024 * 1024;
const DECOMPRESS_OUT_CHUNK = 1024 * 1024;

/** A node:zlib zstd stream; `flush(ZSTD_e_end)` ends the current frame. */
type ZstdStream = Transform & { flush(kind: number, callback: (error?: Error | null) => void): void };

/**
 * One node:zlib zstd stream used for a sequence of jobs. Jobs on a lane run one after another (the
 * stream's own write queue), and every output chunk belongs to the oldest unfinished job: node:zlib
 * emits a write's output before it calls that write's callback, and starts the next write's work
 * only after.
 */
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

/** Lanes for one ParallelZstd* stream, each its own long-lived zstd stream. */
function makeLanes(count: number, makeStream: () => ZstdStream, onFailure: (error: Error) => void): Lane[] {
  return Array.from({ length: count }, () => new Lane(makeStream(), onFailure));
}

/** The lane with the least queued work. */
function idlestLane(lanes: Lane[]): Lane {
  let best = lanes[0]!;
  for (const lane of lanes) if (lane.busy < best.busy) best = lane;
  return best;
}

function closeLanes(lanes: Lane[]): void {
  for (const lane of lanes) lane.close();
}

/** Compresses its input into independent zstd frames of FRAME_BYTES, several at once. */
export class ParallelZstdCompress extends ParallelFrameCompress {
  private readonly lanes: Lane[];

  constructor(options: ParallelCompressOptions) {
    super(options);
    const params = {
      [zlib.constants.ZSTD_c_compressionLevel]: options.level,
      [zlib.constants.ZSTD_c_checksumFlag]: 1,
    };
    this.lanes = makeLanes(
      options.lanes ?? defaultLanes(),
      () => zlib.createZstdCompress({ chunkSize: COMPRESS_OUT_CHUNK, params }),
      (error) => this.fail(error),
    );
  }

  protected override compressFrame(input: Buffer, job: Job): void {
    idlestLane(this.lanes).compressFrame(input, job);
  }

  protected override stopWork(): void {
    closeLanes(this.lanes);
  }
}

/** Decodes a stream of zstd frames, several frames at once; the output is the plain stream. */
export class ParallelZstdDecompress extends OrderedParallelTransform {
  private readonly lanes: Lane[];
  private readonly splitter = new ZstdFrameSplitter();
  /** The lane decoding the current frame, and its pieces not yet handed over. */
  private frameLane: Lane | undefined;
  private pieces: Buffer[] = [];
  private piecesBytes = 0;

  constructor(options: { lanes?: number } = {}) {
    const lanes = options.lanes ?? defaultLanes();
    super(lanes);
    this.lanes = makeLanes(lanes, () => zlib.createZstdDecompress({ chunkSize: DECOMPRESS_OUT_CHUNK }), (error) => this.fail(error));
  }

  protected override stopWork(): void {
    closeLanes(this.lanes);
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
      if (piece.frameStart) this.frameLane = idlestLane(this.lanes);
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
