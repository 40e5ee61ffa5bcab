/**
 * A FIFO of buffers that hands out exact byte counts as lists of slices, so chunking a stream
 * never copies its bytes (the cipher is fed slice by slice).
 */
export class ByteQueue {
  private pieces: Buffer[] = [];
  private bytes = 0;

  get length(): number {
    return this.bytes;
  }

  push(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.bytes += piece.length;
  }

  /** Removes and returns the first `count` bytes (count ≤ length) as slices of the queued buffers. */
  take(count: number): Buffer[] {
    const taken: Buffer[] = [];
    let missing = count;
    while (missing > 0) {
      const head = this.pieces[0]!;
      if (head.length <= missing) {
        taken.push(head);
        this.pieces.shift();
        missing -= head.length;
      } else {
        taken.push(head.subarray(0, missing));
        this.pieces[0] = head.subarray(missing);
        missing = 0;
      }
    }
    this.bytes -= count;
    return taken;
  }

  /** The first `count` bytes (count ≤ length) as one buffer; copies only when they span several pieces. */
  peekContiguous(count: number): Buffer {
    const first = this.pieces[0];
    if (first && first.length >= count) return first.subarray(0, count);
    // Join just enough leading pieces to cover `count`.
    let joinedPieces = 0;
    for (let covered = 0; covered < count; joinedPieces += 1) covered += this.pieces[joinedPieces]!.length;
    const joined = Buffer.concat(this.pieces.slice(0, joinedPieces));
    this.pieces.splice(0, joinedPieces, joined);
    return joined.subarray(0, count);
  }
}

/** Splits slices totalling n bytes into the first n - tail bytes and the last `tail` bytes. */
export function splitTail(pieces: Buffer[], tail: number): { body: Buffer[]; tail: Buffer } {
  const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
  const body: Buffer[] = [];
  const tailParts: Buffer[] = [];
  let offset = 0;
  const cut = total - tail;
  for (const piece of pieces) {
    const end = offset + piece.length;
    if (end <= cut) body.push(piece);
    else if (offset >= cut) tailParts.push(piece);
    else {
      body.push(piece.subarray(0, cut - offset));
      tailParts.push(piece.subarray(cut - offset));
    }
    offset = end;
  }
  return { body, tail: tailParts.length === 1 ? tailParts[0]! : Buffer.concat(tailParts) };
}
