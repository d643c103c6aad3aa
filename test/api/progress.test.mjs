// submit(fn, args, { onProgress }): progress(value) from 'unitpool/worker', inside the task, reaches the caller's
// callback in order and before the result; a task flooding progress is slowed down, not buffered.
// (Inside tasks the specifier is not a literal: Vitest rewrites import('unitpool/worker') in this file to a path of
// its own, which a worker cannot resolve; a plain script writes the literal, as the README does.)
import { afterAll, describe, expect, it } from 'vitest';
import { UnitPool, UsageError } from '../../dist/src/index.js';

const pool = new UnitPool({ maxWorkers: 2 });
afterAll(() => pool.shutdown());
const fixture = new URL('../fixtures/progress.mjs', import.meta.url);

describe('progress', () => {
  it('reports of a function sent as source arrive in order, before its result', async () => {
    const seen = [];
    const result = await pool.submit(
      async (n) => {
        const { progress } = await import(globalThis.UNITPOOL_WORKER ?? 'unitpool/worker');
        for (let i = 0; i < n; i++) await progress(i);
        return 'done';
      },
      [500],
      { onProgress: (v) => seen.push(v) },
    );
    expect(result).toBe('done');
    expect(seen).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('a module-referenced function imports progress from unitpool/worker', async () => {
    const seen = [];
    const result = await pool.submit({ module: fixture, name: 'countTo' }, [3], { onProgress: (v) => seen.push(v) });
    expect(result).toBe('counted');
    expect(seen).toEqual([
      { done: 1, of: 3 },
      { done: 2, of: 3 },
      { done: 3, of: 3 },
    ]);
  });

  it('a callback that throws rejects its task with that error; the pool goes on', async () => {
    const task = pool.submit(
      async () => {
        const { progress } = await import(globalThis.UNITPOOL_WORKER ?? 'unitpool/worker');
        await progress('x');
        return 'finished';
      },
      [],
      {
        onProgress: () => {
          throw new RangeError('the callback failed');
        },
      },
    );
    await expect(task).rejects.toThrow(/the callback failed/);
    expect(await pool.submit(() => 1)).toBe(1);
  });

  it('a flood of large reports waits for a slow caller: the worker never holds many of them', async () => {
    const report = Buffer.alloc(64 * 1024, 7);
    let calls = 0;
    const grew = await pool.submit(
      async (bytes) => {
        const { progress } = await import(globalThis.UNITPOOL_WORKER ?? 'unitpool/worker');
        globalThis.gc?.();
        const start = process.memoryUsage().rss;
        let peak = 0;
        for (let i = 0; i < 2000; i++) {
          await progress(bytes);
          peak = Math.max(peak, process.memoryUsage().rss - start);
        }
        return peak / 2 ** 20;
      },
      [report],
      {
        onProgress: () => {
          // a slow consumer: 2 ms per report, synchronously
          calls++;
          const until = Date.now() + 2;
          while (Date.now() < until);
        },
      },
    );
    expect(calls).toBe(2000);
    // 2000 reports of 64 KiB are 125 MiB; waiting on the channel keeps the worker far below that.
    expect(grew).toBeLessThan(40);
  });

  it('progress() outside a task says so', async () => {
    const { progress } = await import(globalThis.UNITPOOL_WORKER ?? 'unitpool/worker');
    expect(() => progress(1)).toThrow(UsageError);
    // and a task that reports nothing calls no callback
    let calls = 0;
    const quiet = await pool.submit(() => 'no report', [], { onProgress: () => calls++ });
    expect([quiet, calls]).toEqual(['no report', 0]);
  });
});
