// The workloads, run against one Node system's adapter ({ call(name, arg), map(items, chunksize), close() }).
// bench/peers/ppe.py implements the same ones for Python's ProcessPoolExecutor.
import { cpuUsageReader, throttleReader } from './cgroup.mjs';

const now = () => performance.now();

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

async function warm(sys, n) {
  const all = [];
  for (let i = 0; i < n; i++) all.push(sys.call('noop'));
  await Promise.all(all);
}

/** 1. n no-op submits, all in flight: tasks per second. */
export async function throughput(sys, { n, warmup }) {
  await warm(sys, warmup);
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const all = new Array(n);
  for (let i = 0; i < n; i++) all[i] = sys.call('noop');
  await Promise.all(all);
  const ms = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { tasksPerSec: n / (ms / 1000), ms, parentCpuMs: (cpu.user + cpu.system) / 1000 };
}

/** 2. one no-op at a time: round-trip latency percentiles, in microseconds. */
export async function roundtrip(sys, { n, warmup }) {
  for (let i = 0; i < warmup; i++) await sys.call('noop');
  const us = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = now();
    await sys.call('noop');
    us[i] = (now() - t) * 1000;
  }
  us.sort();
  return { p50us: percentile(us, 50), p99us: percentile(us, 99), meanUs: us.reduce((a, b) => a + b, 0) / n };
}

/**
 * map()'s shapes on the same items (unitpool only): in order, as chunks complete (ordered: false), and as one
 * stream() task whose generator yields every item doubled (one worker, backpressure across the boundary).
 */
export async function shapes(sys, { n, chunksize }) {
  await warm(sys, 20);
  const rate = async (make, size = n) => {
    const items = Array.from({ length: size }, (_, i) => i);
    const t0 = now();
    let sum = 0;
    let count = 0;
    for await (const v of make(items)) {
      sum += v;
      count++;
    }
    const ms = now() - t0;
    if (count !== size || sum !== size * (size - 1)) throw new Error(`got ${count} items summing to ${sum}`);
    return size / (ms / 1000);
  };
  const shapes = {
    ordered: (items) => sys.map(items, chunksize),
    unordered: (items) => sys.map(items, chunksize, { ordered: false }),
    stream: (items) => sys.stream(items),
  };
  // Each shape once on a tenth of the items first, so that none is measured with the code paths still cold.
  for (const make of Object.values(shapes)) await rate(make, Math.ceil(n / 10));
  return {
    orderedPerSec: await rate(shapes.ordered),
    unorderedPerSec: await rate(shapes.unordered),
    streamPerSec: await rate(shapes.stream),
  };
}

/** 3. map over n small items (x => 2x) in chunks: items per second. */
export async function map(sys, { n, chunksize }) {
  await warm(sys, 20);
  const items = Array.from({ length: n }, (_, i) => i);
  const t0 = now();
  let sum = 0;
  let count = 0;
  for await (const v of sys.map(items, chunksize)) {
    sum += v;
    count++;
  }
  const ms = now() - t0;
  if (count !== n || sum !== n * (n - 1)) throw new Error(`map returned ${count} items summing to ${sum}`);
  return { itemsPerSec: n / (ms / 1000), ms };
}

/** 4. a Buffer of `bytes` echoed back `n` times: MiB of argument per second of round trip (median). */
export async function echo(sys, { bytes, n }) {
  const warmBuf = Buffer.alloc(1024 * 1024, 1);
  await sys.call('echo', warmBuf);
  await sys.call('echo', warmBuf);
  const buf = Buffer.alloc(bytes, 0xab);
  const rates = [];
  for (let i = 0; i < n; i++) {
    const t0 = now();
    const back = await sys.call('echo', buf);
    const ms = now() - t0;
    if (back.byteLength !== bytes || back[bytes - 1] !== 0xab)
      throw new Error(`echo returned ${back.byteLength} bytes`);
    rates.push(bytes / 1048576 / (ms / 1000));
  }
  rates.sort((a, b) => a - b);
  return { mibPerSec: rates[Math.floor((rates.length - 1) / 2)], best: rates[rates.length - 1] };
}

/** 5. cold start: constructor to the first result of a no-op, `n` times (each closed before the next): median ms. */
export async function cold(create, { n = 1 } = {}) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t0 = now();
    const sys = await create();
    await sys.call('noop');
    samples.push(now() - t0);
    await sys.close();
  }
  samples.sort((a, b) => a - b);
  return { ms: samples[Math.floor((samples.length - 1) / 2)], samples };
}

/** 6. a CPU-bound batch (chained SHA-256) on a unitpool: wall time and the unit's measured CPU share. */
export async function cpu(sys, { tasks, rounds }) {
  // both workers up and the function loaded before the clock starts
  await Promise.all([sys.call('hash', 1), sys.call('hash', 1), sys.call('hash', 1), sys.call('hash', 1)]);
  const cg = sys.pool.unit.controlGroup;
  const usage = cpuUsageReader(cg);
  const throttle = throttleReader(cg);
  const th0 = throttle();
  const u0 = usage.read();
  const t0 = now();
  const all = [];
  for (let i = 0; i < tasks; i++) all.push(sys.call('hash', rounds));
  await Promise.all(all);
  const ms = now() - t0;
  const usedMs = (usage.read() - u0) / 1000;
  const th1 = throttle();
  return {
    ms,
    cpuShare: usedMs / ms, // CPUs busy on average: 1.0 = one whole CPU (CPUQuota=100%)
    cgroupCpuMs: usedMs,
    cgroupLayout: usage.layout,
    throttledPeriods: th0 && th1 ? th1.nrThrottled - th0.nrThrottled : undefined,
  };
}

/** 7. parent cost: n no-op tasks in windows of `window` in flight; CPU ms per 1,000 tasks, peak RSS growth. */
export async function parent(sys, { n, window }) {
  await warm(sys, window);
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  for (let done = 0; done < n; done += window) {
    const all = [];
    for (let i = 0; i < window; i++) all.push(sys.call('noop'));
    await Promise.all(all);
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  const ms = now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    cpuMsPer1k: (cpu.user + cpu.system) / 1000 / (n / 1000),
    rssGrowthMiB: (peak - rss0) / 1048576,
    rssMiB: peak / 1048576,
    ms,
  };
}

/**
 * 8. fresh processes (a pool with `fresh: true`): the latency of a no-op on a warm spare (each sample waits
 * `settleMs` first, so a fresh spare is up), and the sustained rate of `n` no-ops, each in a process of its own.
 */
export async function fresh(sys, { latencyN, settleMs, n }) {
  await sys.call('noop');
  const us = [];
  for (let i = 0; i < latencyN; i++) {
    await new Promise((r) => setTimeout(r, settleMs));
    const t = now();
    await sys.call('noop');
    us.push((now() - t) * 1000);
  }
  us.sort((a, b) => a - b);
  await new Promise((r) => setTimeout(r, settleMs));
  const t0 = now();
  const all = [];
  for (let i = 0; i < n; i++) all.push(sys.call('noop'));
  await Promise.all(all);
  const ms = now() - t0;
  return { warmP50us: percentile(us, 50), warmP99us: percentile(us, 99), tasksPerSec: n / (ms / 1000) };
}
