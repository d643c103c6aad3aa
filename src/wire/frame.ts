// Framing for the one AF_UNIX stream between the pool and the supervisor, and for the pipes between the
// supervisor and its workers.
//
//   frame := [u32 BE payloadLength][u32 BE channel][payloadLength bytes of payload]
//
// Channel 0 is the supervisor's control channel; channel k >= 1 is worker k. The supervisor never decodes
// payloads: it forwards pool->worker frames verbatim and rewrites the channel field, in place, of
// worker->pool frames. The header layout is therefore fixed: 8 bytes, length first, channel second.
//
// What is here, and who uses it:
//
//   FrameDecoder  bytes in, whole frames out: `onFrame(channel, payload)`. For the pool (socket) and the
//                 worker (its pipe from the supervisor). A payload is a zero-copy slice of the pushed chunk
//                 when the frame lies within one chunk; a frame that spans chunks is copied, once, into a
//                 buffer of exactly its payload size, allocated when its header arrives (O(n) in total).
//
//   FrameRouter   cut-through for the supervisor: `onPiece(channel, piece, frameStart, frameEnd, length)`
//                 as bytes arrive, never buffering a payload. Pieces are the frame's own bytes, header
//                 included: writing every piece of a frame, in order, reproduces the frame. The first
//                 piece of a frame (frameStart) always begins with the complete 8-byte header, so a relay
//                 can route on `channel` and patch the header there. Pieces are zero-copy slices of the
//                 pushed chunks, except a header that was split across chunks: it is delivered alone, in
//                 a fresh 8-byte buffer, followed by the payload pieces. With `onControlFrame`, frames on
//                 channel 0 are not relayed but assembled and delivered whole (the supervisor's own
//                 messages). `stampChannel` rewrites the channel field of every relayed frame (in the
//                 pushed chunk itself when the header lies in it: the caller's buffer is modified), and
//                 onPiece's `channel` is then the stamped one.
//                   pool -> worker:   new FrameRouter({ onPiece: (ch, piece) => workers.get(ch)?.writer.writeRaw(piece),
//                                                       onControlFrame: (payload) => onControl(decode(payload)) })
//                   worker k -> pool: new FrameRouter(mux.input().onPiece, { stampChannel: k })    (cut-through)
//                               or:   new FrameDecoder((_, p) => toPool.write(k, p))   (store-and-forward: whole
//                                     frames, simpler, but a worker's 64 MiB result is held whole once)

//   FrameMux      many cut-through sources (one FrameRouter per worker pipe) onto one FrameWriter without
//                 interleaving two frames: while one source is in the middle of a frame, the pieces of the
//                 others are queued (input.queuedBytes says how much; pause that pipe when it grows).
//                 Queued frames go out in the order their first piece arrived. `input.abort()` when a
//                 source ends in the middle of a frame: the rest of that frame is written as zero bytes so
//                 the stream stays framed (the receiver gets a payload that does not decode, on that
//                 worker's channel only).
//
//   FrameWriter   frames out over a Writable (net.Socket, pipe). Small frames written in the same tick are
//                 copied into one buffer and go out in ONE stream.write(); a payload of `largePayload` bytes
//                 or more (64 KiB) is written by reference after its header (cork/uncork: one writev), never
//                 copied. Backpressure: write() returns false like stream.write(); `needDrain`, `drain()`.
//                 A destroyed or ended stream drops frames silently (counted in `droppedBytes`), it never throws.
//
// Errors. A frame whose declared length exceeds `maxFrame` makes FrameDecoder/FrameRouter.push() THROW a
// FrameTooLargeError (a ProtocolError) as soon as the header is read, before any of its payload is
// buffered or forwarded; the decoder is unusable afterwards (every later push() throws the same error).
// If the onFrame/onPiece callback throws, the exception propagates out of push(), and the decoder stays
// consistent: the bytes of that chunk after the frame (or piece) being delivered are kept and delivered
// at the start of the next push() (push(Buffer.alloc(0)) to deliver them without new bytes).
// At the end of the stream call end(): it throws a ProtocolError if a frame was cut short.

import type { Writable } from 'node:stream';
import { named, ProtocolError, type UnitPoolErrorOptions } from '../errors.js';

