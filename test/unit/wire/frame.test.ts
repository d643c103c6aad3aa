import { describe, expect, it, vi } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import {
  DEFAULT_MAX_FRAME,
  encodeFrame,
  encodeHeader,
  FrameDecoder,
  FrameMux,
  FrameRouter,
  type FrameRouterOptions,
  FrameTooLargeError,
  FrameWriter,
  HEADER_SIZE,
  rewriteChannel,
} from '../../../src/wire/frame.js';
import { Writable } from 'node:stream';

type Frame = [channel: number, payload: Buffer];

function collect(options: { maxFrame?: number } = {}) {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder((channel, payload) => frames.push([channel, payload]), options);
  return { frames, decoder };
}

function bytes(n: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const sample: Frame[] = [
  [0, Buffer.from('control')],
  [1, Buffer.alloc(0)],
  [7, bytes(1)],
  [0xffffffff, bytes(300, 2)],
  [2, bytes(9, 3)],
];
const sampleStream = Buffer.concat(sample.map(([c, p]) => encodeFrame(c, p)));

function same(actual: Frame[], expected: Frame[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach(([c, p], i) => {
    expect(c).toBe(expected[i]![0]);
    expect(Buffer.compare(p, expected[i]![1])).toBe(0);
  });
}

describe('header', () => {
  it('is [u32 BE length][u32 BE channel]', () => {
    expect(HEADER_SIZE).toBe(8);
    expect(DEFAULT_MAX_FRAME).toBe(64 * 1024 * 1024);
    expect(encodeHeader(0x01020304, 0x0a0b0c0d).toString('hex')).toBe('010203040a0b0c0d');
    expect(encodeFrame(5, Buffer.from('hi')).toString('hex')).toBe('00000002' + '00000005' + '6869');
  });

  it('refuses lengths and channels outside u32', () => {
    expect(() => encodeHeader(-1, 0)).toThrow(RangeError);
    expect(() => encodeHeader(2 ** 32, 0)).toThrow(RangeError);
    expect(() => encodeHeader(1, 1.5)).toThrow(RangeError);
    expect(() => encodeHeader(1, 2 ** 32)).toThrow(RangeError);
  });

  it('rewriteChannel patches the channel in place', () => {
    const frame = encodeFrame(3, Buffer.from('x'));
    rewriteChannel(frame, 9);
    expect(frame.readUInt32BE(4)).toBe(9);
    expect(frame.readUInt32BE(0)).toBe(1);
  });
});

describe('FrameDecoder', () => {
  it('decodes many frames from one chunk, in order, synchronously', () => {
    const { frames, decoder } = collect();
    decoder.push(sampleStream);
    same(frames, sample);
    expect(decoder.idle).toBe(true);
    expect(() => decoder.end()).not.toThrow();
  });

  it('decodes a stream split at every byte boundary (two pieces)', () => {
    for (let cut = 0; cut <= sampleStream.length; cut++) {
      const { frames, decoder } = collect();
      decoder.push(sampleStream.subarray(0, cut));
      decoder.push(sampleStream.subarray(cut));
      same(frames, sample);
      expect(decoder.idle).toBe(true);
    }
  });

  it('decodes a stream split at every pair of boundaries (three pieces)', () => {
    const stream = Buffer.concat([encodeFrame(1, bytes(20)), encodeFrame(2, Buffer.alloc(0)), encodeFrame(3, bytes(5))]);
    const expected: Frame[] = [[1, bytes(20)], [2, Buffer.alloc(0)], [3, bytes(5)]];
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b++) {
        const { frames, decoder } = collect();
        decoder.push(stream.subarray(0, a));
        decoder.push(stream.subarray(a, b));
        decoder.push(stream.subarray(b));
        same(frames, expected);
      }
    }
  });

  it('decodes a stream fed one byte at a time', () => {
    const { frames, decoder } = collect();
    for (let i = 0; i < sampleStream.length; i++) decoder.push(sampleStream.subarray(i, i + 1));
    same(frames, sample);
  });

  it('hands out zero-copy slices of the chunk when a frame lies within it', () => {
    const payloads: Buffer[] = [];
    const decoder = new FrameDecoder((_c, p) => payloads.push(p));
    const chunk = Buffer.concat([encodeFrame(1, bytes(100)), encodeFrame(2, bytes(50))]);
    decoder.push(chunk);
    expect(payloads[0]!.buffer).toBe(chunk.buffer);
    expect(payloads[0]!.byteOffset).toBe(chunk.byteOffset + 8);
    expect(payloads[1]!.buffer).toBe(chunk.buffer);
    expect(payloads[1]!.byteOffset).toBe(chunk.byteOffset + 8 + 100 + 8);
    chunk[8] ^= 0xff; // proves aliasing
    expect(payloads[0]![0]).toBe(chunk[8]);
  });

  it('assembles a frame that spans chunks into a buffer of exactly its size, copying each byte once', () => {
    const payload = bytes(1 << 20, 7);
    const stream = encodeFrame(4, payload);
    const concat = vi.spyOn(Buffer, 'concat');
    const copy = vi.spyOn(Buffer.prototype, 'copy');
    const { frames, decoder } = collect();
    const chunk = 4096;
    for (let off = 0; off < stream.length; off += chunk) decoder.push(stream.subarray(off, off + chunk));
    expect(concat).not.toHaveBeenCalled();
    // one copy per chunk, never of what was already received
    const copied = copy.mock.results.reduce((sum, result) => sum + (result.value as number), 0);
    expect(copied).toBe(payload.length);
    concat.mockRestore();
    copy.mockRestore();
    expect(frames).toHaveLength(1);
    const [channel, got] = frames[0]!;
    expect(channel).toBe(4);
    expect(got.length).toBe(payload.length);
    expect(got.buffer.byteLength).toBe(payload.length); // allocated exactly
    expect(got.equals(payload)).toBe(true);
  });

  it('is linear: 64 MiB in 64 KiB chunks is quick', () => {
    const size = 64 * 1024 * 1024;
    const header = encodeHeader(size, 1);
    const block = bytes(64 * 1024);
    const { frames, decoder } = collect();
    const t0 = performance.now();
    decoder.push(header);
    for (let off = 0; off < size; off += block.length) decoder.push(block);
    const ms = performance.now() - t0;
    expect(frames).toHaveLength(1);
    expect(frames[0]![1].length).toBe(size);
    expect(ms).toBeLessThan(3000);
  });

  it('rejects a frame larger than maxFrame as soon as its header is read, before buffering it', () => {
    const alloc = vi.spyOn(Buffer, 'allocUnsafe');
    const { frames, decoder } = collect({ maxFrame: 1000 });
    decoder.push(encodeFrame(1, bytes(10)));
    let error: unknown;
    try {
      decoder.push(encodeHeader(1001, 3)); // no payload byte sent yet
    } catch (err) {
      error = err;
    }
    expect(alloc).not.toHaveBeenCalledWith(1001);
    alloc.mockRestore();
    expect(error).toBeInstanceOf(FrameTooLargeError);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ length: 1001, max: 1000, channel: 3, code: 'ERR_UNITPOOL_PROTOCOL' });
    expect(frames).toHaveLength(1);
    expect(decoder.bufferedBytes).toBe(0);
    // unusable afterwards
    expect(() => decoder.push(encodeFrame(1, bytes(1)))).toThrow(error as Error);
    expect(decoder.error).toBe(error);
  });

  it('rejects an oversized header split across chunks too, and accepts exactly maxFrame', () => {
    const { decoder } = collect({ maxFrame: 16 });
    const header = encodeHeader(17, 0);
    decoder.push(header.subarray(0, 3));
    expect(() => decoder.push(header.subarray(3))).toThrow(FrameTooLargeError);
    const ok = collect({ maxFrame: 16 });
    ok.decoder.push(encodeFrame(0, bytes(16)));
    expect(ok.frames).toHaveLength(1);
  });

  it('treats maxFrame above u32 (e.g. Number.MAX_SAFE_INTEGER) as no limit', () => {
    const decoder = new FrameDecoder({ maxFrame: Number.MAX_SAFE_INTEGER, onFrame: () => {} });
    expect(decoder.maxFrame).toBe(0xffffffff);
    expect(() => new FrameDecoder(() => {}, { maxFrame: -1 })).toThrow(RangeError);
  });

  it('accepts the options-object form', () => {
    const frames: Frame[] = [];
    const decoder = new FrameDecoder({ maxFrame: 500, onFrame: (c, p) => frames.push([c, p]) });
    decoder.push(sampleStream);
    same(frames, sample);
  });

  it('keeps the rest of the chunk when onFrame throws, and delivers it on the next push', () => {
    const seen: number[] = [];
    let throwOn = 7;
    const decoder = new FrameDecoder((channel) => {
      seen.push(channel);
      if (channel === throwOn) {
        throwOn = -1;
        throw new Error('handler bug');
      }
    });
    expect(() => decoder.push(sampleStream)).toThrow('handler bug');
    expect(seen).toEqual([0, 1, 7]);
    decoder.push(Buffer.alloc(0));
    expect(seen).toEqual([0, 1, 7, 0xffffffff, 2]);
  });

  it('keeps a partial frame across a throwing handler', () => {
    const seen: number[] = [];
    const decoder = new FrameDecoder((channel) => {
      seen.push(channel);
      if (channel === 1) throw new Error('boom');
    });
    const stream = Buffer.concat([encodeFrame(1, bytes(3)), encodeFrame(2, bytes(30))]);
    expect(() => decoder.push(stream.subarray(0, 20))).toThrow('boom');
    decoder.push(stream.subarray(20));
    expect(seen).toEqual([1, 2]);
  });

  it('end() reports a stream cut inside a frame', () => {
    const { decoder } = collect();
    decoder.push(encodeFrame(1, bytes(10)).subarray(0, 12));
    expect(decoder.idle).toBe(false);
    expect(decoder.bufferedBytes).toBe(12);
    expect(() => decoder.end()).toThrow(ProtocolError);
    const header = collect();
    header.decoder.push(Buffer.from([0, 0]));
    expect(() => header.decoder.end()).toThrow(/2 of 8 header bytes/);
  });
});

