// pool.stream(fn, args): an async generator in a worker, consumed by a for await loop here, with backpressure
// across the process boundary, cancellation that runs the generator's finally, and errors where they happen.
import { afterAll, describe, expect, it } from 'vitest';
import { UnitPool } from '../../dist/src/index.js';

// isolation 'pool': the workers share the unit's /tmp, so a second task can look at what the first one did.
const pool = new UnitPool({ maxWorkers: 2 });
afterAll(() => pool.shutdown());

const readMark = (name) =>
  pool.submit(
    async (file) => {
      const { readFileSync } = await import('node:fs');
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return 'none';
      }
    },
    [name],
  );

describe('stream', () => {
  it('yields what the generator yields, in order, then ends', async () => {
    const out = [];
    for await (const row of pool.stream(
      async function* (n) {
        for (let i = 0; i < n; i++) yield { row: i };
      },
      [1000],
    ))
      out.push(row.row);
    expect(out).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('takes a function that returns a sync iterable too', async () => {
    const out = [];
    for await (const x of pool.stream((n) => Array.from({ length: n }, (_, i) => i * i), [5])) out.push(x);
    expect(out).toEqual([0, 1, 4, 9, 16]);
  });

  it('the worker runs no more than the window ahead of a slow consumer', async () => {
    const mark = `/tmp/unitpool-stream-ahead-${process.pid}`;
    const seen = [];
    for await (const i of pool.stream(
      async function* (file) {
        const { writeFileSync } = await import('node:fs');
        for (let i = 0; i < 10_000; i++) {
          writeFileSync(file, String(i));
          yield i;
        }
      },
      [mark],
      { window: 8 },
    )) {
      seen.push(i);
      if (seen.length === 5) {
        await new Promise((r) => setTimeout(r, 300));
        // 5 taken, 8 more may be on their way: the generator has produced at most 5 + 8 (+1 waiting for a credit).
        expect(Number(await readMark(mark))).toBeLessThanOrEqual(5 + 8 + 1);
      }
      if (seen.length === 50) break;
    }
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('leaving the loop stops the generator: its finally runs in the worker before the loop is done', async () => {
    const mark = `/tmp/unitpool-stream-finally-${process.pid}`;
    for await (const i of pool.stream(
      async function* (file) {
        const { writeFileSync } = await import('node:fs');
        try {
          for (let i = 0; ; i++) yield i;
        } finally {
          writeFileSync(file, 'finally ran');
        }
      },
      [mark],
    )) {
      if (i === 3) break;
    }
    expect(await readMark(mark)).toBe('finally ran');
    // The worker that ran it takes tasks again.
    const pids = new Set(await Promise.all(Array.from({ length: 8 }, () => pool.submit(() => process.pid))));
    expect(pids.size).toBe(2);
  });

  it('an error in the generator comes out of the loop after the values before it', async () => {
    const out = [];
    const loop = async () => {
      for await (const x of pool.stream(async function* () {
        yield 1;
        yield 2;
        throw new RangeError('row 3 is broken');
      }))
        out.push(x);
    };
    await expect(loop()).rejects.toThrow(RangeError);
    expect(out).toEqual([1, 2]);
  });

  it('a value that cannot be sent fails the stream at that value, naming it', async () => {
    const out = [];
    const loop = async () => {
      for await (const x of pool.stream(async function* () {
        yield 'fine';
        yield { handler: () => 1 };
      }))
        out.push(x);
    };
    await expect(loop()).rejects.toMatchObject({
      name: 'SerializationError',
      path: 'item.handler',
      direction: 'from-worker',
    });
    expect(out).toEqual(['fine']);
  });

  it('a function that returns no iterable is refused with a clear error', async () => {
    const loop = async () => {
      for await (const _ of pool.stream(() => 42)) void _;
    };
    await expect(loop()).rejects.toThrow(
      /fn must be an async generator function, or return an iterable; it returned number/,
    );
  });

  it('a stream left before its task started is dropped', async () => {
    const busy = [
      pool.submit(() => new Promise((r) => setTimeout(r, 300))),
      pool.submit(() => new Promise((r) => setTimeout(r, 300))),
    ];
    const it = pool.stream(async function* () {
      yield 'never';
    });
    await it.return();
    await Promise.all(busy);
    expect(pool.stats().queued).toBe(0);
  });
});