/** Bytes in a frame header: u32 BE payload length, u32 BE channel. */
export const HEADER_SIZE = 8;
/** Default limit on a frame's payload: 64 MiB. */
export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;
/** The largest payload the header can express (u32). */
export const MAX_FRAME_LIMIT = 0xffffffff;
/** The largest channel number (u32). */
export const MAX_CHANNEL = 0xffffffff;
/** Payloads this large or larger are written by reference, not copied, by FrameWriter. */
export const DEFAULT_LARGE_PAYLOAD = 64 * 1024;

/** A frame header declared a payload longer than the receiver accepts. Code `ERR_UNITPOOL_PROTOCOL`. */
export class FrameTooLargeError extends ProtocolError {
  static {
    named(this, 'FrameTooLargeError');
  }
  /** The payload length the header declared. */
  readonly length: number;
  /** The limit in force (`maxFrame`). */
  readonly max: number;
  /** The channel the frame was on. */
  readonly channel: number;

  constructor(length: number, max: number, channel: number, options: UnitPoolErrorOptions = {}) {
    super(
      `frame on channel ${channel} declares a payload of ${length} bytes, more than the limit of ${max} bytes (maxFrame)`,
      options,
    );
    this.length = length;
    this.max = max;
    this.channel = channel;
  }
}

const EMPTY = Buffer.alloc(0);

function checkMaxFrame(maxFrame: number | undefined): number {
  if (maxFrame === undefined) return DEFAULT_MAX_FRAME;
  if (typeof maxFrame !== 'number' || !(maxFrame >= 0)) {
    throw new RangeError(`maxFrame must be a number of bytes >= 0, got ${String(maxFrame)}`);
  }
  // a header cannot declare more than a u32 anyway; Infinity or MAX_SAFE_INTEGER mean "no limit"
  return Math.min(Math.floor(maxFrame), MAX_FRAME_LIMIT);
}

function checkChannel(channel: number): void {
  // `>>> 0` keeps integers in [0, 2^32) and changes anything else (fractions, negatives, NaN, huge)
  if (channel >>> 0 !== channel) {
    throw new RangeError(`channel must be an integer from 0 to ${MAX_CHANNEL}, got ${channel}`);
  }
}

/**
 * Writes a frame header (`length`, `channel`) into `target` at `offset`, or into a new 8-byte Buffer.
 * Returns the buffer written to.
 */
export function encodeHeader(length: number, channel: number, target?: Buffer, offset = 0): Buffer {
  if (length >>> 0 !== length) throw new RangeError(`frame length must be an integer from 0 to ${MAX_FRAME_LIMIT}, got ${length}`);
  checkChannel(channel);
  const out = target ?? Buffer.allocUnsafe(HEADER_SIZE);
  out.writeUInt32BE(length, offset);
  out.writeUInt32BE(channel, offset + 4);
  return out;
}

/** Rewrites the channel field of the frame header that starts at `offset` of `frame` (in place). */
export function rewriteChannel(frame: Buffer, channel: number, offset = 0): void {
  checkChannel(channel);
  frame.writeUInt32BE(channel, offset + 4);
}

/** Encodes one whole frame into a new Buffer (header + copy of the payload). For tests and one-offs. */
export function encodeFrame(channel: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload.byteLength);
  encodeHeader(payload.byteLength, channel, out, 0);
  out.set(payload, HEADER_SIZE);
  return out;
}

/**
 * The two ways to construct a FrameDecoder or FrameRouter: `(handler, options)` or `({ [key]: handler, ...options })`.
 */
function handlerAndOptions<H, O extends object>(first: H | O, second: O, key: keyof O, what: string): { handler: H; options: O } {
  const options = typeof first === 'function' ? second : (first as O);
  const handler = typeof first === 'function' ? first : (first as O)[key];
  if (typeof handler !== 'function') throw new TypeError(`${what} needs an ${String(key)} callback`);
  return { handler: handler as H, options };
}

/**
 * Common machinery of FrameDecoder and FrameRouter: chunk bookkeeping that keeps the decoder
 * consistent when the callback throws, and the sticky failure after a protocol error.
 */
