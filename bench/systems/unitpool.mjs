// unitpool as a user would use it: module references to the shared task functions, pool.map for map.
// UNITPOOL_BENCH_DIST points at the build to measure (run.mjs sets it to a snapshot of dist/ taken when the
// run starts, so a rebuild during the run changes nothing; set it yourself to measure a prototype build).
import { pathToFileURL } from 'node:url';

const dist = process.env.UNITPOOL_BENCH_DIST
  ? pathToFileURL(`${process.env.UNITPOOL_BENCH_DIST}/`).href
  : new URL('../../dist/', import.meta.url).href;
const { UnitPool } = await import(new URL('src/index.js', dist).href);

const TASKS = new URL('../workers/tasks.mjs', import.meta.url).href;
const FNS = Object.fromEntries(
  ['noop', 'echo', 'double', 'doubleChunk', 'doubleEach', 'hash'].map((name) => [name, { module: TASKS, name }]),
);

/**
 * variant: 'none' (no properties), 'untrusted' (the preset: a unit per worker), 'untrusted-pool' (the preset in one
 * unit for the pool), 'fresh' (the preset, every task in a fresh process), or 'cpuquota' (CPUQuota=50% only).
 */
export async function createUnitpool({ workers = 2, variant = 'none', maxFrame } = {}) {
  const options = { maxWorkers: workers };
  if (variant === 'untrusted') options.preset = 'untrusted';
  else if (variant === 'untrusted-pool') Object.assign(options, { preset: 'untrusted', isolation: 'pool' });
  else if (variant === 'fresh') Object.assign(options, { preset: 'untrusted', fresh: true });
  else if (variant === 'cpuquota') options.properties = { CPUQuota: '50%' };
  else if (variant !== 'none') throw new Error(`unknown unitpool variant ${variant}`);
  if (maxFrame !== undefined) options.maxFrame = maxFrame;
  const pool = new UnitPool(options);
  const call = (name, arg) => pool.submit(FNS[name], arg === undefined ? [] : [arg]);
  return {
    pool,
    call,
    map: (items, chunksize, more = {}) => pool.map(FNS.double, items, { chunksize, ...more }),
    stream: (items) => pool.stream(FNS.doubleEach, [items], { window: 1024 }),
    close: () => pool.shutdown(),
  };
}
