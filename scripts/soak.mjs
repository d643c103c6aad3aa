// Soak: many pools created and destroyed in sequence, then a million tiny tasks through map(); at the end no unit,
// process, fd or cgroup may be left, and the parent's RSS may have grown by less than 50 MB.
//   npm run soak             (200 pools, 1,000,000 tasks)
//   npm run soak -- --short  (20 pools, 100,000 tasks: what CI runs)
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { UnitPool } from '../dist/src/index.js';
import { SystemdBus } from '../dist/src/unit/bus.js';

const short = process.argv.includes('--short');
const POOLS = short ? 20 : 200;
const TASKS = short ? 100_000 : 1_000_000;
const RSS_LIMIT = 50 * 1024 * 1024;

const gc = () => globalThis.gc?.();
const fds = () => readdirSync('/proc/self/fd').length;
const rss = () => process.memoryUsage().rss;

async function units() {
  const bus = await SystemdBus.connect('system');
  try {
    const [list] = await bus.call('/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager', 'ListUnitsByPatterns', 'asas', [[], ['unitpool-*']]);
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
      if (/worker-entry\/(supervisor|worker)\.js/.test(cmd)) left.push(`${pid}: ${cmd.replaceAll('\0', ' ').slice(0, 120)}`);
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

for (let i = 0; i < POOLS; i++) {
  const pool = new UnitPool({ maxWorkers: 1 });
  if ((await pool.submit((x) => x + 1, [i])) !== i + 1) throw new Error(`pool ${i} returned a wrong result`);
  await pool.shutdown();
  if ((i + 1) % 50 === 0) console.log(`  ${i + 1} pools, rss +${((rss() - before.rss) / 1e6).toFixed(1)} MB, fds ${fds()}`);
}

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
    if (++n % 250_000 === 0) console.log(`  ${n.toLocaleString()} tasks, rss +${((rss() - before.rss) / 1e6).toFixed(1)} MB`);
  }
  if (n !== TASKS || sum !== TASKS * (TASKS - 1)) throw new Error(`map lost or changed results: ${n} results, sum ${sum}`);
  console.log(`  map: ${((TASKS / (performance.now() - tMap)) * 1000).toFixed(0)} items/s`);
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
console.log(`soak: ${((performance.now() - t0) / 1000).toFixed(1)} s, rss +${(growth / 1e6).toFixed(1)} MB, fds ${before.fds} -> ${after.fds}`);
if (problems.length) {
  console.error(`soak FAILED:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('soak: nothing left behind');