abstract class ChunkConsumer {
  readonly maxFrame: number;
  /** Offset in the chunk being consumed up to which the bytes are accounted for. */
  protected cursor = 0;
  private failure: Error | null = null;
  private pending: Buffer[] = [];

  constructor(maxFrame: number | undefined) {
    this.maxFrame = checkMaxFrame(maxFrame);
  }

  /** Feeds bytes. Delivers what they complete, synchronously, before returning. */
  push(chunk: Buffer): void {
    if (this.failure !== null) throw this.failure;
    if (this.pending.length === 0) {
      this.run(chunk);
      return;
    }
    // bytes left over from a chunk whose delivery threw go first
    if (chunk.length > 0) this.pending.push(chunk);
    while (this.pending.length > 0) this.run(this.pending.shift()!);
  }

  /** Whether the stream is between frames (nothing of a partial frame held or pending). */
  get idle(): boolean {
    return this.pending.length === 0 && this.atBoundary();
  }

  /** The sticky protocol error, once one happened. */
  get error(): Error | null {
    return this.failure;
  }

  /**
   * Call at the end of the stream. Throws a ProtocolError when the stream ended inside a frame. Frames
   * left undelivered by a throwing callback are delivered first.
   */
  end(): void {
    if (this.failure !== null) throw this.failure;
    while (this.pending.length > 0) this.run(this.pending.shift()!);
    if (!this.atBoundary()) {
      throw new ProtocolError(`the stream ended in the middle of a frame (${this.describePartial()})`);
    }
  }

  private run(chunk: Buffer): void {
    this.cursor = 0;
    try {
      this.consume(chunk);
    } catch (error) {
      if (this.failure === null && this.cursor < chunk.length) this.pending.unshift(chunk.subarray(this.cursor));
      throw error;
    }
  }

  protected fail(error: Error): never {
    this.failure = error;
    this.pending = [];
    throw error;
  }

  protected abstract consume(chunk: Buffer): void;
  protected abstract atBoundary(): boolean;
  protected abstract describePartial(): string;
}

/** Receives one whole frame. `payload` may alias the pushed chunk (see FrameDecoder). */
export type FrameHandler = (channel: number, payload: Buffer) => void;

export interface FrameDecoderOptions {
  /** Largest accepted payload, in bytes (values above 2^32-1 or Infinity mean no limit). Default 64 MiB. */
  maxFrame?: number;
  /** The frame callback, when it is not passed as the first constructor argument. */
  onFrame?: FrameHandler;
}

/**
 * Incremental frame decoder for untrusted input. `push()` chunks as they arrive; every complete frame
 * is passed to `onFrame(channel, payload)`, in order, synchronously, before push() returns.
 *
 * A payload that lies within one pushed chunk is a zero-copy slice of it (it aliases the chunk: do not
 * push chunks whose memory is reused afterwards). A payload that spans chunks is assembled into a
 * buffer of exactly its size, allocated when its header is read, each byte copied once.
 * Zero-length payloads are delivered as a shared empty Buffer.
 */
export class FrameDecoder extends ChunkConsumer {
  private readonly onFrame: FrameHandler;
  private readonly header = Buffer.allocUnsafe(HEADER_SIZE);
  private headerFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  private channel = 0;

  /** `new FrameDecoder(onFrame, { maxFrame })` or `new FrameDecoder({ onFrame, maxFrame })`. */
  constructor(onFrame: FrameHandler, options?: FrameDecoderOptions);
  constructor(options: FrameDecoderOptions & { onFrame: FrameHandler });
  constructor(first: FrameHandler | (FrameDecoderOptions & { onFrame: FrameHandler }), second: FrameDecoderOptions = {}) {
    const { handler, options } = handlerAndOptions<FrameHandler, FrameDecoderOptions>(first, second, 'onFrame', 'FrameDecoder');
    super(options.maxFrame);
    this.onFrame = handler;
  }

  /** Bytes of a partial frame held by the decoder (header bytes plus payload bytes received so far). */
  get bufferedBytes(): number {
    return this.body !== null ? HEADER_SIZE + this.bodyFill : this.headerFill;
  }

  protected override atBoundary(): boolean {
    return this.body === null && this.headerFill === 0;
  }

