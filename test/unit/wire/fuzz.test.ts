// Untrusted bytes into FrameDecoder, FrameRouter and decode(): only Errors (ProtocolError) may come out,
// never a crash or a hang, and memory stays bounded by maxFrame.
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import { decode, encode } from '../../../src/wire/codec.js';
import { FrameDecoder } from '../../../src/wire/frame-decoder.js';
import { FrameRouter } from '../../../src/wire/frame-router.js';
import { encodeFrame, FrameTooLargeError } from '../../../src/wire/frame.js';

/** mulberry32: a small seeded PRNG, so failures reproduce. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    bytes(n: number): Buffer {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
      return b;
    },
  };
}

/** Splits `data` into random chunks. */
function chunks(data: Buffer, r: ReturnType<typeof rng>): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < data.length) {
    const size = 1 + r.int(r.next() < 0.7 ? 16 : 4096);
    out.push(data.subarray(off, off + size));
    off += size;
  }
  return out;
}

const SPECIAL = [
  0x00, 0xff, 0x7f, 0x80, 0xc1, 0xc6, 0xc9, 0xd4, 0xd5, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x91, 0x72, 0x55, 0x74, 0x42,
];

function mutate(input: Buffer, r: ReturnType<typeof rng>): Buffer {
  const b = Buffer.from(input);
  const kind = r.int(7);
  if (b.length === 0) return r.bytes(1 + r.int(8));
  switch (kind) {
    case 0: // flip bits
      for (let i = 0, n = 1 + r.int(4); i < n; i++) b[r.int(b.length)]! ^= 1 << r.int(8);
      return b;
    case 1: // special bytes
      for (let i = 0, n = 1 + r.int(3); i < n; i++) b[r.int(b.length)] = SPECIAL[r.int(SPECIAL.length)]!;
      return b;
    case 2: // truncate
      return b.subarray(0, r.int(b.length));
    case 3: {
      // insert random bytes
      const at = r.int(b.length);
      return Buffer.concat([b.subarray(0, at), r.bytes(1 + r.int(6)), b.subarray(at)]);
    }
    case 4: {
      // a maximal 32-bit length somewhere
      const at = r.int(Math.max(1, b.length - 4));
      if (b.length >= at + 4) b.writeUInt32BE(r.next() < 0.5 ? 0xffffffff : 0x7fffffff, at);
      return b;
    }
    case 5: {
      // duplicate a slice
      const from = r.int(b.length);
      const to = from + r.int(b.length - from);
      return Buffer.concat([b, b.subarray(from, to)]);
    }
    default:
      return r.bytes(r.int(64));
  }
}

describe('fuzz: frames', () => {
  const maxFrame = 64 * 1024;

  let delivered = 0;
  function feedDecoder(data: Buffer, r: ReturnType<typeof rng>): void {
    const decoder = new FrameDecoder({
      maxFrame,
      onFrame: (channel, payload) => {
        delivered++;
        expect(payload.length).toBeLessThanOrEqual(maxFrame);
        expect(channel).toBeGreaterThanOrEqual(0);
      },
    });
    try {
      for (const chunk of chunks(data, r)) decoder.push(chunk);
    } catch (err) {
      expect(err).toBeInstanceOf(ProtocolError);
    }
  }

  function feedRouter(data: Buffer, r: ReturnType<typeof rng>): void {
    // what the router passes on is well framed: a decoder of its pieces never fails, and sees each frame on the
    // channel the router named for its pieces
    let pieceChannel = -1;
    const relayed = new FrameDecoder({
      maxFrame,
      onFrame: (channel) => {
        expect(channel).toBeGreaterThanOrEqual(1);
        expect(channel).toBe(pieceChannel);
      },
    });
    const router = new FrameRouter({
      maxFrame,
      onPiece: (channel, piece) => {
        pieceChannel = channel;
        relayed.push(piece);
      },
      onControlFrame: (payload) => expect(payload.length).toBeLessThanOrEqual(maxFrame),
    });
    try {
      for (const chunk of chunks(data, r)) router.push(chunk);
    } catch (err) {
      expect(err).toBeInstanceOf(ProtocolError);
    }
  }

  it('random bytes: only FrameTooLargeError/ProtocolError', () => {
    const r = rng(1);
    let tooLarge = 0;
    for (let i = 0; i < 2000; i++) {
      const data = r.bytes(r.int(2000));
      // make small lengths likely too, so frames actually complete
      if (data.length >= 4 && r.next() < 0.5) data.writeUInt32BE(r.int(200), 0);
      try {
        const d = new FrameDecoder({ maxFrame, onFrame: () => {} });
        d.push(data);
      } catch (err) {
        expect(err).toBeInstanceOf(FrameTooLargeError);
        tooLarge++;
      }
      feedDecoder(data, r);
      feedRouter(data, r);
    }
    expect(tooLarge).toBeGreaterThan(0);
  });

  it('mutated valid streams', () => {
    const r = rng(2);
    const valid = Buffer.concat(Array.from({ length: 30 }, (_, i) => encodeFrame(i % 4, r.bytes(r.int(300)))));
    for (let i = 0; i < 2000; i++) {
      const data = mutate(valid, r);
      feedDecoder(data, r);
      feedRouter(data, r);
    }
    expect(delivered).toBeGreaterThan(10_000);
  });
});

