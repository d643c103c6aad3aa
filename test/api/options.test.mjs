// Every options object is checked at run time, as plain JavaScript (no TypeScript to catch typos) needs: a
// misspelt key is an OptionError with "did you mean", a value of the wrong type says the expected form, and
// nothing already submitted is lost. map() over several iterables zips them, as Python's map does.
import { afterAll, describe, expect, it } from 'vitest';
import { OptionError, UnitPool } from '../../dist/src/index.js';

const pool = new UnitPool({ maxWorkers: 2 });
afterAll(() => pool.shutdown());

const thrown = (fn) => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('it did not throw');
};

describe('options objects are checked', () => {
  it.each([
    [{ propertes: { MemoryMax: '1G' } }, /unknown option ['"]propertes['"]; did you mean ['"]properties['"]\?/],
    [{ maxWorker: 4 }, /unknown option ['"]maxWorker['"]; did you mean ['"]maxWorkers['"]\?/],
    [{ maxWorkers: '4' }, /maxWorkers must be a positive integer \(a number, not a string\), got ['"]4['"]/],
    [{ isolation: 'workers' }, /isolation must be 'pool', 'worker', 'systemd' or 'none'/],
    [{ fresh: 'yes' }, /fresh must be true or false/],
  ])('new UnitPool(%o) is refused before anything starts', (options, message) => {
    const err = thrown(() => new UnitPool(options));
    expect(err).toBeInstanceOf(OptionError);
    expect(err.code).toBe('ERR_UNITPOOL_OPTION');
    expect(err.message).toMatch(message);
  });

  it('submit, map, stream and shutdown refuse misspelt options; what was submitted before still runs', async () => {
    const earlier = pool.submit((x) => x * 2, [21]);
    await expect(pool.submit((x) => x, [1], { timout: 100 })).rejects.toThrow(
      /unknown option ['"]timout['"]; did you mean ['"]timeout['"]\?/,
    );
    await expect(pool.submit((x) => x, [1], { timeout: '100' })).rejects.toBeInstanceOf(OptionError);
    expect(() => pool.map((x) => x, [1, 2], { chunkSize: 10 })).toThrow(
      /unknown option ['"]chunkSize['"]; did you mean ['"]chunksize['"]\?/,
    );
    expect(() => pool.stream(async function* () {}, [], { windw: 4 })).toThrow(/did you mean ['"]window['"]\?/);
    await expect(pool.shutdown({ wiat: true })).rejects.toThrow(/did you mean ['"]wait['"]\?/);
    expect(await earlier).toBe(42);
    expect(await pool.submit(() => 'still open')).toBe('still open');
  });

  it("map over two iterables zips them, the shortest wins (Python's map)", async () => {
    const out = [];
    for await (const y of pool.map((a, b) => a + b, [1, 2, 3], [10, 20])) out.push(y);
    expect(out).toEqual([11, 22]);
  });

  it('map over three iterables, one of them async, with options after them', async () => {
    async function* letters() {
      yield* ['a', 'b', 'c', 'd'];
    }
    const out = [];
    for await (const y of pool.map((n, s, t) => `${n}${s}${t}`, [1, 2, 3], letters(), new Set(['x', 'y', 'z']), {
      chunksize: 2,
    }))
      out.push(y);
    expect(out).toEqual(['1ax', '2by', '3cz']);
  });

  it('map over something that is not iterable is refused, saying how to call it', () => {
    const err = thrown(() => pool.map((x) => x, 5));
    expect(err).toBeInstanceOf(OptionError);
    expect(err.message).toMatch(/items must be iterable or async iterable/);
    expect(err.expected).toMatch(/map\(fn, items\[, moreItems\.\.\.\]\[, options\]\)/);
  });
});