  protected override describePartial(): string {
    return this.body !== null
      ? `${this.bodyFill} of ${this.body.length} payload bytes received on channel ${this.channel}`
      : `${this.headerFill} of ${HEADER_SIZE} header bytes received`;
  }

  protected override consume(chunk: Buffer): void {
    const n = chunk.length;
    const max = this.maxFrame;
    let off = 0;
    while (off < n) {
      const body = this.body;
      if (body !== null) {
        // continuing a payload that spans chunks
        const take = Math.min(body.length - this.bodyFill, n - off);
        chunk.copy(body, this.bodyFill, off, off + take);
        this.bodyFill += take;
        off += take;
        if (this.bodyFill === body.length) {
          this.body = null;
          this.bodyFill = 0;
          this.cursor = off;
          this.onFrame(this.channel, body);
        }
      } else if (this.headerFill === 0 && n - off >= HEADER_SIZE) {
        // the header lies in this chunk: the common case
        const length = chunk.readUInt32BE(off);
        const channel = chunk.readUInt32BE(off + 4);
        if (length > max) this.fail(new FrameTooLargeError(length, max, channel));
        off += HEADER_SIZE;
        if (n - off >= length) {
          const payload = chunk.subarray(off, off + length);
          off += length;
          this.cursor = off;
          this.onFrame(channel, payload);
        } else {
          this.startBody(channel, length, chunk, off);
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
          if (length > max) this.fail(new FrameTooLargeError(length, max, channel));
          if (length === 0) {
            this.cursor = off;
            this.onFrame(channel, EMPTY);
          } else {
            this.body = Buffer.allocUnsafe(length);
            this.bodyFill = 0;
            this.channel = channel;
          }
        }
      }
    }
    this.cursor = n;
  }

  private startBody(channel: number, length: number, chunk: Buffer, off: number): void {
    // allocUnsafe: every byte is overwritten before the buffer is handed out
    const body = Buffer.allocUnsafe(length);
    chunk.copy(body, 0, off);
    this.body = body;
    this.bodyFill = chunk.length - off;
    this.channel = channel;
  }
}

/**
 * Receives a frame's bytes as they arrive. `frameStart`: `piece` begins with the frame's complete
 * header. `frameEnd`: `piece` ends the frame. `payloadLength`: the frame's payload length.
 */
export type PieceHandler = (
  channel: number,
  piece: Buffer,
  frameStart: boolean,
  frameEnd: boolean,
  payloadLength: number,
) => void;

export interface FrameRouterOptions {
  /** Largest accepted payload, in bytes (values above 2^32-1 or Infinity mean no limit). Default 64 MiB. */
  maxFrame?: number;
  /**
   * Rewrite every frame's channel field to this value before delivering it (worker -> pool relay).
   * The header is patched in the pushed chunk itself when it lies there.
   */
  stampChannel?: number;
  /** The piece callback, when it is not passed as the first constructor argument. */
  onPiece?: PieceHandler;
  /**
   * When given, frames that arrive on channel `controlChannel` (0 by default) are not relayed: they are
   * assembled and passed whole to this callback (payload only, zero-copy when it lies within one chunk),
   * like FrameDecoder does. For the supervisor's own control messages. Not affected by stampChannel.
   */
  onControlFrame?: (payload: Buffer, channel: number) => void;
  /** The channel whose frames go to onControlFrame. Default 0. */
  controlChannel?: number;
}

/**
 * Cut-through frame splitter: delivers each frame as pieces as its bytes arrive, without buffering
 * payloads (a 64 MiB frame pushed in 64 KiB chunks is relayed as ~1024 pieces, never held whole).
 * See the top of this file for the guarantees on pieces.
 */
export class FrameRouter extends ChunkConsumer {
  private readonly onPiece: PieceHandler;
  private readonly onControlFrame: ((payload: Buffer, channel: number) => void) | undefined;
  private readonly controlChannel: number;
  private readonly stamp: number;
  private header = Buffer.allocUnsafe(HEADER_SIZE);
  private headerFill = 0;
  /** Payload bytes of the current frame still to come; -1 between frames. */
  private remaining = -1;
  private length = 0;
  private channel = 0;
  /** The control frame being assembled, when the current frame is one that spans chunks. */
  private control: Buffer | null = null;

