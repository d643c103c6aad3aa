// isolation: 'none': the same API over plain child processes, for machines without systemd.
import { describe, expect, it } from 'vitest';
import { OptionError, TaskTimeoutError, UnitPool } from '../../src/index.js';

describe("isolation: 'none'", () => {
  it('runs tasks, maps, handles crashes and timeouts, with no unit', async () => {
    await using pool = new UnitPool({ isolation: 'none', maxWorkers: 2 });
    expect(await pool.submit((a: number, b: number) => a + b, [2, 3])).toBe(5);
    expect(pool.unit).toBeUndefined();
    const progress: number[] = [];
    const out: number[] = [];
    for await (const y of pool.map((x: number) => x + 1, [1, 2, 3, 4, 5], {
      chunksize: 2,
      onProgress: (p) => progress.push(p.done),
    }))
      out.push(y);
    expect(out).toEqual([2, 3, 4, 5, 6]);
    expect(progress).toEqual([2, 4, 5]);
    await expect(pool.submit(() => process.exit(4))).rejects.toMatchObject({ name: 'WorkerExitedError', exitCode: 4 });
    await expect(
      pool.submit(
        () => {
          for (;;);
        },
        [],
        { timeout: 200 },
      ),
    ).rejects.toBeInstanceOf(TaskTimeoutError);
    expect(await pool.submit(() => 'alive')).toBe('alive');
    // Tasks, not items: 1 submit + 3 map chunks + 1 submit succeeded; the exit and the timeout failed.
    expect(pool.stats()).toMatchObject({ done: 5, failed: 2, queued: 0, running: 0 });
  });

  it('refuses confinement it cannot give, naming the option', () => {
    expect(() => new UnitPool({ isolation: 'none', properties: { MemoryMax: '1G' } })).toThrow(OptionError);
    expect(() => new UnitPool({ isolation: 'none', properties: { MemoryMax: '1G' } })).toThrow(
      /properties.*isolation: 'none'.*unitpool sandbox/s,
    );
    expect(() => new UnitPool({ isolation: 'none', preset: 'untrusted' })).toThrow(/preset/);
  });
});
