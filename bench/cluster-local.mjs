// bench/cluster.mjs's local baseline, run inside `unitpool sandbox`: one UnitPool on this machine, the same
// tasks. Prints one JSON line: the round trip of a no-op task (µs, p50 and p99) and the CPU seconds one work
// task takes uncapped.
import { UnitPool } from '../dist/src/index.js';
import { percentile } from './cluster-stats.mjs';

const [count, rounds] = process.argv.slice(2).map(Number);
const jobs = new URL('./cluster-jobs/jobs.mjs', import.meta.url);
const pool = new UnitPool({ maxWorkers: 1 });
const noop = { module: jobs, name: 'noop' };
const work = { module: jobs, name: 'work' };
for (let i = 0; i < 200; i++) await pool.submit(noop, [i]);
const times = [];
for (let i = 0; i < count; i++) {
  const t = performance.now();
  await pool.submit(noop, [i]);
  times.push((performance.now() - t) * 1000);
}
await pool.submit(work, [rounds]);
const t = performance.now();
for (let i = 0; i < 5; i++) await pool.submit(work, [rounds]);
const workSeconds = (performance.now() - t) / 5000;
await pool.shutdown();
process.stdout.write(JSON.stringify({ p50: percentile(times, 0.5), p99: percentile(times, 0.99), workSeconds }) + '\n');
