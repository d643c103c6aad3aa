// Payload memory used again (src/wire/staging.ts): what the pool gives back is handed out for the next large payload
// of about its size, nothing it did not lend is taken, and small payloads are allocated as usual.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { acquire, release, STAGING_MIN } from '../../../src/wire/staging.js';
import { encodeWithPath, releasePayload } from '../../../src/wire/codec.js';
import { FrameWriter } from '../../../src/wire/frame-writer.js';

describe('staging', () => {
  it('memory given back carries the next payload of about its size, once', () => {
    const a = acquire(STAGING_MIN * 2);
    release(a);
    const b = acquire(STAGING_MIN * 2 - 100);
    expect(b.buffer).toBe(a.buffer);
    expect(b.length).toBe(STAGING_MIN * 2 - 100);
    expect(acquire(STAGING_MIN * 2).buffer).not.toBe(a.buffer); // lent out: not handed out twice
    release(b);
    expect(acquire(STAGING_MIN * 5).buffer).not.toBe(a.buffer); // too small for it
    expect(acquire(STAGING_MIN / 2).buffer).not.toBe(a.buffer); // small: allocated as usual
    expect(acquire(STAGING_MIN * 2).buffer).toBe(a.buffer);
  });

  it('ignores what it did not lend, and what is given back twice', () => {
    const foreign = Buffer.alloc(STAGING_MIN * 3);
    release(foreign);
    expect(acquire(STAGING_MIN * 3).buffer).not.toBe(foreign.buffer);
    const a = acquire(STAGING_MIN * 4);
    release(a);
    release(a);
    expect(acquire(STAGING_MIN * 4).buffer).toBe(a.buffer);
    expect(acquire(STAGING_MIN * 4).buffer).not.toBe(a.buffer);
  });

  it("a large argument's payload is staging memory: given back, the next one is copied there", () => {
    const first = encodeWithPath([2, 1, 1, [Buffer.alloc(STAGING_MIN, 1)]], 'args', 3);
    releasePayload(first);
    const second = encodeWithPath([2, 2, 1, [Buffer.alloc(STAGING_MIN, 2)]], 'args', 3);
    expect(second.buffer).toBe(first.buffer);
  });

  it('memory given back while a FrameWriter still writes from it is handed out only once that write is done', async () => {
    const held: (() => void)[] = [];
    const sink = new Writable({
      write(_chunk, _encoding, cb) {
        held.push(cb);
      },
      writev(_chunks, cb) {
        held.push(cb);
      },
    });
    const payload = acquire(STAGING_MIN);
    new FrameWriter(sink).write(1, payload);
    release(payload); // (a worker that replied before it read the frame)
    expect(acquire(STAGING_MIN).buffer).not.toBe(payload.buffer);
    for (const cb of held.splice(0)) cb();
    await new Promise((resolve) => setImmediate(resolve));
    expect(acquire(STAGING_MIN).buffer).toBe(payload.buffer);
  });
});
