// What comes back from a task and cannot be delivered says so precisely: a value that cannot be sent is a
// SerializationError with its path and direction, a result over maxFrame is a ResultTooLargeError naming sizes and
// the fix (and the pool goes on with the same worker), a task's unhandled rejection reaches the caller with its
// message and stack, and usage() without a unit refuses clearly.
import { afterAll, describe, expect, it } from 'vitest';
import { ResultTooLargeError, SerializationError, UnitPool, UsageError } from '../../dist/src/index.js';

const pool = new UnitPool({ maxWorkers: 1, maxFrame: 1024 * 1024 });
afterAll(() => pool.shutdown());

describe('results that cannot be delivered', () => {
  it('a result holding a function: SerializationError, its path inside the result, from the worker', async () => {
    const err = await pool.submit(() => ({ rows: [1, { format: () => 'x' }] })).catch((e) => e);
    expect(err).toBeInstanceOf(SerializationError);
    expect(err).toMatchObject({
      path: 'result.rows[1].format',
      direction: 'from-worker',
      code: 'ERR_UNITPOOL_SERIALIZE',
    });
    expect(err.message).toMatch(/result\.rows\[1\]\.format cannot be sent from the worker back to the pool/);
  });

  it('an argument that cannot be sent says the other way', async () => {
    const err = await pool.submit((f) => f, [{ cb: () => 1 }]).catch((e) => e);
    expect(err).toMatchObject({ name: 'SerializationError', path: 'args[0].cb', direction: 'to-worker' });
  });

  it('a result over maxFrame: ResultTooLargeError with the sizes and the fix; the same worker goes on', async () => {
    const pid = await pool.submit(() => process.pid);
    const err = await pool.submit(() => Buffer.alloc(2 * 1024 * 1024)).catch((e) => e);
    expect(err).toBeInstanceOf(ResultTooLargeError);
    expect(err).toMatchObject({ what: 'result', maxFrame: 1024 * 1024 });
    expect(err.size).toBeGreaterThan(2 * 1024 * 1024);
    expect(err.message).toMatch(/raise maxFrame/);
    expect(await pool.submit(() => process.pid)).toBe(pid);
  });

  it("a task's unhandled rejection reaches the caller with its message and stack", async () => {
    const err = await pool
      .submit(() => {
        void Promise.reject(new TypeError('nobody awaited me'));
        return new Promise((r) => setTimeout(r, 5000));
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe('nobody awaited me');
    expect(err.stack).toMatch(/nobody awaited me\n\s+at /);
    expect(await pool.submit(() => 'next')).toBe('next');
  });

  it("usage() of a pool with isolation: 'none' refuses with a UsageError that says why", async () => {
    const local = new UnitPool({ isolation: 'none', maxWorkers: 1 });
    try {
      expect(await local.submit(() => 2)).toBe(2);
      await expect(local.usage()).rejects.toBeInstanceOf(UsageError);
      await expect(local.usage()).rejects.toThrow(/isolation: 'none'/);
    } finally {
      await local.shutdown();
    }
  });
});