describe('fuzz: decode()', () => {
  const corpus: Buffer[] = [
    [2, 17, 3, [1, 'two', { three: 3 }]],
    [1, 17, { ok: true, value: [1.5, -0, NaN, 2n ** 80n, -5n] }],
    [2, 9, Object.assign(new TypeError('bad', { cause: new RangeError('inner') }), { code: 'E_X' })],
    new AggregateError([new Error('a')], 'agg'),
    {
      m: new Map<unknown, unknown>([
        [1, 'a'],
        [{ k: 1 }, [new Set([1, 2])]],
      ]),
      d: new Date(12345),
      re: /x+/g,
    },
    [
      Buffer.from('buffer bytes'),
      new Uint8Array([1, 2]),
      new Float64Array([1, 2]),
      new BigInt64Array([-1n]),
      new ArrayBuffer(4),
    ],
    { a: { b: { c: { d: [undefined, null, true, false, '', 'x'.repeat(300)] } } } },
    Array.from({ length: 40 }, (_, i) => ({ id: i, name: `n${i}`, tags: [i, i * 2] })),
    'plain string',
    12345678901234,
  ].map((v) => Buffer.from(encode(v)));

  const outcome = { ok: 0, failed: 0 };
  /** Decodes; asserts that anything thrown is a ProtocolError; returns the time taken. */
  function tryDecode(input: Buffer): number {
    const t0 = performance.now();
    try {
      decode(input);
      outcome.ok++;
    } catch (err) {
      outcome.failed++;
      if (!(err instanceof ProtocolError))
        throw new Error(`decode threw a non-ProtocolError for ${input.toString('hex').slice(0, 200)}`, { cause: err });
    }
    return performance.now() - t0;
  }

  it('corpus decodes', () => {
    for (const c of corpus) expect(() => decode(c)).not.toThrow();
  });

  it('mutated and random inputs only throw ProtocolError, quickly, with bounded memory', () => {
    const r = rng(3);
    const rssBefore = process.memoryUsage().rss;
    let worst = 0;
    let total = 0;
    for (let i = 0; i < 30_000; i++) {
      const input = i % 5 === 0 ? r.bytes(r.int(100)) : mutate(corpus[r.int(corpus.length)]!, r);
      const ms = tryDecode(input);
      worst = Math.max(worst, ms);
      total += ms;
      if (i % 1000 === 0) {
        // the decoder's shared state survives failures
        expect(decode(corpus[0]!)).toEqual([2, 17, 3, [1, 'two', { three: 3 }]]);
      }
    }
    const grown = process.memoryUsage().rss - rssBefore;
    // both paths were exercised
    expect(outcome.ok).toBeGreaterThan(2000);
    expect(outcome.failed).toBeGreaterThan(2000);
    expect(worst).toBeLessThan(500);
    expect(total).toBeLessThan(20_000);
    expect(grown).toBeLessThan(512 * 1024 * 1024);
  });

  it('tiny inputs that declare huge sizes fail fast without allocating them', () => {
    const huge = [
      [0xdd, 0xff, 0xff, 0xff, 0xff], // array32
      [0xdf, 0xff, 0xff, 0xff, 0xff], // map32
      [0xdb, 0xff, 0xff, 0xff, 0xff], // str32
      [0xc6, 0xff, 0xff, 0xff, 0xff], // bin32
      [0xc9, 0xff, 0xff, 0xff, 0xff, 0x74], // ext32 typed array
      [0xc9, 0xff, 0xff, 0xff, 0xff, 0x42], // ext32 bigint
      [
        0xdc,
        0xff,
        0xff,
        ...Array(20)
          .fill(0xdc)
          .flatMap(() => [0xdc, 0xff, 0xff]),
      ], // nested array16s
      [0xd4, 0x72, 0x40, 0xdd, 0xff, 0xff, 0xff, 0xff], // record definition with a huge key list
      [0xd4, 0x55, 0x00, 0xdd, 0x7f, 0xff, 0xff, 0xff], // our extension with a huge array
      Array(100_000).fill(0x91), // very deep nesting: stack overflow becomes an error
    ];
    const before = process.memoryUsage().arrayBuffers;
    for (const bytes of huge) {
      const input = Buffer.from(bytes);
      expect(() => decode(input)).toThrow(ProtocolError);
      expect(tryDecode(input)).toBeLessThan(200);
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('malformed unitpool extension values are refused', () => {
    const bad = [
      [0xd4, 0x55, 0x00, 0x07], // not an array
      [0xd4, 0x55, 0x00, 0x91, 0x09], // unknown tag
      [0xd4, 0x55, 0x00, 0x92, 0x00, 0x01], // error too short
      [0xd4, 0x55, 0x00, 0x96, 0x00, 0x01, 0xa0, 0xc0, 0xc0, 0xc0], // name not a string
    ];
    for (const bytes of bad) expect(() => decode(Buffer.from(bytes))).toThrow(/malformed unitpool extension value/);
  });
});
