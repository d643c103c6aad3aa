import { describe, expect, it } from 'vitest';
import { decode } from '../../../src/wire/codec.js';
import { encodeDirectHello, encodeSupervisorHello, HELLO_SIZE, parseDirectHello, TOKEN_SIZE } from '../../../src/wire/direct.js';
import { FrameDecoder } from '../../../src/wire/frame.js';
import { FromSupervisor } from '../../../src/wire/messages.js';

const token = Buffer.from(Array.from({ length: TOKEN_SIZE }, (_, i) => i * 7));

describe('direct connection handshake', () => {
  it("the supervisor's hand-encoded Hello is the codec's [Hello, pid, token]", () => {
    const frames: [number, Buffer][] = [];
    new FrameDecoder({ maxFrame: 1024, onFrame: (ch: number, p: Buffer) => frames.push([ch, p]) }).push(encodeSupervisorHello(FromSupervisor.Hello, 4_000_000_123, token));
    expect(frames).toHaveLength(1);
    expect(frames[0]![0]).toBe(0);
    const msg = decode(frames[0]![1]) as unknown[];
    expect(msg[0]).toBe(FromSupervisor.Hello);
    expect(msg[1]).toBe(4_000_000_123);
    expect(Buffer.from(msg[2] as Uint8Array).equals(token)).toBe(true);
  });

  it('a hello is admitted only with the token, whole, for a worker id >= 1', () => {
    const hello = encodeDirectHello(token, 3);
    expect(hello.length).toBe(HELLO_SIZE);
    expect(parseDirectHello(hello, token)).toBe(3);
    const wrong = Buffer.from(token);
    wrong[5]! ^= 1;
    expect(parseDirectHello(hello, wrong)).toBeUndefined();
    expect(parseDirectHello(hello.subarray(0, HELLO_SIZE - 1), token)).toBeUndefined();
    expect(parseDirectHello(Buffer.concat([hello, Buffer.from([0])]), token)).toBeUndefined();
    expect(parseDirectHello(encodeDirectHello(token, 0), token)).toBeUndefined();
    const otherChannel = Buffer.from(hello);
    otherChannel.writeUInt32BE(1, 4);
    expect(parseDirectHello(otherChannel, token)).toBeUndefined();
  });
});
