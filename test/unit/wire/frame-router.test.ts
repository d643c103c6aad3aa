import { describe, expect, it } from 'vitest';
import { FrameRouter } from '../../../src/wire/frame-router.js';
import { encodeFrame, encodeHeader, FrameTooLargeError } from '../../../src/wire/frame.js';

function bytes(n: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

type Piece = { channel: number; piece: Buffer };

const sample: [number, Buffer][] = [
  [0, Buffer.from('control')],
  [1, Buffer.alloc(0)],
  [7, bytes(1)],
  [0, Buffer.alloc(0)],
  [0xffffffff, bytes(300, 2)],
  [2, bytes(9, 3)],
  [0, bytes(40, 4)],
];
const sampleStream = Buffer.concat(sample.map(([c, p]) => encodeFrame(c, p)));
const relayedFrames = sample.filter(([c]) => c !== 0).map(([c, p]) => encodeFrame(c, p));
const controlPayloads = sample.filter(([c]) => c === 0).map(([, p]) => p);

function route(maxFrame?: number) {
  const pieces: Piece[] = [];
  const control: Buffer[] = [];
  const router = new FrameRouter({
    ...(maxFrame !== undefined ? { maxFrame } : {}),
    onPiece: (channel, piece) => pieces.push({ channel, piece: Buffer.from(piece) }),
    onControlFrame: (payload) => control.push(Buffer.from(payload)),
  });
  return { pieces, control, router };
}

/**
 * Splits the relayed pieces back into frames, checking that each frame's first piece begins with its whole header
 * and that every piece of a frame names the frame's channel.
 */
function framesOf(pieces: Piece[]): Buffer[] {
  const out: Buffer[] = [];
  let current: Buffer[] = [];
  let left = 0;
  let channel = -1;
  for (const { channel: ch, piece } of pieces) {
    if (left === 0 && current.length === 0) {
      expect(piece.length).toBeGreaterThanOrEqual(8);
      channel = piece.readUInt32BE(4);
      left = piece.readUInt32BE(0) + 8;
    }
    expect(ch).toBe(channel);
    current.push(piece);
    left -= piece.length;
    expect(left).toBeGreaterThanOrEqual(0);
    if (left === 0) {
      out.push(Buffer.concat(current));
      current = [];
    }
  }
  expect(current).toEqual([]);
  return out;
}

describe('FrameRouter', () => {
  it('relays frames on channels >= 1 as their original bytes and delivers channel 0 whole, for every split', () => {
    for (let cut = 0; cut <= sampleStream.length; cut++) {
      const { pieces, control, router } = route();
      router.push(sampleStream.subarray(0, cut));
      router.push(sampleStream.subarray(cut));
      expect(framesOf(pieces)).toEqual(relayedFrames);
      expect(control).toEqual(controlPayloads);
    }
  });

  it('relays one byte at a time', () => {
    const { pieces, control, router } = route();
    for (let i = 0; i < sampleStream.length; i++) router.push(sampleStream.subarray(i, i + 1));
    expect(framesOf(pieces)).toEqual(relayedFrames);
    expect(control).toEqual(controlPayloads);
  });

  it('cuts through a large frame: zero-copy pieces go out as chunks arrive, never buffered whole', () => {
    const payload = bytes(1 << 20, 9);
    const stream = encodeFrame(5, payload);
    const pieces: Buffer[] = [];
    const router = new FrameRouter({ onPiece: (_c, piece) => pieces.push(piece), onControlFrame: () => {} });
    const chunk = 1000;
    router.push(stream.subarray(0, chunk));
    // the first piece (header + start of the payload) is out before the rest has arrived
    expect(pieces).toHaveLength(1);
    expect(pieces[0]!.buffer).toBe(stream.buffer);
    expect(pieces[0]!.length).toBe(chunk);
    for (let off = chunk; off < stream.length; off += chunk) router.push(stream.subarray(off, off + chunk));
    expect(pieces.every((p) => p.length <= chunk && p.buffer === stream.buffer)).toBe(true);
    expect(Buffer.concat(pieces).equals(stream)).toBe(true);
  });

  it('passes a header split across chunks on as its own 8-byte piece', () => {
    const stream = encodeFrame(3, bytes(20));
    const { pieces, router } = route();
    router.push(stream.subarray(0, 5));
    expect(pieces).toHaveLength(0);
    router.push(stream.subarray(5));
    expect(pieces[0]!.piece.length).toBe(8);
    expect(framesOf(pieces)).toEqual([stream]);
  });

  it('delivers a control frame that spans chunks whole', () => {
    const payload = bytes(5000, 6);
    const stream = encodeFrame(0, payload);
    const { pieces, control, router } = route();
    for (let off = 0; off < stream.length; off += 999) router.push(stream.subarray(off, off + 999));
    expect(pieces).toEqual([]);
    expect(control).toEqual([payload]);
  });

  it('rejects an oversized frame before passing any of it on, and for good', () => {
    const { pieces, control, router } = route(100);
    router.push(encodeFrame(1, bytes(100)));
    expect(pieces).toHaveLength(1);
    expect(() => router.push(encodeHeader(101, 2))).toThrow(FrameTooLargeError);
    expect(pieces).toHaveLength(1);
    expect(() => router.push(encodeFrame(0, bytes(1)))).toThrow(FrameTooLargeError);
    expect(control).toEqual([]);
    const split = route(100);
    const header = encodeHeader(101, 0);
    split.router.push(header.subarray(0, 3));
    expect(() => split.router.push(header.subarray(3))).toThrow(FrameTooLargeError);
  });
});
