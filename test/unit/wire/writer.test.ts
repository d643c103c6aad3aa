import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { FrameDecoder } from '../../../src/wire/frame-decoder.js';
import { FrameWriter, LARGE_PAYLOAD } from '../../../src/wire/frame-writer.js';
import { encodeFrame, FrameTooLargeError } from '../../../src/wire/frame.js';

/** A Writable that records every _write/_writev call (one entry per call, with its chunks). */
class Sink extends Writable {
  calls: Buffer[][] = [];
  private pending: (() => void)[] = [];
  constructor(private readonly options: { highWaterMark?: number; manual?: boolean } = {}) {
    super({ highWaterMark: options.highWaterMark ?? 16 * 1024 });
  }
  override _write(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.calls.push([chunk]);
    if (this.options.manual) this.pending.push(cb);
    else cb();
  }
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.calls.push(chunks.map((c) => c.chunk));
    if (this.options.manual) this.pending.push(cb);
    else cb();
  }
  /** Completes the writes held back in manual mode. */
  release(): void {
    const pending = this.pending;
    this.pending = [];
    for (const cb of pending) cb();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.calls.flat());
  }
}

/** Frame lists equal (Buffer.equals: vitest's deep equality is slow on big buffers). */
function expectFrames(actual: [number, Buffer][], expected: [number, Uint8Array][]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach(([c, p], i) => {
    expect(c).toBe(expected[i]![0]);
    expect(p.equals(expected[i]![1])).toBe(true);
  });
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function decodeAll(bytes: Buffer): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  new FrameDecoder({ onFrame: (c, p) => out.push([c, Buffer.from(p)]) }).push(bytes);
  return out;
}