  /** `new FrameRouter(onPiece, options)` or `new FrameRouter({ onPiece, ...options })`. */
  constructor(onPiece: PieceHandler, options?: FrameRouterOptions);
  constructor(options: FrameRouterOptions & { onPiece: PieceHandler });
  constructor(first: PieceHandler | (FrameRouterOptions & { onPiece: PieceHandler }), second: FrameRouterOptions = {}) {
    const { handler, options } = handlerAndOptions<PieceHandler, FrameRouterOptions & { onPiece?: PieceHandler }>(first, second, 'onPiece', 'FrameRouter');
    super(options.maxFrame);
    this.onPiece = handler;
    this.onControlFrame = options.onControlFrame;
    this.controlChannel = options.controlChannel ?? 0;
    if (options.stampChannel !== undefined) checkChannel(options.stampChannel);
    this.stamp = options.stampChannel ?? -1;
  }

  /** Payload bytes of the current frame not yet received (0 between frames). */
  get remainingBytes(): number {
    return this.remaining > 0 ? this.remaining : 0;
  }

  protected override atBoundary(): boolean {
    return this.remaining < 0 && this.headerFill === 0;
  }

  protected override describePartial(): string {
    return this.remaining >= 0
      ? `${this.length - this.remaining} of ${this.length} payload bytes received on channel ${this.channel}`
      : `${this.headerFill} of ${HEADER_SIZE} header bytes received`;
  }

  private isControl(channel: number): boolean {
    return channel === this.controlChannel && this.onControlFrame !== undefined;
  }

  protected override consume(chunk: Buffer): void {
    const n = chunk.length;
    const max = this.maxFrame;
    let off = 0;
    while (off < n) {
      if (this.remaining >= 0) {
        // inside a payload (remaining > 0 here: a finished frame sets it back to -1)
        const take = Math.min(this.remaining, n - off);
        const control = this.control;
        if (control !== null) {
          chunk.copy(control, this.length - this.remaining, off, off + take);
          off += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.remaining = -1;
            this.control = null;
            this.cursor = off;
            this.onControlFrame!(control, this.channel);
          }
          continue;
        }
        this.remaining -= take;
        const end = this.remaining === 0;
        if (end) this.remaining = -1;
        const piece = chunk.subarray(off, off + take);
        off += take;
        this.cursor = off;
        this.onPiece(this.channel, piece, false, end, this.length);
      } else if (this.headerFill === 0 && n - off >= HEADER_SIZE) {
        const length = chunk.readUInt32BE(off);
        let channel = chunk.readUInt32BE(off + 4);
        if (length > max) this.fail(new FrameTooLargeError(length, max, channel));
        const take = Math.min(length, n - off - HEADER_SIZE);
        const end = take === length;
        if (this.isControl(channel)) {
          off += HEADER_SIZE;
          if (end) {
            const payload = chunk.subarray(off, off + length);
            off += length;
            this.cursor = off;
            this.onControlFrame!(payload, channel);
          } else {
            this.beginControl(channel, length, chunk, off, take);
            off += take;
          }
          continue;
        }
        if (this.stamp >= 0) {
          chunk.writeUInt32BE(this.stamp, off + 4);
          channel = this.stamp;
        }
        const piece = chunk.subarray(off, off + HEADER_SIZE + take);
        off += HEADER_SIZE + take;
        this.remaining = end ? -1 : length - take;
        this.length = length;
        this.channel = channel;
        this.cursor = off;
        this.onPiece(channel, piece, true, end, length);
      } else {
        const take = Math.min(HEADER_SIZE - this.headerFill, n - off);
        chunk.copy(this.header, this.headerFill, off, off + take);
        this.headerFill += take;
        off += take;
        if (this.headerFill === HEADER_SIZE) {
          this.headerFill = 0;
          const header = this.header;
          const length = header.readUInt32BE(0);
          let channel = header.readUInt32BE(4);
          if (length > max) this.fail(new FrameTooLargeError(length, max, channel));
          if (this.isControl(channel)) {
            if (length === 0) {
              this.cursor = off;
              this.onControlFrame!(EMPTY, channel);
            } else {
              this.beginControl(channel, length, chunk, off, 0);
            }
            continue;
          }
          this.header = Buffer.allocUnsafe(HEADER_SIZE); // `header` is handed out: it may be queued for writing
          if (this.stamp >= 0) {
            header.writeUInt32BE(this.stamp, 4);
            channel = this.stamp;
          }
          this.remaining = length === 0 ? -1 : length;
          this.length = length;
          this.channel = channel;
          this.cursor = off;
          this.onPiece(channel, header, true, length === 0, length);
        }
      }
    }
    this.cursor = n;
  }

  /** Starts assembling a control frame whose payload spans chunks; `take` bytes of it are at `off`. */
  private beginControl(channel: number, length: number, chunk: Buffer, off: number, take: number): void {
    const control = Buffer.allocUnsafe(length);
    chunk.copy(control, 0, off, off + take);
    this.control = control;
    this.remaining = length - take;
    this.length = length;
    this.channel = channel;
  }
}

