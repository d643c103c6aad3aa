// Frames out (the format: frame.ts) over a Writable: the pool's socket to the supervisor or to a worker's direct
// link, the supervisor's socket to the pool and its pipes to workers, a worker's channel.
//
// Small frames written in the same tick are copied into one slab and go out in ONE stream.write() at the end of the
// tick (process.nextTick: after the promise jobs of the current turn, so frames written across `await`s coalesce
// too), or at once when a tick's worth reaches the stream's high-water mark. A payload of 64 KiB or more is never
// copied: its header goes out beside it, in one corked batch (one writev). Backpressure: write() returns false like
// stream.write() does. A destroyed or ended stream drops frames silently, it never throws.
//
// It owns the slab and the queue of what is not yet handed to the stream; it never reads, ends or destroys the
// stream.

import type { Writable } from 'node:stream';
import { checkChannel, FrameTooLargeError, HEADER_SIZE, MAX_FRAME_LIMIT } from './frame.js';

/** Payloads (and relayed pieces) this large or larger are written by reference, not copied. */
export const LARGE_PAYLOAD = 64 * 1024;
const SLAB_SIZE = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Ownership: a small payload (< LARGE_PAYLOAD) is copied during write(), so the caller may reuse it at once; a
 * large one is written by reference: do not modify it after write().
 */
export class FrameWriter {
  readonly stream: Writable;
  /** Queued bytes at which write() hands the queue to the stream at once instead of at the end of the tick. */
  private readonly flushThreshold: number;
  /** Current slab: bytes [flushFrom, used) are queued, [0, flushFrom) were handed to the stream. */
  private slab: Buffer = EMPTY;
  private used = 0;
  private flushFrom = 0;
  /** Queued buffers that precede the bytes [flushFrom, used) of the current slab. */
  private segments: Uint8Array[] = [];
  private queued = 0;
  private scheduled = false;
  private readonly flushCallback = (): void => {
    this.scheduled = false;
    this.flushNow();
  };

  constructor(stream: Writable) {
    this.stream = stream;
    this.flushThreshold = Math.max(SLAB_SIZE, stream.writableHighWaterMark ?? 0);
  }

  /**
   * Queues one frame. Returns false when the stream's buffer is full (or the stream is gone): the producer should
   * wait for its 'drain'. Throws RangeError on a bad channel, FrameTooLargeError on a payload the header cannot
   * express (4 GiB or more); nothing is queued then.
   */
  write(channel: number, payload: Uint8Array): boolean {
    checkChannel(channel);
    const length = payload.byteLength;
    if (length > MAX_FRAME_LIMIT) throw new FrameTooLargeError(length, MAX_FRAME_LIMIT, channel);
    if (this.isClosed()) return false;
    const large = length >= LARGE_PAYLOAD;
    const at = this.reserve(large ? HEADER_SIZE : HEADER_SIZE + length);
    const slab = this.slab;
    slab.writeUInt32BE(length, at);
    slab.writeUInt32BE(channel, at + 4);
    if (large) return this.writeByReference(payload);
    if (length > 0) slab.set(payload, at + HEADER_SIZE);
    return this.queuedSmall(HEADER_SIZE + length);
  }

  /** Queues bytes that are already framed (a relay's pieces, see FrameRouter), with the same rules as write(). */
  writeRaw(bytes: Uint8Array): boolean {
    const length = bytes.byteLength;
    if (this.isClosed()) return false;
    if (length === 0) return !this.stream.writableNeedDrain;
    if (length >= LARGE_PAYLOAD) return this.writeByReference(bytes);
    const at = this.reserve(length); // (before reading this.slab: it may start a new one)
    this.slab.set(bytes, at);
    return this.queuedSmall(length);
  }

  /** Hands everything queued to the stream now (one write, or one corked batch). */
  flushNow(): void {
    this.closeSlabSegment();
    const segments = this.segments;
    if (segments.length === 0) return;
    this.segments = [];
    this.queued = 0;
    if (this.isClosed()) return;
    const stream = this.stream;
    if (segments.length === 1) {
      stream.write(segments[0]!);
    } else {
      stream.cork();
      for (let i = 0; i < segments.length; i++) stream.write(segments[i]);
      stream.uncork();
    }
  }

  private isClosed(): boolean {
    const s = this.stream;
    return s.destroyed || s.writableEnded || s.errored != null;
  }

  /** Queues the slab's bytes written since the last segment as a segment of their own. */
  private closeSlabSegment(): void {
    if (this.used > this.flushFrom) {
      this.segments.push(this.slab.subarray(this.flushFrom, this.used));
      this.flushFrom = this.used;
    }
  }

  /** Reserves `size` bytes in the slab, starting a new slab when the current one is full. */
  private reserve(size: number): number {
    if (this.used + size > this.slab.length) {
      this.closeSlabSegment();
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, size));
      this.used = 0;
      this.flushFrom = 0;
    }
    const at = this.used;
    this.used += size;
    return at;
  }

  /** Queues `bytes` after what the slab holds, without copying them, and hands it all to the stream. */
  private writeByReference(bytes: Uint8Array): boolean {
    this.closeSlabSegment();
    this.segments.push(bytes);
    this.flushNow();
    return !this.stream.writableNeedDrain;
  }

  private queuedSmall(size: number): boolean {
    this.queued += size;
    if (this.queued >= this.flushThreshold) {
      this.flushNow();
    } else if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushCallback);
    }
    return !this.stream.writableNeedDrain;
  }
}
