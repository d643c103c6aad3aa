// Soak: many pools created and destroyed in sequence, then many tiny tasks through map(); at the end no unit,
// process, fd or cgroup may be left, and the parent's RSS may have grown by less than 50 MB. It also prints the
// figures issue 17 asks about, for a note to quote: the RSS slope per pool created and destroyed once the first
// few are done (least squares over pools 10..N, each sampled after a GC), and the RSS at the end of the first
// fifth of the tasks (the 2nd million of 10 million) against the end, with its slope per million tasks.
//   npm run soak                          (200 pools, 1,000,000 tasks)
//   npm run soak -- --short               (30 pools, 100,000 tasks: what CI runs)
//   npm run soak -- --tasks 10M --pools 500
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { UnitPool } from '../dist/src/index.js';
import { SystemdBus } from '../dist/src/unit/bus.js';

const args = process.argv.slice(2);
/** `--name N` as a positive integer (10000000, 10_000_000, 10M and 500k all read). */
function count(name, fallback) {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const m = /^(\d[\d_,]*)([kM]?)$/.exec(args[i + 1] ?? '');
  const n = m ? Number(m[1].replace(/[_,]/g, '')) * { '': 1, k: 1e3, M: 1e6 }[m[2]] : NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(
      `soak: ${name} takes a positive count (e.g. ${name} 10000000 or 10M), got ${args[i + 1] ?? 'nothing'}`,
    );
  return n;
}
const short = args.includes('--short');
const POOLS = count('--pools', short ? 30 : 200);
const TASKS = count('--tasks', short ? 100_000 : 1_000_000);
const RSS_LIMIT = 50 * 1024 * 1024;
const SLOPE_FROM = 10; // pools before this one warm up what Node and the pool keep once (lazy modules, caches)
const MARK = Math.ceil(TASKS / 5); // the 2nd million of 10 million: from here on, RSS should be flat

const gc = () => globalThis.gc?.();
const fds = () => readdirSync('/proc/self/fd').length;
const rss = () => process.memoryUsage().rss;
const MB = (bytes) => (bytes / 1e6).toFixed(1);
const settled = () => (gc(), rss());

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxy / sxx;
}

async function units() {
  const bus = await SystemdBus.connect('system');
  try {
    const [list] = await bus.call(
      '/org/freedesktop/systemd1',
      'org.freedesktop.systemd1.Manager',
      'ListUnitsByPatterns',
      'asas',
      [[], ['unitpool-*']],
    );
    return list.map((u) => u[0]).filter((n) => n.endsWith('.service'));
  } finally {
    bus.close();
  }
}

/** Unit cgroups left in any hierarchy (system.slice/unitpool-*.service). */
function cgroups() {
  const left = [];
  for (const h of ['', ...readdirSync('/sys/fs/cgroup')]) {
    const dir = `/sys/fs/cgroup/${h}/system.slice`.replace('//', '/');
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) if (name.startsWith('unitpool-')) left.push(`${dir}/${name}`);
  }
  return left;
}

/** Our supervisor and worker processes still alive. */
function processes() {
  const left = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (/worker-entry\/(supervisor|worker)\.js/.test(cmd))
        left.push(`${pid}: ${cmd.replaceAll('\0', ' ').slice(0, 120)}`);
    } catch {
      /* gone */
    }
  }
  return left;
}

const t0 = performance.now();
// One pool first, so that what Node and its libraries open once, lazily (and keep), is not counted as a leak.
{
  const warm = new UnitPool({ maxWorkers: 1 });
  await warm.submit(() => 0);
  await warm.shutdown();
}
gc();
const before = { rss: rss(), fds: fds() };
console.log(`soak: ${POOLS} pools, then ${TASKS.toLocaleString()} tasks through map()`);

const poolRss = []; // [pool number, RSS after it was destroyed and a GC]
for (let i = 1; i <= POOLS; i++) {
  const pool = new UnitPool({ maxWorkers: 1 });
  if ((await pool.submit((x) => x + 1, [i])) !== i + 1) throw new Error(`pool ${i} returned a wrong result`);
  await pool.shutdown();
  poolRss.push([i, settled()]);
  if (i % 50 === 0) console.log(`  ${i} pools, rss +${MB(rss() - before.rss)} MB, fds ${fds()}`);
}

