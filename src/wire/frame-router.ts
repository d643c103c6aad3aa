// Cut-through routing of frames (the format: frame.ts), for the supervisor's pool -> worker direction: every frame
// on channel k >= 1 is passed on as pieces while its bytes arrive, never buffered (a 64 MiB argument pushed in
// 64 KiB chunks goes out as ~1024 pieces, never held whole); frames on channel 0 are the supervisor's own control
// messages, delivered whole (by a FrameDecoder).
//
// Pieces are the frame's own bytes, header included: writing every piece of a frame, in order, reproduces the frame.
// The first piece of a frame begins with its complete 8-byte header. Pieces are zero-copy slices of the pushed
// chunks, except a header split across chunks: it comes alone, in a fresh 8-byte buffer, before the payload pieces.
//
// It owns the routing state of one stream; it never reads or writes a stream itself. Errors as in FrameDecoder: a
// header over `maxFrame` throws FrameTooLargeError before any of its payload is passed on, and whatever push()
// throws leaves the router failed (every later push() throws it again).

import { FrameDecoder } from './frame-decoder.js';
import { checkMaxFrame, FrameTooLargeError, HEADER_SIZE } from './frame.js';

/** Receives the bytes of a frame on `channel` (>= 1) as they arrive; see the top of this file. */
export type PieceHandler = (channel: number, piece: Buffer) => void;

export interface FrameRouterOptions {
  /** Largest accepted payload, in bytes (above 2^32-1, e.g. Number.MAX_SAFE_INTEGER: no limit). Default 64 MiB. */
  maxFrame?: number;
  /** The pieces of every frame on a channel >= 1. */
  onPiece: PieceHandler;
  /** Every whole frame on channel 0 (the payload: zero-copy when it lies within one chunk). */
  onControlFrame: (payload: Buffer) => void;
}

export class FrameRouter {
  readonly maxFrame: number;
  private readonly onPiece: PieceHandler;
  private readonly control: FrameDecoder;
  /** A header split across chunks, being collected (a fresh buffer for each: it is handed out as a piece). */
  private header = Buffer.allocUnsafe(HEADER_SIZE);
  private headerFill = 0;
  /** Payload bytes of the current frame still to come (0 between frames), and its channel. */
  private remaining = 0;
  private channel = 0;
  private failure: Error | null = null;

  constructor(options: FrameRouterOptions) {
    this.maxFrame = checkMaxFrame(options.maxFrame);
    this.onPiece = options.onPiece;
    this.control = new FrameDecoder({
      maxFrame: this.maxFrame,
      onFrame: (_channel, payload) => options.onControlFrame(payload),
    });
  }

  /** Feeds bytes; passes on the pieces (and delivers the control frames) they hold before returning. */
  push(chunk: Buffer): void {
    if (this.failure !== null) throw this.failure;
    try {
      this.consume(chunk);
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
  }

  private consume(chunk: Buffer): void {
    const n = chunk.length;
    let off = 0;
    while (off < n) {
      if (this.remaining > 0) {
        // inside a payload
        const take = Math.min(this.remaining, n - off);
        this.remaining -= take;
        this.emit(chunk.subarray(off, off + take));
        off += take;
      } else if (this.headerFill === 0 && n - off >= HEADER_SIZE) {
        // the header lies in this chunk: the header and what follows of the payload are one piece
        const length = this.begin(chunk.readUInt32BE(off), chunk.readUInt32BE(off + 4));
        const take = Math.min(length, n - off - HEADER_SIZE);
        this.remaining = length - take;
        this.emit(chunk.subarray(off, off + HEADER_SIZE + take));
        off += HEADER_SIZE + take;
      } else {
        // a header split across chunks
        const take = Math.min(HEADER_SIZE - this.headerFill, n - off);
        chunk.copy(this.header, this.headerFill, off, off + take);
        this.headerFill += take;
        off += take;
        if (this.headerFill === HEADER_SIZE) {
          const header = this.header;
          this.header = Buffer.allocUnsafe(HEADER_SIZE);
          this.headerFill = 0;
          this.remaining = this.begin(header.readUInt32BE(0), header.readUInt32BE(4));
          this.emit(header);
        }
      }
    }
  }

  /** A frame starts: checks its length, returns it. */
  private begin(length: number, channel: number): number {
    if (length > this.maxFrame) throw new FrameTooLargeError(length, this.maxFrame, channel);
    this.channel = channel;
    return length;
  }

  private emit(piece: Buffer): void {
    if (this.channel === 0) this.control.push(piece);
    else this.onPiece(this.channel, piece);
  }
}