describe('FrameRouter', () => {
  type Piece = { channel: number; piece: Buffer; start: boolean; end: boolean; length: number };
  function route(options: FrameRouterOptions = {}) {
    const pieces: Piece[] = [];
    const router = new FrameRouter((channel, piece, start, end, length) => pieces.push({ channel, piece, start, end, length }), options);
    return { pieces, router };
  }
  /** Reassembles relayed frames: concatenating each frame's pieces must give the original frame bytes. */
  function frames(pieces: Piece[]): Buffer[] {
    const out: Buffer[] = [];
    let current: Buffer[] | null = null;
    for (const p of pieces) {
      if (p.start) {
        expect(current).toBeNull();
        expect(p.piece.length).toBeGreaterThanOrEqual(8);
        expect(p.piece.readUInt32BE(4)).toBe(p.channel);
        current = [];
      }
      expect(current).not.toBeNull();
      current!.push(p.piece);
      if (p.end) {
        out.push(Buffer.concat(current!));
        current = null;
      }
    }
    expect(current).toBeNull();
    return out;
  }
  const originals = sample.map(([c, p]) => encodeFrame(c, p));

  it('relays every frame as its original bytes, for every split of the stream', () => {
    for (let cut = 0; cut <= sampleStream.length; cut++) {
      const { pieces, router } = route();
      router.push(sampleStream.subarray(0, cut));
      router.push(sampleStream.subarray(cut));
      expect(frames(pieces)).toEqual(originals);
      expect(router.idle).toBe(true);
    }
  });

  it('relays one byte at a time', () => {
    const { pieces, router } = route();
    for (let i = 0; i < sampleStream.length; i++) router.push(sampleStream.subarray(i, i + 1));
    expect(frames(pieces)).toEqual(originals);
  });

  it('cuts through a large frame: pieces go out as chunks arrive, never buffered whole', () => {
    const payload = bytes(1 << 20, 9);
    const stream = encodeFrame(5, payload);
    const { pieces, router } = route();
    const chunk = 1000;
    router.push(stream.subarray(0, chunk));
    // the first piece (header + start of the payload) is out before the rest has arrived
    expect(pieces).toHaveLength(1);
    expect(pieces[0]).toMatchObject({ channel: 5, start: true, end: false, length: payload.length });
    expect(pieces[0]!.piece.buffer).toBe(stream.buffer); // zero-copy
    for (let off = chunk; off < stream.length; off += chunk) {
      router.push(stream.subarray(off, off + chunk));
      expect(router.remainingBytes).toBe(Math.max(0, stream.length - (off + chunk)));
    }
    expect(pieces.every((p) => p.piece.length <= chunk)).toBe(true);
    expect(pieces.filter((p) => p.end)).toHaveLength(1);
    expect(pieces.at(-1)!.end).toBe(true);
    expect(frames(pieces)[0]!.equals(stream)).toBe(true);
  });

  it('delivers a header split across chunks as its own 8-byte piece', () => {
    const stream = encodeFrame(3, bytes(20));
    const { pieces, router } = route();
    router.push(stream.subarray(0, 5));
    expect(pieces).toHaveLength(0);
    router.push(stream.subarray(5));
    expect(pieces[0]!.piece.length).toBe(8);
    expect(pieces[0]).toMatchObject({ start: true, end: false, channel: 3 });
    expect(frames(pieces)[0]!.equals(stream)).toBe(true);
  });

  it('stamps the channel (worker -> pool), in place when the header lies in the chunk', () => {
    for (let cut = 0; cut <= sampleStream.length; cut++) {
      const stream = Buffer.from(sampleStream);
      const { pieces, router } = route({ stampChannel: 42 });
      router.push(stream.subarray(0, cut));
      router.push(stream.subarray(cut));
      const expected = sample.map(([, p]) => encodeFrame(42, p));
      expect(frames(pieces)).toEqual(expected);
      expect(pieces.filter((p) => p.start).every((p) => p.channel === 42)).toBe(true);
    }
  });

  it('delivers control-channel frames whole to onControlFrame and relays the others', () => {
    for (let cut = 0; cut <= sampleStream.length; cut++) {
      const control: Buffer[] = [];
      const pieces: Piece[] = [];
      const router = new FrameRouter({
        onPiece: (channel, piece, start, end, length) => pieces.push({ channel, piece, start, end, length }),
        onControlFrame: (payload) => control.push(Buffer.from(payload)),
      });
      router.push(sampleStream.subarray(0, cut));
      router.push(sampleStream.subarray(cut));
      expect(control.map(String)).toEqual(['control']);
      expect(frames(pieces)).toEqual(originals.slice(1));
    }
  });

  it('rejects an oversized frame before forwarding any of it', () => {
    const { pieces, router } = route({ maxFrame: 100 });
    router.push(encodeFrame(1, bytes(100)));
    expect(pieces).toHaveLength(1);
    expect(() => router.push(encodeHeader(101, 2))).toThrow(FrameTooLargeError);
    expect(pieces).toHaveLength(1);
    expect(() => router.push(Buffer.alloc(1))).toThrow(FrameTooLargeError);
  });
});

