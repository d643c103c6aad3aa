// bench/cluster.mjs's local baseline, run inside `unitpool sandbox`: one UnitPool on this machine, the same
// no-op task. Prints one JSON line: its sequential round trip in µs, p50 and p99.
import { UnitPool } from '../dist/src/index.js';
import { percentile } from './cluster-stats.mjs';

const count = Number(process.argv[2]);
const jobs = new URL('./cluster-jobs/jobs.mjs', import.meta.url);
const pool = new UnitPool({ maxWorkers: 1 });
const noop = { module: jobs, name: 'noop' };
for (let i = 0; i < 200; i++) await pool.submit(noop, [i]);
const times = [];
for (let i = 0; i < count; i++) {
  const t = performance.now();
  await pool.submit(noop, [i]);
  times.push((performance.now() - t) * 1000);
}
await pool.shutdown();
process.stdout.write(JSON.stringify({ p50: percentile(times, 0.5), p99: percentile(times, 0.99) }) + '\n');
