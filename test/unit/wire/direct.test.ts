import { describe, expect, it } from 'vitest';
import {
  encodeBoot,
  encodeLinkHello,
  HELLO_SIZE,
  KEY_SIZE,
  parseBoot,
  parseLinkHello,
} from '../../../src/wire/direct.js';
import { FrameDecoder } from '../../../src/wire/frame-decoder.js';

const key = Buffer.from(Array.from({ length: KEY_SIZE }, (_, i) => i * 7));

describe('direct link handshake', () => {
  it('a hello carries the worker id and its key, in one frame of a fixed size', () => {
    const hello = encodeLinkHello(key, 3);
    expect(hello.length).toBe(HELLO_SIZE);
    const parsed = parseLinkHello(hello)!;
    expect(parsed.id).toBe(3);
    expect(parsed.key.equals(key)).toBe(true);
  });

  it('anything else is not a hello: short, long, worker 0, another channel', () => {
    const hello = encodeLinkHello(key, 3);
    expect(parseLinkHello(hello.subarray(0, HELLO_SIZE - 1))).toBeUndefined();
    expect(parseLinkHello(Buffer.concat([hello, Buffer.from([0])]))).toBeUndefined();
    expect(parseLinkHello(encodeLinkHello(key, 0))).toBeUndefined();
    const otherChannel = Buffer.from(hello);
    otherChannel.writeUInt32BE(1, 4);
    expect(parseLinkHello(otherChannel)).toBeUndefined();
    expect(parseLinkHello(Buffer.alloc(HELLO_SIZE, 0xff))).toBeUndefined();
  });

  it('the boot frame round-trips the first workers and their keys; a malformed one throws', () => {
    const frames: Buffer[] = [];
    const workers: [number, Buffer][] = [
      [1, key],
      [2, Buffer.alloc(KEY_SIZE, 9)],
    ];
    new FrameDecoder({ maxFrame: 1024, onFrame: (ch: number, p: Buffer) => (expect(ch).toBe(0), frames.push(p)) }).push(
      encodeBoot(workers),
    );
    expect(parseBoot(frames[0]!)).toEqual(workers);
    expect(parseBoot(encodeBoot([]).subarray(8))).toEqual([]);
    expect(() => parseBoot(frames[0]!.subarray(0, 10))).toThrow(/malformed boot frame/);
    expect(() => parseBoot(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(/malformed boot frame/);
  });
});