export interface FrameWriterOptions {
  /** Largest payload write() accepts; larger throws FrameTooLargeError. Default DEFAULT_MAX_FRAME. */
  maxFrame?: number;
  /** Payloads of at least this many bytes are written by reference instead of copied. Default 64 KiB. */
  largePayload?: number;
  /**
   * When queued frames are handed to the stream: 'tick' (process.nextTick, the default: it runs after
   * the promise jobs of the current turn, so frames written across `await`s coalesce too) or
   * 'microtask' (queueMicrotask).
   */
  flush?: 'tick' | 'microtask';
  /**
   * Queued bytes at which write() flushes at once instead of waiting for the end of the tick.
   * Default: the stream's writableHighWaterMark, at least 64 KiB.
   */
  flushThreshold?: number;
}

const SLAB_SIZE = 64 * 1024;

/**
 * Writes frames to a stream, coalescing the small frames of one tick into one stream.write().
 *
 * Ownership: a small payload (< largePayload) is copied during write(), so the caller may reuse it at
 * once; a large payload is written by reference: do not modify it after write().
 */
export class FrameWriter {
  readonly stream: Writable;
  readonly maxFrame: number;
  readonly largePayload: number;
  private readonly flushThreshold: number;
  private readonly useMicrotask: boolean;
  /** Current slab: bytes [flushFrom, used) are queued, [0, flushFrom) were handed to the stream. */
  private slab: Buffer = EMPTY;
  private used = 0;
  private flushFrom = 0;
  /** Queued buffers that precede the bytes [flushFrom, used) of the current slab. */
  private segments: Uint8Array[] = [];
  private queued = 0;
  private scheduled = false;
  private drainPromise: Promise<void> | null = null;
  private droppedByteCount = 0;
  private readonly flushCallback = (): void => {
    this.scheduled = false;
    this.flushNow();
  };

  constructor(stream: Writable, options: FrameWriterOptions = {}) {
    this.stream = stream;
    this.maxFrame = checkMaxFrame(options.maxFrame);
    this.largePayload = options.largePayload ?? DEFAULT_LARGE_PAYLOAD;
    this.flushThreshold = options.flushThreshold ?? Math.max(SLAB_SIZE, stream.writableHighWaterMark ?? 0);
    this.useMicrotask = options.flush === 'microtask';
  }

  /**
   * Queues one frame. Returns false when the caller should stop producing until `drain()` resolves
   * (the stream's buffer is full, or the stream is gone). Throws FrameTooLargeError when the payload
   * exceeds `maxFrame`, RangeError on a bad channel; nothing is queued then.
   */
  write(channel: number, payload: Uint8Array): boolean {
    checkChannel(channel);
    const length = payload.byteLength;
    if (length > this.maxFrame) throw new FrameTooLargeError(length, this.maxFrame, channel);
    if (this.isClosed()) {
      this.droppedByteCount += HEADER_SIZE + length;
      return false;
    }
    if (length >= this.largePayload) {
      const at = this.reserve(HEADER_SIZE);
      this.slab.writeUInt32BE(length, at);
      this.slab.writeUInt32BE(channel, at + 4);
      this.queueByReference(payload);
      this.flushNow();
      return !this.needDrain;
    }
    const at = this.reserve(HEADER_SIZE + length);
    const slab = this.slab;
    slab.writeUInt32BE(length, at);
    slab.writeUInt32BE(channel, at + 4);
    if (length > 0) slab.set(payload, at + HEADER_SIZE);
    return this.queuedSmall(HEADER_SIZE + length);
  }

