// Large binary values travel beside the message (src/wire/attachments.ts), written by reference where that is
// safe: what is sent is what the value held when it was submitted or returned, whatever the caller or the task does
// with its memory afterwards; every binary kind comes back as itself, on a direct link and relayed.
import { afterAll, describe, expect, it } from 'vitest';
import { UnitPool } from '../../dist/src/index.js';

const MiB = 1024 * 1024;
const pools = {
  direct: new UnitPool({ maxWorkers: 1 }),
  relayed: new UnitPool({ maxWorkers: 1, isolation: 'none' }),
};
afterAll(() => Promise.all(Object.values(pools).map((p) => p.shutdown())));

describe.each(Object.keys(pools))('large payloads (%s)', (kind) => {
  const pool = pools[kind];

  it('a large Buffer and typed arrays go there and back as themselves', async () => {
    const buf = Buffer.alloc(8 * MiB + 3, 0xab);
    buf[0] = 1;
    const f64 = new Float64Array(100_000).map((_, i) => i / 3);
    const ab = new Uint8Array(70_000).fill(7).buffer;
    const [b, f, a, sum] = await pool.submit(
      (b, f, a) => [b, f, a, b[0] + b[b.length - 1] + f[99_999] + new Uint8Array(a)[69_999]],
      [buf, f64, ab],
    );
    expect(Buffer.isBuffer(b) && b.equals(buf)).toBe(true);
    expect(f).toBeInstanceOf(Float64Array);
    expect(Buffer.from(f.buffer, f.byteOffset, f.byteLength).equals(Buffer.from(f64.buffer))).toBe(true);
    expect(a).toBeInstanceOf(ArrayBuffer);
    expect(new Uint8Array(a)).toEqual(new Uint8Array(ab));
    expect(sum).toBe(1 + 0xab + 99_999 / 3 + 7);
  });

  it('a Buffer changed right after submit() is sent as it was, also while the task waits in the queue', async () => {
    const busy = pool.submit(() => new Promise((r) => setTimeout(r, 300)));
    const buf = Buffer.alloc(4 * MiB, 1);
    const seen = pool.submit((b) => b.reduce((s, x) => s + x, 0), [buf]);
    buf.fill(2);
    await busy;
    expect(await seen).toBe(4 * MiB);
  });

  it('a task that reuses the Buffer it returned does not change what was sent', async () => {
    // quick tasks first, so that the pool sends several to the worker at once (tasks queue up in it)
    await Promise.all(Array.from({ length: 2000 }, () => pool.submit(() => 0)));
    const fill = (n) => (globalThis.__scratch ??= Buffer.alloc(1024 * 1024)).fill(n);
    const results = await Promise.all(Array.from({ length: 40 }, (_, n) => pool.submit(fill, [n])));
    results.forEach((b, n) => {
      expect(b.length).toBe(MiB);
      expect(b[0] === n && b[MiB - 1] === n && b.every((x) => x === n)).toBe(true);
    });
  });
});
