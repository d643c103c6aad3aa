// The frame header (frame.ts has the format): its size, and writing it. It imports nothing, so that the supervisor
// can read its boot frame and open its workers' links (direct.ts) before it loads anything else.

/** Bytes in a frame header: u32 BE payload length, u32 BE channel. */
export const HEADER_SIZE = 8;
/** The largest payload the header can express (u32). */
export const MAX_FRAME_LIMIT = 0xffffffff;

/** Throws a RangeError unless `channel` is an integer from 0 to 2^32-1. */
export function checkChannel(channel: number): void {
  // `>>> 0` keeps integers in [0, 2^32) and changes anything else (fractions, negatives, NaN, huge)
  if (channel >>> 0 !== channel)
    throw new RangeError(`channel must be an integer from 0 to ${0xffffffff}, got ${channel}`);
}

/**
 * Writes a frame header (`length`, `channel`) into `target` at `offset`, or into a new 8-byte Buffer.
 * Returns the buffer written to.
 */
export function encodeHeader(length: number, channel: number, target?: Buffer, offset = 0): Buffer {
  if (length >>> 0 !== length)
    throw new RangeError(`frame length must be an integer from 0 to ${MAX_FRAME_LIMIT}, got ${length}`);
  checkChannel(channel);
  const out = target ?? Buffer.allocUnsafe(HEADER_SIZE);
  out.writeUInt32BE(length, offset);
  out.writeUInt32BE(channel, offset + 4);
  return out;
}

/** Encodes one whole frame into a new Buffer (header + copy of the payload): for one-off frames and tests. */
export function encodeFrame(channel: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload.byteLength);
  encodeHeader(payload.byteLength, channel, out, 0);
  out.set(payload, HEADER_SIZE);
  return out;
}