describe('FrameWriter', () => {
  it('coalesces the small frames of one tick into ONE stream.write', async () => {
    const sink = new Sink();
    const write = vi.spyOn(sink, 'write');
    const writer = new FrameWriter(sink);
    const payloads = Array.from({ length: 100 }, (_, i) => Buffer.from(`payload ${i}`));
    payloads.forEach((p, i) => expect(writer.write(i % 4, p)).toBe(true));
    expect(write).not.toHaveBeenCalled(); // nothing goes out before the end of the tick
    await tick();
    expect(write).toHaveBeenCalledTimes(1);
    expect(sink.calls).toHaveLength(1);
    expectFrames(
      decodeAll(sink.bytes),
      payloads.map((p, i) => [i % 4, p]),
    );
  });

  it('coalesces frames written across awaits in the same turn (nextTick runs after promise jobs)', async () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        for (let j = 0; j < i; j++) await Promise.resolve(); // one microtask tick
        writer.write(1, Buffer.from([i]));
      }),
    );
    await tick();
    expect(sink.calls).toHaveLength(1);
    expect(decodeAll(sink.bytes).map(([, p]) => p[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('copies small payloads at write(), so the caller may reuse them', async () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    const scratch = Buffer.from('abc');
    writer.write(1, scratch);
    scratch.fill(0);
    await tick();
    expectFrames(decodeAll(sink.bytes), [[1, Buffer.from('abc')]]);
  });

  it('writes a large payload by reference after its header (one writev), never copying it', async () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    const big = Buffer.alloc(1 << 20, 7);
    writer.write(1, Buffer.from('small before'));
    writer.write(3, big);
    writer.write(1, Buffer.from('small after'));
    await tick();
    // [small frame + big header] and [big payload] in one corked writev, then the small frame of later
    expect(sink.calls[0]).toHaveLength(2);
    expect(sink.calls[0]![1]).toBe(big); // the very same buffer: no copy
    expect(sink.calls[0]![0]!.length).toBe(8 + 12 + 8);
    expectFrames(decodeAll(sink.bytes), [
      [1, Buffer.from('small before')],
      [3, big],
      [1, Buffer.from('small after')],
    ]);
  });

  it('writes a large Uint8Array without copying its memory', async () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    const big = new Uint8Array(LARGE_PAYLOAD).fill(9);
    writer.write(2, big);
    await tick();
    const chunks = sink.calls.flat();
    expect(chunks.some((c) => c.buffer === big.buffer && c.byteOffset === big.byteOffset)).toBe(true);
    expectFrames(decodeAll(sink.bytes), [[2, Buffer.from(big)]]);
  });

  it('flushNow() hands queued frames over synchronously', () => {
    const sink = new Sink();
    const write = vi.spyOn(sink, 'write');
    const writer = new FrameWriter(sink);
    writer.write(0, Buffer.from('now'));
    writer.flushNow();
    expect(write).toHaveBeenCalledTimes(1);
    writer.flushNow(); // nothing queued: no write
    expect(write).toHaveBeenCalledTimes(1);
  });

  it("flushes early once a tick has queued the stream's high-water mark (at least 64 KiB)", () => {
    const sink = new Sink(); // highWaterMark 16 KiB: the threshold is 64 KiB
    const write = vi.spyOn(sink, 'write');
    const writer = new FrameWriter(sink);
    for (let i = 0; i < 128; i++) writer.write(1, Buffer.alloc(1016)); // 1 KiB frames
    expect(write).toHaveBeenCalledTimes(2);
  });

  it("reports backpressure: write() returns false while the stream's buffer is full", () => {
    const sink = new Sink({ highWaterMark: 1024, manual: true });
    const writer = new FrameWriter(sink);
    expect(writer.write(1, Buffer.alloc(500))).toBe(true);
    expect(writer.write(1, Buffer.alloc(LARGE_PAYLOAD))).toBe(false); // a large payload goes out at once
    expect(writer.writeRaw(Buffer.alloc(10))).toBe(false);
    sink.release();
    expect(writer.write(1, Buffer.alloc(10))).toBe(true);
  });

  it('drops frames for a destroyed or ended stream without throwing or emitting errors', async () => {
    const sink = new Sink();
    const errors: unknown[] = [];
    sink.on('error', (e) => errors.push(e));
    const writer = new FrameWriter(sink);
    writer.write(1, Buffer.from('queued'));
    sink.destroy(); // before the scheduled flush
    expect(() => writer.write(1, Buffer.from('after'))).not.toThrow();
    expect(writer.write(1, Buffer.alloc(1 << 17))).toBe(false);
    expect(writer.writeRaw(Buffer.alloc(10))).toBe(false);
    await tick();
    expect(sink.calls).toHaveLength(0);

    const ended = new Sink();
    ended.on('error', (e) => errors.push(e));
    const w2 = new FrameWriter(ended);
    ended.end();
    w2.write(1, Buffer.from('late'));
    w2.flushNow();
    await tick();
    expect(errors).toEqual([]);
  });

  it('refuses oversized payloads and bad channels without queueing anything', async () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    // a payload the u32 length cannot express (not allocated: only its byteLength is read)
    expect(() => writer.write(1, { byteLength: 2 ** 32 } as Uint8Array)).toThrow(FrameTooLargeError);
    expect(() => writer.write(-1, Buffer.alloc(1))).toThrow(RangeError);
    expect(() => writer.write(2 ** 32, Buffer.alloc(1))).toThrow(RangeError);
    writer.write(1, Buffer.alloc(10));
    await tick();
    expect(sink.bytes.equals(encodeFrame(1, Buffer.alloc(10)))).toBe(true);
  });

  it('writeRaw() relays pre-framed bytes with the same coalescing', async () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    const frame = encodeFrame(4, Buffer.from('relay'));
    writer.writeRaw(frame.subarray(0, 3));
    writer.writeRaw(frame.subarray(3));
    writer.write(5, Buffer.from('own'));
    await tick();
    expect(sink.calls).toHaveLength(1);
    expectFrames(decodeAll(sink.bytes), [
      [4, Buffer.from('relay')],
      [5, Buffer.from('own')],
    ]);
  });

  it('spans slabs: many frames in one tick still arrive intact and in order', async () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    const sent: [number, Buffer][] = [];
    for (let i = 0; i < 3000; i++) {
      const p = Buffer.alloc(i % 200, i & 0xff);
      sent.push([i % 7, p]);
      writer.write(i % 7, p);
    }
    await tick();
    expectFrames(decodeAll(sink.bytes), sent);
  });
});
