import { describe, expect, it, vi } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import { createServer, connect, type Socket } from 'node:net';
import { FrameDecoder } from '../../../src/wire/frame-decoder.js';
import {
  DEFAULT_MAX_FRAME,
  encodeFrame,
  encodeHeader,
  FrameTooLargeError,
  HEADER_SIZE,
} from '../../../src/wire/frame.js';

type Frame = [channel: number, payload: Buffer];

function collect(options: { maxFrame?: number } = {}) {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder({ ...options, onFrame: (channel, payload) => frames.push([channel, payload]) });
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
});

describe('FrameDecoder', () => {
  it('decodes many frames from one chunk, in order, synchronously', () => {
    const { frames, decoder } = collect();
    decoder.push(sampleStream);
    same(frames, sample);
  });

  it('decodes a stream split at every byte boundary (two pieces)', () => {
    for (let cut = 0; cut <= sampleStream.length; cut++) {
      const { frames, decoder } = collect();
      decoder.push(sampleStream.subarray(0, cut));
      decoder.push(sampleStream.subarray(cut));
      same(frames, sample);
    }
  });

  it('decodes a stream split at every pair of boundaries (three pieces)', () => {
    const stream = Buffer.concat([
      encodeFrame(1, bytes(20)),
      encodeFrame(2, Buffer.alloc(0)),
      encodeFrame(3, bytes(5)),
    ]);
    const expected: Frame[] = [
      [1, bytes(20)],
      [2, Buffer.alloc(0)],
      [3, bytes(5)],
    ];
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
    const decoder = new FrameDecoder({ onFrame: (_c, p) => payloads.push(p) });
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
    // unusable afterwards
    expect(() => decoder.push(encodeFrame(1, bytes(1)))).toThrow(error as Error);
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
    expect(() => new FrameDecoder({ maxFrame: -1, onFrame: () => {} })).toThrow(RangeError);
  });

  it('fails for good when onFrame throws: later pushes throw the same error', () => {
    const seen: number[] = [];
    const bug = new Error('handler bug');
    const decoder = new FrameDecoder({
      onFrame: (channel) => {
        seen.push(channel);
        if (channel === 7) throw bug;
      },
    });
    expect(() => decoder.push(sampleStream)).toThrow(bug);
    expect(seen).toEqual([0, 1, 7]);
    expect(() => decoder.push(encodeFrame(1, bytes(1)))).toThrow(bug);
    expect(seen).toEqual([0, 1, 7]);
  });
});

describe('FrameDecoder.socketReader (net.Socket onread)', () => {
  /** A loopback TCP pair whose client reads through `decoder`. */
  async function pair(
    decoder: FrameDecoder,
    onRead?: () => void,
  ): Promise<{ server: Socket; client: Socket; close: () => void }> {
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve));
    const { port } = listener.address() as { port: number };
    const client = connect({ port, host: '127.0.0.1', onread: decoder.socketReader(onRead) });
    const server = await accepted;
    return { server, client, close: () => (client.destroy(), server.destroy(), listener.close()) };
  }

  it('reads a large payload straight into its own buffer, and small frames as slices of fresh read buffers', async () => {
    const frames: Frame[] = [];
    const decoder = new FrameDecoder({ onFrame: (c, p) => frames.push([c, p]) });
    let reads = 0;
    const { server, close } = await pair(decoder, () => reads++);
    const copy = vi.spyOn(Buffer.prototype, 'copy');
    const big = bytes(8 << 20, 5);
    const expected: Frame[] = [[1, bytes(10)], [2, big], [3, bytes(100, 2)], ...sample];
    try {
      const done = new Promise<void>((resolve) => {
        const check = setInterval(() => frames.length === expected.length && (clearInterval(check), resolve()), 5);
      });
      server.write(Buffer.concat(expected.map(([c, p]) => encodeFrame(c, p))));
      await done;
      same(frames, expected);
      // what arrived in the first read(s) was copied into the big payload's buffer, the rest was read into it
      const copied = copy.mock.results.reduce((sum, result) => sum + (result.value as number), 0);
      expect(copied).toBeLessThan(1 << 20);
      expect(frames[1]![1].buffer.byteLength).toBe(big.length);
      expect(reads).toBeGreaterThan(1);
    } finally {
      copy.mockRestore();
      close();
    }
  });

  it('delivers frames that a push() completed between two reads', async () => {
    const frames: Frame[] = [];
    const decoder = new FrameDecoder({ onFrame: (c, p) => frames.push([c, Buffer.from(p)]) });
    const { server, close } = await pair(decoder);
    try {
      decoder.push(encodeFrame(9, Buffer.from('pushed')));
      const big = encodeFrame(4, bytes(1 << 20));
      decoder.push(big.subarray(0, 100)); // the read buffer was chosen before this body started
      const done = new Promise<void>((resolve) => {
        const check = setInterval(() => frames.length === 2 && (clearInterval(check), resolve()), 5);
      });
      server.write(big.subarray(100));
      await done;
      same(frames, [
        [9, Buffer.from('pushed')],
        [4, bytes(1 << 20)],
      ]);
    } finally {
      close();
    }
  });
});
