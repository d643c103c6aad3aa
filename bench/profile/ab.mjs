#!/usr/bin/env node
// A/B of unitpool builds: the same trials as bench/run.mjs, interleaved across builds (and the raw floor as a
// reference), medians over repetitions. For measuring a change before it lands: build a copy of dist/ with the
// change somewhere (e.g. bench/results/proto/<name>), then, under systemd (unitpool sandbox):
//   node bench/profile/ab.mjs --reps 3 --workloads throughput,roundtrip base=dist proto=bench/results/proto/x
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const bench = join(here, '..');
const argv = process.argv.slice(2);
const opt = (n, d) => (argv.includes(n) ? argv[argv.indexOf(n) + 1] : d);
const reps = Number(opt('--reps', 3));
const workloads = opt('--workloads', 'throughput,roundtrip,map').split(',');
const quick = argv.includes('--quick');
const builds = argv.filter((a) => a.includes('=') && !a.startsWith('--')).map((a) => a.split('='));
if (builds.length === 0) {
  console.error('usage: ab.mjs [--reps N] [--workloads a,b] [--quick] name=distDir ...');
  process.exit(2);
}
const PARAMS = {
  throughput: quick ? { n: 20000, warmup: 1000 } : { n: 100000, warmup: 2000 },
  roundtrip: { n: quick ? 1000 : 5000, warmup: 200 },
  map: { n: quick ? 200000 : 1000000, chunksize: 1000 },
  echo: { bytes: quick ? 8 * 1048576 : 64 * 1048576 - 1024, n: 3 },
  parent: { n: 20000, window: 1000 },
  cold: { n: 3 },
};
const FIELD = {
  throughput: 'tasksPerSec',
  roundtrip: 'p50us',
  map: 'itemsPerSec',
  echo: 'mibPerSec',
  parent: 'cpuMsPer1k',
  cold: 'ms',
};

function trial(system, workload, dist) {
  return new Promise((res) => {
    const env = { ...process.env };
    if (dist) env.UNITPOOL_BENCH_DIST = resolve(dist);
    const child = spawn(
      process.execPath,
      [join(bench, 'trial.mjs'), system, workload, JSON.stringify({ workers: 2, ...PARAMS[workload] })],
      { stdio: ['ignore', 'pipe', 'inherit'], env },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', () => {
      const line = out.split('\n').find((l) => l.startsWith('@@result '));
      res(
        line
          ? JSON.parse(line.slice(9))
          : { error: out.slice(-300) || 'the trial printed no result (see its stderr above)' },
      );
    });
  });
}

const results = {};
const contestants = [['floor', null], ...builds];
for (let rep = 0; rep < reps; rep++) {
  for (const w of workloads) {
    const order = contestants.map((_, i) => contestants[(i + rep) % contestants.length]);
    for (const [name, dist] of order) {
      const r = await trial(name === 'floor' ? 'floor' : 'unitpool', w, dist);
      const v = r.error ? NaN : r[FIELD[w]];
      ((results[w] ??= {})[name] ??= []).push(v);
      console.error(
        `rep ${rep + 1} ${w} ${name}: ${r.error ? 'ERROR ' + String(r.error).slice(0, 200) : v.toFixed(1)}`,
      );
    }
  }
}
const med = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
console.log(`| build | ${workloads.map((w) => `${w} (${FIELD[w]})`).join(' | ')} |`);
console.log(`| --- | ${workloads.map(() => '---:').join(' | ')} |`);
for (const [name] of contestants) {
  console.log(
    `| ${name} | ${workloads
      .map((w) => {
        const xs = results[w][name];
        return `${med(xs).toFixed(1)} [${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}]`;
      })
      .join(' | ')} |`,
  );
}
