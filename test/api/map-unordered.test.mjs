// map(fn, items, { ordered: false }): results as their chunks complete (Python's as_completed, imap_unordered),
// with map's laziness and bounds. Plain JavaScript, as a user without TypeScript writes it.
import { afterAll, describe, expect, it } from 'vitest';
import { UnitPool } from '../../dist/src/index.js';

const pool = new UnitPool({ maxWorkers: 2 });
afterAll(() => pool.shutdown());

const sleepy = (ms) => new Promise((resolve) => setTimeout(() => resolve(ms), ms));

describe('map with ordered: false', () => {
  it('yields a fast item before a slow one submitted earlier; every item exactly once', async () => {
    const out = [];
    for await (const ms of pool.map(sleepy, [600, 0, 0, 0, 0, 0], { ordered: false })) out.push(ms);
    expect(out.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    expect(out[5]).toBe(600);
    // In order, the slow first item holds every other back.
    const ordered = [];
    for await (const ms of pool.map(sleepy, [300, 0, 0])) ordered.push(ms);
    expect(ordered).toEqual([300, 0, 0]);
  });

  it('keeps a chunk together and in order; all of a large map arrives', async () => {
    const items = Array.from({ length: 5000 }, (_, i) => i);
    const out = [];
    for await (const y of pool.map((x) => x * 2, items, { ordered: false, chunksize: 100 })) out.push(y);
    expect(out.length).toBe(5000);
    expect([...out].sort((a, b) => a - b)).toEqual(items.map((x) => x * 2));
    for (let i = 0; i < out.length; i += 100)
      expect(out.slice(i, i + 100)).toEqual(Array.from({ length: 100 }, (_, k) => out[i] + 2 * k));
  });

  it('pulls input lazily, in bounds, and cancels what has not started when the loop is left', async () => {
    let pulled = 0;
    function* items() {
      for (let i = 0; i < 1_000_000; i++) {
        pulled++;
        yield i;
      }
    }
    let seen = 0;
    for await (const _ of pool.map((x) => x, items(), { chunksize: 10, ordered: false })) {
      if (++seen === 25) break;
    }
    expect(pulled).toBeLessThanOrEqual(256 * 10 + 25);
    await expect(pool.submit(() => 'still fine')).resolves.toBe('still fine');
    expect(pool.stats().queued).toBe(0);
  });

  it('throws a failing chunk when it completes, not when its turn in input order comes', async () => {
    const started = Date.now();
    const task = (ms) =>
      ms === 1 ? Promise.reject(new RangeError('one failed')) : new Promise((r) => setTimeout(r, ms));
    const it = pool.map(task, [1500, 1], { ordered: false });
    await expect(it.next()).rejects.toThrow(/one failed/);
    expect(Date.now() - started).toBeLessThan(1200);
  });
});
