// The frame format of the one AF_UNIX stream between the pool and the supervisor, of a worker's direct link, and of
// the pipes between the supervisor and its workers:
//
//   frame := [u32 BE payloadLength][u32 BE channel][payloadLength bytes of payload]
//
// Channel 0 is the supervisor's control channel; channel k >= 1 is worker k. The header is fixed at 8 bytes, length
// first: the supervisor routes pool -> worker frames on it without decoding their payloads (frame-router.ts).
//
// This module owns the header layout, its limits and the error for an oversized frame. Reading frames is
// frame-decoder.ts (whole frames) and frame-router.ts (cut-through); writing them is frame-writer.ts.

import { named, ProtocolError, type UnitPoolErrorOptions } from '../errors.js';

import { MAX_FRAME_LIMIT } from './header.js';

// The header itself (its size, writing it) is header.ts, which imports nothing: the supervisor reads its boot frame
// and opens its workers' links before it loads anything else.
export { checkChannel, encodeFrame, encodeHeader, HEADER_SIZE, MAX_FRAME_LIMIT } from './header.js';
/** Default limit on a frame's payload: 64 MiB. */
export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;

/** A frame header declared a payload longer than the receiver accepts (or a sender tried to write one). */
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

/** A receiver's payload limit: `maxFrame` checked; values above 2^32-1 (Infinity, MAX_SAFE_INTEGER) mean no limit. */
export function checkMaxFrame(maxFrame: number | undefined): number {
  if (maxFrame === undefined) return DEFAULT_MAX_FRAME;
  if (typeof maxFrame !== 'number' || !(maxFrame >= 0)) {
    throw new RangeError(`maxFrame must be a number of bytes >= 0, got ${String(maxFrame)}`);
  }
  return Math.min(Math.floor(maxFrame), MAX_FRAME_LIMIT);
}