  /**
   * Queues bytes that are already framed (a relay's pieces: FrameRouter/FrameMux), with the same
   * coalescing and ownership rules as write().
   */
  writeRaw(bytes: Uint8Array): boolean {
    const length = bytes.byteLength;
    if (this.isClosed()) {
      this.droppedByteCount += length;
      return false;
    }
    if (length === 0) return !this.needDrain;
    if (length >= this.largePayload) {
      this.queueByReference(bytes);
      this.flushNow();
      return !this.needDrain;
    }
    const at = this.reserve(length);
    this.slab.set(bytes, at);
    return this.queuedSmall(length);
  }

  /** Hands everything queued to the stream now (one write, or one corked batch). */
  flushNow(): void {
    if (this.used > this.flushFrom) {
      this.segments.push(this.slab.subarray(this.flushFrom, this.used));
      this.flushFrom = this.used;
    }
    const segments = this.segments;
    if (segments.length === 0) return;
    this.segments = [];
    this.queued = 0;
    if (this.isClosed()) {
      for (let i = 0; i < segments.length; i++) this.droppedByteCount += segments[i]!.byteLength;
      return;
    }
    const stream = this.stream;
    if (segments.length === 1) {
      stream.write(segments[0]!);
    } else {
      stream.cork();
      for (let i = 0; i < segments.length; i++) stream.write(segments[i]);
      stream.uncork();
    }
  }

  /** Bytes queued in the writer, not yet handed to the stream. */
  get pendingBytes(): number {
    return this.queued;
  }

  /** Whether producers should wait for `drain()`: the stream's buffer is over its high-water mark. */
  get needDrain(): boolean {
    return this.stream.writableNeedDrain === true;
  }

  /** Whether the stream can no longer take frames (destroyed, ended or errored). */
  get destroyed(): boolean {
    return this.isClosed();
  }

  /** Bytes (headers included) dropped because the stream was closed when they were written or flushed. */
  get droppedBytes(): number {
    return this.droppedByteCount;
  }

  /**
   * Resolves when producing may resume: at once if the stream does not need draining, else on its
   * 'drain' event, or on 'close' (check `destroyed` afterwards). Never rejects.
   */
  drain(): Promise<void> {
    if (!this.needDrain || this.isClosed()) return Promise.resolve();
    if (this.drainPromise === null) {
      this.drainPromise = new Promise<void>((resolve) => {
        const stream = this.stream;
        const done = (): void => {
          stream.off('drain', done);
          stream.off('close', done);
          this.drainPromise = null;
          resolve();
        };
        stream.on('drain', done);
        stream.on('close', done);
      });
    }
    return this.drainPromise;
  }

  private isClosed(): boolean {
    const s = this.stream;
    return s.destroyed || s.writableEnded || s.errored != null;
  }

  /** Reserves `size` bytes in the slab, starting a new slab when the current one is full. */
  private reserve(size: number): number {
    if (this.used + size > this.slab.length) {
      if (this.used > this.flushFrom) this.segments.push(this.slab.subarray(this.flushFrom, this.used));
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, size));
      this.used = 0;
      this.flushFrom = 0;
    }
    const at = this.used;
    this.used += size;
    return at;
  }

  private queueByReference(bytes: Uint8Array): void {
    if (this.used > this.flushFrom) {
      this.segments.push(this.slab.subarray(this.flushFrom, this.used));
      this.flushFrom = this.used;
    }
    this.segments.push(bytes);
  }

  private queuedSmall(size: number): boolean {
    this.queued += size;
    if (this.queued >= this.flushThreshold) {
      this.flushNow();
    } else if (!this.scheduled) {
      this.scheduled = true;
      if (this.useMicrotask) queueMicrotask(this.flushCallback);
      else process.nextTick(this.flushCallback);
    }
    return !this.needDrain;
  }
}

const ZEROS = Buffer.alloc(SLAB_SIZE);

interface QueuedPiece {
  piece: Buffer;
  end: boolean;
}

/**
 * One source of a FrameMux. Give `onPiece` to the source's FrameRouter.
 */