const taskRss = []; // [tasks done, RSS after a GC], from the mark on
const every = Math.max(10_000, Math.ceil(TASKS / 50));
const progress = TASKS >= 4_000_000 ? 1_000_000 : 250_000;
let mapRate;
{
  const pool = new UnitPool({ maxWorkers: 2 });
  let n = 0;
  let sum = 0;
  function* items() {
    for (let i = 0; i < TASKS; i++) yield i;
  }
  const tMap = performance.now();
  for await (const y of pool.map((x) => x * 2, items(), { chunksize: 500 })) {
    sum += y;
    if (++n >= MARK && (n === MARK || n % every === 0 || n === TASKS)) taskRss.push([n, settled()]);
    if (n % progress === 0) console.log(`  ${n.toLocaleString()} tasks, rss +${MB(rss() - before.rss)} MB`);
  }
  if (n !== TASKS || sum !== TASKS * (TASKS - 1))
    throw new Error(`map lost or changed results: ${n} results, sum ${sum}`);
  mapRate = (TASKS / (performance.now() - tMap)) * 1000;
  console.log(`  map: ${mapRate.toFixed(0)} items/s (a GC at every RSS sample included)`);
  await pool.shutdown();
}

gc();
await new Promise((r) => setTimeout(r, 300));
gc();
const after = { rss: rss(), fds: fds(), units: await units(), cgroups: cgroups(), processes: processes() };
const growth = after.rss - before.rss;
const problems = [];
if (growth >= RSS_LIMIT) problems.push(`RSS grew by ${(growth / 1e6).toFixed(1)} MB (limit 50 MB)`);
if (after.fds > before.fds) problems.push(`${after.fds - before.fds} fds left open`);
if (after.units.length) problems.push(`units left: ${after.units.join(', ')}`);
if (after.cgroups.length) problems.push(`cgroups left: ${after.cgroups.join(', ')}`);
if (after.processes.length) problems.push(`processes left: ${after.processes.join('; ')}`);
console.log(
  `soak: ${((performance.now() - t0) / 1000).toFixed(1)} s, rss +${MB(growth)} MB, fds ${before.fds} -> ${after.fds}`,
);

// The figures (RSS after a GC, relative to the RSS after the warm-up pool).
const tail = poolRss.filter(([i]) => i >= SLOPE_FROM);
const at = (list, k) => list.find(([x]) => x === k)?.[1];
const [markRss, endRss] = [taskRss[0]?.[1], taskRss.at(-1)?.[1]];
const figures = {
  pools: POOLS,
  poolRssMB: { at10: (at(poolRss, SLOPE_FROM) - before.rss) / 1e6, atEnd: (poolRss.at(-1)[1] - before.rss) / 1e6 },
  mbPerPool: tail.length >= 3 ? slope(tail) / 1e6 : NaN,
  tasks: TASKS,
  mark: MARK,
  taskRssMB: { atMark: (markRss - before.rss) / 1e6, atEnd: (endRss - before.rss) / 1e6 },
  mbPerMillionTasks: slope(taskRss), // bytes per task = MB per million tasks
  mapItemsPerSec: Math.round(mapRate),
};
const f1 = (v) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(1)}` : 'n/a');
const f3 = (v) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a (too few samples)');
console.log(
  [
    'soak figures (RSS after a GC, growth over the RSS after one warm-up pool):',
    `  pools: ${f1(figures.poolRssMB.at10)} MB after pool ${SLOPE_FROM}, ${f1(figures.poolRssMB.atEnd)} MB after pool ${POOLS}; ` +
      `slope over pools ${SLOPE_FROM}..${POOLS}: ${f3(figures.mbPerPool)} MB per pool created and destroyed`,
    `  tasks: ${f1(figures.taskRssMB.atMark)} MB at task ${MARK.toLocaleString()} (the end of the first fifth), ${f1(figures.taskRssMB.atEnd)} MB at task ${TASKS.toLocaleString()}: ` +
      `${f1(figures.taskRssMB.atEnd - figures.taskRssMB.atMark)} MB between; slope ${f3(figures.mbPerMillionTasks)} MB per million tasks (${taskRss.length} samples)`,
    `@@soak ${JSON.stringify(figures)}`,
  ].join('\n'),
);
if (problems.length) {
  console.error(`soak FAILED:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('soak: nothing left behind');
