// Large binary values out of band (src/wire/attachments.ts): they round-trip as what they were, go by reference in
// encodeParts() and as one copy in encode(), come back as views of the payload where they can, and a payload whose
// references do not fit is refused with a ProtocolError, never a crash.
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import { ATTACH_MIN, MARKER } from '../../../src/wire/attachments.js';
import { Codec, decode, encode, encodeParts, encodeWithPath } from '../../../src/wire/codec.js';

const big = (n = ATTACH_MIN, seed = 1) => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};
const joined = (parts: Uint8Array[]) => Buffer.concat(parts);

describe('attachments', () => {
  it('every binary kind of ATTACH_MIN bytes or more round-trips as itself, inside containers and errors', () => {
    const bytes = big(ATTACH_MIN + 8 * 3);
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    const values = [
      Buffer.from(bytes),
      new Uint8Array(ab.slice(0)),
      new Int8Array(ab.slice(0)),
      new Uint8ClampedArray(ab.slice(0)),
      new Int16Array(ab.slice(0)),
      new Uint16Array(ab.slice(0)),
      new Int32Array(ab.slice(0)),
      new Uint32Array(ab.slice(0)),
      new Float32Array(ab.slice(0)),
      new Float64Array(ab.slice(0)),
      new BigInt64Array(ab.slice(0)),
      new BigUint64Array(ab.slice(0)),
      new DataView(ab.slice(0)),
      ab.slice(0),
    ];
    const message = [
      2,
      7,
      { list: values, map: new Map([['k', Buffer.from(bytes)]]), err: Object.assign(new Error('e'), { data: bytes }) },
    ];
    for (const payload of [encode(message), joined(encodeParts(message, 'args', 2))]) {
      expect(payload[0]).toBe(MARKER);
      expect(payload.length).toBeLessThan(17 * bytes.length); // each once, none inside the body
      const back = decode(payload) as [number, number, { list: unknown[]; map: Map<string, Buffer>; err: Error }];
      back[2].list.forEach((v, i) => {
        expect(Object.getPrototypeOf(v)).toBe(Object.getPrototypeOf(values[i]));
        expect(v).toEqual(values[i]);
      });
      expect(back[2].map.get('k')).toEqual(bytes);
      expect((back[2].err as Error & { data: Buffer }).data).toEqual(bytes);
    }
  });

  it('small binary values stay inside the body (plain MessagePack)', () => {
    const payload = encode([1, Buffer.alloc(ATTACH_MIN - 1, 3), new Float64Array(10)]);
    expect(payload[0]).not.toBe(MARKER);
    expect(decode(payload)).toEqual([1, Buffer.alloc(ATTACH_MIN - 1, 3), new Float64Array(10)]);
  });

  it('encodeParts() writes attachments by reference; encode() copies them, so the caller may change its own', () => {
    const buf = big(ATTACH_MIN * 2);
    const parts = encodeParts([1, 5, buf], 'result', 2);
    expect(parts.some((p) => p.buffer === buf.buffer && p.byteOffset === buf.byteOffset)).toBe(true);
    const copied = encodeWithPath([1, 5, buf], 'result', 2);
    const expected = Buffer.from(buf);
    buf.fill(0);
    expect((decode(copied) as unknown[])[2]).toEqual(expected);
    expect((decode(joined(parts)) as unknown[])[2]).toEqual(buf); // by reference: what the memory holds when written
  });

  it('decoded attachments are views of the payload where they can be, copies where alignment or copyBuffers asks', () => {
    const f64 = new Float64Array(ATTACH_MIN / 8).map((_, i) => i + 0.5);
    const payload = encode([Buffer.from(big()), f64]);
    const [b, f] = decode(payload) as [Buffer, Float64Array];
    expect(b.buffer).toBe(payload.buffer);
    expect(f.buffer).toBe(payload.buffer);
    // the same bytes one byte off alignment: the Float64Array must be a copy (and still right)
    const shifted = Buffer.allocUnsafeSlow(payload.length + 1).subarray(1);
    payload.copy(shifted);
    const [b2, f2] = decode(shifted) as [Buffer, Float64Array];
    expect(b2.buffer).toBe(shifted.buffer);
    expect(f2.buffer).not.toBe(shifted.buffer);
    expect(f2).toEqual(f64);
    const [b3] = new Codec({ copyBuffers: true }).decode(payload) as [Buffer];
    expect(b3.buffer).not.toBe(payload.buffer);
    expect(b3).toEqual(big());
  });

  it('refuses references that do not fit the payload, with a ProtocolError', () => {
    const good = encode([1, big(), big(ATTACH_MIN + 3, 2)]);
    const bodyEnd = 5 + good.readUInt32BE(1);
    const bad: Buffer[] = [
      good.subarray(0, good.length - 1), // the last attachment cut short
      Buffer.concat([good, Buffer.alloc(1)]), // a byte after the last attachment
      good.subarray(0, 4), // a prefix cut short
      Buffer.from([MARKER, 0xff, 0xff, 0xff, 0xff, 0x90]), // a body longer than the payload
      Buffer.from([MARKER, 0, 0, 0, 0]), // an empty body
      encode([1, 2]).subarray(0, 0), // nothing at all
    ];
    // a reference without the marker: the body alone
    bad.push(good.subarray(5, bodyEnd));
    for (const input of bad) expect(() => decode(input), input.toString('hex').slice(0, 40)).toThrow(ProtocolError);
    // every byte of the head changed every way: only ProtocolErrors, or a value
    for (let at = 0; at < bodyEnd + 8; at++) {
      for (const byte of [0x00, 0x01, 0x0d, 0x7f, 0xc1, 0xce, 0xff]) {
        const input = Buffer.from(good);
        input[at] = byte;
        try {
          decode(input);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
        }
      }
    }
  });
});