describe('FrameMux', () => {
  class Sink extends Writable {
    data: Buffer[] = [];
    override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void) {
      this.data.push(Buffer.from(chunk));
      cb();
    }
  }

  it('never interleaves frames of different sources, and keeps each source in order', async () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    const mux = new FrameMux(writer);
    const inputs = [1, 2, 3].map((k) => ({ k, input: mux.input() }));
    const routers = inputs.map(({ k, input }) => new FrameRouter(input.onPiece, { stampChannel: k }));
    const sent: Frame[][] = [[], [], []];
    const streams = inputs.map((_, i) => {
      const parts: Buffer[] = [];
      for (let j = 0; j < 20; j++) {
        const payload = bytes(((i * 31 + j * 17) % 5000) + (j % 3 === 0 ? 70_000 : 0), i * 100 + j);
        sent[i]!.push([i + 1, payload]);
        parts.push(encodeFrame(0, payload));
      }
      return Buffer.concat(parts);
    });
    // feed the three sources in small interleaved chunks
    const offsets = [0, 0, 0];
    let turn = 0;
    while (offsets.some((o, i) => o < streams[i]!.length)) {
      const i = turn++ % 3;
      if (offsets[i]! >= streams[i]!.length) continue;
      const size = 1 + ((turn * 7919) % 9000);
      routers[i]!.push(streams[i]!.subarray(offsets[i]!, offsets[i]! + size));
      offsets[i]! += size;
    }
    writer.flushNow();
    await new Promise((r) => setImmediate(r));
    const out: Frame[] = [];
    new FrameDecoder((c, p) => out.push([c, Buffer.from(p)])).push(Buffer.concat(sink.data));
    for (let k = 1; k <= 3; k++) same(out.filter(([c]) => c === k), sent[k - 1]!);
    expect(out).toHaveLength(60);
    expect(inputs.every(({ input }) => input.queuedBytes === 0)).toBe(true);
  });

  it('pads the frame of a source that dies mid-frame so the output stays framed', async () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    const mux = new FrameMux(writer);
    const a = mux.input();
    const b = mux.input();
    const ra = new FrameRouter(a.onPiece, { stampChannel: 1 });
    const rb = new FrameRouter(b.onPiece, { stampChannel: 2 });
    const big = encodeFrame(0, bytes(1000));
    ra.push(big.subarray(0, 100)); // a owns the output
    rb.push(encodeFrame(0, Buffer.from('from b'))); // queued behind a
    expect(b.queuedBytes).toBe(14);
    expect(a.abort()).toBe(1000 - 92);
    writer.flushNow();
    await new Promise((r) => setImmediate(r));
    const out: Frame[] = [];
    new FrameDecoder((c, p) => out.push([c, Buffer.from(p)])).push(Buffer.concat(sink.data));
    expect(out.map(([c]) => c)).toEqual([1, 2]);
    expect(out[0]![1].subarray(0, 92).equals(bytes(1000).subarray(0, 92))).toBe(true);
    expect(out[0]![1].subarray(92).every((x) => x === 0)).toBe(true);
    expect(String(out[1]![1])).toBe('from b');
  });
});
