// Bytes in, whole frames out (the format: frame.ts). For every receiver of frames from an untrusted or trusted
// peer: the pool (the supervisor's socket, a worker's direct link), the supervisor (a worker's pipe), the worker
// (its channel).
//
// A payload that lies within one pushed chunk is a zero-copy slice of it. A payload that spans chunks goes into ONE
// buffer of exactly its size, allocated when its header is read: each later chunk is copied into it once (never a
// Buffer.concat of reads). A socket this module reads itself (`socketReader()`, net.Socket's `onread`) reads a
// large payload's bytes straight into that buffer: no copy at all.
//
// It owns the parsing state of one stream, nothing else: it never reads from or closes the stream. Errors: a header
// that declares more than `maxFrame` throws FrameTooLargeError (a ProtocolError) as soon as it is read, before any
// of its payload is buffered. Whatever push() throws (that error, or an exception of the onFrame callback) leaves
// the decoder failed: every later push() throws the same error, and the caller drops the stream.

import type { OnReadOpts } from 'node:net';
import { checkMaxFrame, FrameTooLargeError, HEADER_SIZE } from './frame.js';

/** Receives one whole frame. `payload` may alias the pushed chunk (do not push chunks whose memory is reused). */
export type FrameHandler = (channel: number, payload: Buffer) => void;

export interface FrameDecoderOptions {
  /** Largest accepted payload, in bytes (above 2^32-1, e.g. Number.MAX_SAFE_INTEGER: no limit). Default 64 MiB. */
  maxFrame?: number;
  /** Called for every whole frame, in order, synchronously, before push() returns. */
  onFrame: FrameHandler;
}

const EMPTY = Buffer.alloc(0);
/** The size of a read outside a large payload (Node's own read size). */
const READ_SIZE = 64 * 1024;

export class FrameDecoder {
  readonly maxFrame: number;
  private readonly onFrame: FrameHandler;
  /** A header split across chunks, being collected. */
  private readonly header = Buffer.allocUnsafe(HEADER_SIZE);
  private headerFill = 0;
  /** The payload being assembled (it spans chunks), and how much of it has arrived. */
  private body: Buffer | null = null;
  private bodyFill = 0;
  private channel = 0;
  private failure: Error | null = null;
  /** socketReader(): the buffer handed to the socket for its next read; when it is the tail of `body`, at `readAt`. */
  private readBuffer: Buffer = EMPTY;
  private readIntoBody: Buffer | null = null;
  private readAt = 0;

  constructor(options: FrameDecoderOptions) {
    if (typeof options.onFrame !== 'function') throw new TypeError('FrameDecoder needs an onFrame callback');
    this.maxFrame = checkMaxFrame(options.maxFrame);
    this.onFrame = options.onFrame;
  }

  /** Feeds bytes; delivers the frames they complete before returning. */
  push(chunk: Buffer): void {
    if (this.failure !== null) throw this.failure;
    try {
      this.consume(chunk);
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
  }

  /**
   * The `onread` option for the net.Socket this decoder reads: `new Socket({ fd, onread: decoder.socketReader() })`.
   * Outside a large payload the socket reads into fresh 64 KiB buffers (pushed as chunks); inside one, straight into
   * the payload's own buffer. The socket emits no 'data' then; `onRead` runs after every read (e.g. to start work).
   */
  socketReader(onRead?: () => void): OnReadOpts {
    return {
      buffer: () => this.nextReadBuffer(),
      callback: (bytesRead: number) => {
        if (this.readIntoBody !== null && this.readIntoBody === this.body && this.readAt === this.bodyFill)
          this.bodyRead(bytesRead);
        else this.push(this.readBuffer.subarray(0, bytesRead)); // (also when a push() in between changed the state)
        onRead?.();
        return true;
      },
    };
  }

  private nextReadBuffer(): Buffer {
    const body = this.body;
    if (body !== null && body.length - this.bodyFill >= READ_SIZE) {
      this.readIntoBody = body;
      this.readAt = this.bodyFill;
      this.readBuffer = body.subarray(this.bodyFill);
    } else {
      // a fresh buffer for every read: frames delivered from the last one may be slices of it
      this.readIntoBody = null;
      this.readBuffer = Buffer.allocUnsafe(READ_SIZE);
    }
    return this.readBuffer;
  }

  /** `bytesRead` bytes were read into the tail of `body` (socketReader). */
  private bodyRead(bytesRead: number): void {
    if (this.failure !== null) throw this.failure;
    this.bodyFill += bytesRead;
    if (this.bodyFill < this.body!.length) return;
    try {
      this.deliverBody();
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
  }

  private deliverBody(): void {
    const body = this.body!;
    this.body = null;
    this.bodyFill = 0;
    this.onFrame(this.channel, body);
  }

  private consume(chunk: Buffer): void {
    const n = chunk.length;
    let off = 0;
    while (off < n) {
      const body = this.body;
      if (body !== null) {
        // continuing a payload that spans chunks
        const take = Math.min(body.length - this.bodyFill, n - off);
        chunk.copy(body, this.bodyFill, off, off + take);
        this.bodyFill += take;
        off += take;
        if (this.bodyFill === body.length) this.deliverBody();
      } else if (this.headerFill === 0 && n - off >= HEADER_SIZE) {
        // the header lies in this chunk: the common case
        const length = chunk.readUInt32BE(off);
        const channel = chunk.readUInt32BE(off + 4);
        this.checkLength(length, channel);
        off += HEADER_SIZE;
        if (n - off >= length) {
          const payload = chunk.subarray(off, off + length);
          off += length;
          this.onFrame(channel, payload);
        } else {
          this.startBody(channel, length);
          chunk.copy(this.body!, 0, off);
          this.bodyFill = n - off;
          off = n;
        }
      } else {
        // a header split across chunks
        const take = Math.min(HEADER_SIZE - this.headerFill, n - off);
        chunk.copy(this.header, this.headerFill, off, off + take);
        this.headerFill += take;
        off += take;
        if (this.headerFill === HEADER_SIZE) {
          this.headerFill = 0;
          const length = this.header.readUInt32BE(0);
          const channel = this.header.readUInt32BE(4);
          this.checkLength(length, channel);
          if (length === 0) this.onFrame(channel, EMPTY);
          else this.startBody(channel, length);
        }
      }
    }
  }

  private checkLength(length: number, channel: number): void {
    if (length > this.maxFrame) throw new FrameTooLargeError(length, this.maxFrame, channel);
  }

  private startBody(channel: number, length: number): void {
    // allocUnsafe: every byte is overwritten before the buffer is handed out
    this.body = Buffer.allocUnsafe(length);
    this.bodyFill = 0;
    this.channel = channel;
  }
}