export class FrameMuxInput {
  /** Bound PieceHandler: pass it to a FrameRouter. */
  readonly onPiece: PieceHandler;
  /** @internal */ queue: (QueuedPiece | undefined)[] = [];
  /** @internal */ queueHead = 0;
  /** @internal */ waiting = false;
  private queuedByteCount = 0;
  /** Payload bytes still expected for the frame this source has open; -1 when none is open. */
  private open = -1;
  private aborted = false;
  private readonly mux: FrameMux;

  constructor(mux: FrameMux) {
    this.mux = mux;
    this.onPiece = (_channel, piece, frameStart, frameEnd) => this.accept(piece, frameStart, frameEnd);
  }

  /** Bytes of this source held back because another source is in the middle of a frame. */
  get queuedBytes(): number {
    return this.queuedByteCount;
  }

  /**
   * The source ended (its process died, its pipe closed). If it was in the middle of a frame, the rest
   * of that frame is written as zero bytes when its turn comes, so the output stays framed. Returns the
   * number of padding bytes. Pieces pushed afterwards are ignored.
   */
  abort(): number {
    if (this.aborted) return 0;
    this.aborted = true;
    const missing = this.open > 0 ? this.open : 0;
    if (this.open >= 0) {
      let left = missing;
      while (left > 0) {
        const size = Math.min(left, ZEROS.length);
        left -= size;
        this.enqueueOrWrite(size === ZEROS.length ? ZEROS : ZEROS.subarray(0, size), left === 0);
      }
      this.open = -1;
    }
    return missing;
  }

  private accept(piece: Buffer, frameStart: boolean, frameEnd: boolean): void {
    if (this.aborted) return;
    if (frameStart) {
      // the header is at the start of the first piece
      const length = piece.readUInt32BE(0);
      this.open = length - (piece.length - HEADER_SIZE);
    } else {
      this.open -= piece.length;
    }
    if (frameEnd) this.open = -1;
    this.enqueueOrWrite(piece, frameEnd);
  }

  private enqueueOrWrite(piece: Buffer, end: boolean): void {
    const mux = this.mux;
    if (mux.current === this || (mux.current === null && this.queueHead === this.queue.length)) {
      mux.current = end ? null : this;
      mux.writer.writeRaw(piece);
      if (end) mux.next();
      return;
    }
    this.queue.push({ piece, end });
    this.queuedByteCount += piece.length;
    if (!this.waiting) {
      this.waiting = true;
      mux.waiting.push(this);
    }
  }

  /** @internal Writes queued pieces up to the end of one frame; returns whether a frame ended. */
  flushOneFrame(): boolean {
    const queue = this.queue;
    while (this.queueHead < queue.length) {
      const { piece, end } = queue[this.queueHead]!;
      queue[this.queueHead++] = undefined;
      this.queuedByteCount -= piece.length;
      this.mux.writer.writeRaw(piece);
      if (end) {
        if (this.queueHead === queue.length) {
          this.queue = [];
          this.queueHead = 0;
        }
        return true;
      }
    }
    this.queue = [];
    this.queueHead = 0;
    return false;
  }
}

/**
 * Multiplexes cut-through frame pieces from many sources onto one FrameWriter, one whole frame at a
 * time. See the top of this file.
 */
export class FrameMux {
  readonly writer: FrameWriter;
  /** @internal The input in the middle of a frame on the output, if any. */
  current: FrameMuxInput | null = null;
  /** @internal Inputs with queued pieces, in the order their first queued piece arrived. */
  waiting: FrameMuxInput[] = [];

  constructor(writer: FrameWriter) {
    this.writer = writer;
  }

  /** A new source. */
  input(): FrameMuxInput {
    return new FrameMuxInput(this);
  }

  /** @internal Gives the output to waiting inputs, one frame each, in order. */
  next(): void {
    while (this.current === null && this.waiting.length > 0) {
      const input = this.waiting.shift()!;
      input.waiting = false;
      if (input.flushOneFrame()) {
        if (input.queueHead < input.queue.length) {
          input.waiting = true;
          this.waiting.push(input);
        }
      } else {
        this.current = input; // its frame continues as its pieces arrive
      }
    }
  }
}
