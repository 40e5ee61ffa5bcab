/**
 * gzip on every core (as pigz does): the archive is cut into frames of FRAME_BYTES plain bytes and
 * each frame becomes one complete gzip member (header, deflate data, CRC-32 and length), made by a
 * one-shot `zlib.gzip` call on libuv's thread pool, several at once; members are written in input
 * order. Concatenated members are one valid gzip file (RFC 1952 §2.2): `gzip -d` and node's
 * `createGunzip` read them all, so restore's single-stream decoder is unchanged and backups made
 * before members (one big member) read as before.
 *
 * A member cannot refer back past its own start, but deflate looks back only 32 KiB, so 2 MiB
 * members lose almost nothing (+0.2% stored on the benchmark's documents, docs/PERFORMANCE.md).
 *
 * Unlike zstd's lanes, a member needs no long-lived stream: one-shot calls are independent, so a
 * lane is just permission for one more member on the thread pool, and whichever lane frees up
 * first takes the next waiting frame. (A long-lived stream per lane, `reset()` after each member,
 * measured the same: a fresh deflate state per 2 MiB costs nothing next to compressing them.)
 * Ordering, back-pressure and frame cutting come from parallel-frames.ts.
 */
import * as zlib from 'node:zlib';
import { ParallelFrameCompress, defaultLanes, settle, type Job, type ParallelCompressOptions } from './parallel-frames.js';

/**
 * Output buffer of one member's call. A member of 2 MiB of documents is ~0.5 MiB, so 1 MiB holds it
 * whole: two thread-pool round trips (the data, then the member's end). zlib's 16 KiB default
 * would take ~35, each a pause for the compressing thread until the main thread gets to it.
 */
const MEMBER_OUT_CHUNK = 1024 * 1024;

interface WaitingFrame {
  input: Buffer;
  job: Job;
}

/** Compresses its input into independent gzip members of FRAME_BYTES plain bytes, several at once. */
export class ParallelGzipCompress extends ParallelFrameCompress {
  private readonly level: number;
  /** Members compressing at once (the lanes). */
  private readonly concurrentMembers: number;
  /** Frames submitted while every lane was busy, oldest first. */
  private readonly waiting: WaitingFrame[] = [];
  private compressing = 0;
  /** After the end, a failure or destroy: results still coming from the thread pool are dropped. */
  private stopped = false;

  constructor(options: ParallelCompressOptions) {
    super(options);
    this.level = options.level;
    this.concurrentMembers = options.lanes ?? defaultLanes();
  }

  protected override compressFrame(input: Buffer, job: Job): void {
    this.waiting.push({ input, job });
    this.startWaiting();
  }

  protected override stopWork(): void {
    this.stopped = true;
    this.waiting.length = 0;
  }

  private startWaiting(): void {
    while (!this.stopped && this.compressing < this.concurrentMembers && this.waiting.length > 0) {
      this.compressMember(this.waiting.shift()!);
    }
  }

  private compressMember({ input, job }: WaitingFrame): void {
    this.compressing++;
    zlib.gzip(input, { level: this.level, chunkSize: MEMBER_OUT_CHUNK }, (error: Error | null, member: Buffer) => {
      this.compressing--;
      if (this.stopped) return;
      if (error) {
        settle(job, error);
        this.fail(error);
        return;
      }
      // The next frame goes to the thread pool before this member is pushed on: pushing may run
      // the downstream stages (encryption, hashing) synchronously, and the lane should not wait.
      this.startWaiting();
      job.out.push(member);
      settle(job);
    });
  }
}
